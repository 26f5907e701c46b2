package streams

import "fmt"

// DefaultCacheMaxBytes is Kafka Streams' default statestore.cache.max.bytes: 10 MiB.
const DefaultCacheMaxBytes = 10 << 20

// cacheEntryOverhead is what a cached record is taken to cost besides its key and value bytes
// (the record, its map entry and slice slot).
const cacheEntryOverhead = 96

// cacheFlusher is a task's record cache as the task sees it: flushed on commit, dropped on close.
type cacheFlusher interface {
	flushCache() error
	dropCache()
}

// recordCache is one aggregation's record cache in one task (Kafka Streams' NamedCache): the
// latest update of each key not forwarded yet, in the order of each key's first update since
// the last flush. An update of a cached key replaces its record but keeps the old value of
// the first one, so that what goes downstream at the flush is the change since the last
// forwarded value. The cache is flushed when the task commits and when the App's caches
// together hold more than Config.CacheMaxBytes (then the cache being written flushes, as
// Kafka's evicts from the cache being written). It is used by its task's goroutine only.
//
// NB: the store is written at once, the cache only holds back forwarding: reads, interactive
// queries and commits of the store see every update.
type recordCache[K, V any] struct {
	t       *task
	index   map[string]int
	entries []cacheEntry[K, V]
	bytes   int64
	forward func(Record[K, V]) error
}

type cacheEntry[K, V any] struct {
	rec  Record[K, V]
	size int64
}

// cachedForward returns the forwarding function of an aggregation: through a new record cache
// of the task when caching is on for it, straight to next otherwise. The key given with each
// record identifies it in the cache (the serialised key, with the window for windowed keys);
// size is the serialised value's length.
func cachedForward[K, V any](t *task, n *node, next func(Record[K, V]) error) func(key []byte, r Record[K, V], size int) error {
	if t.app.cfg.CacheMaxBytes <= 0 || n.cachingDisabled {
		return func(_ []byte, r Record[K, V], _ int) error { return next(r) }
	}
	c := &recordCache[K, V]{t: t, index: map[string]int{}, forward: next}
	// NB: processors are instantiated children first; the task flushes its caches in the
	// reverse order, parents first, so an upstream flush still reaches a downstream cache
	// before that one flushes.
	t.caches = append(t.caches, c)
	return c.put
}

func (c *recordCache[K, V]) put(key []byte, r Record[K, V], size int) error {
	if i, ok := c.index[string(key)]; ok {
		e := &c.entries[i]
		r.old, r.hasOld = e.rec.old, e.rec.hasOld
		grow := int64(size) - (e.size - int64(len(key)) - cacheEntryOverhead)
		e.rec = r
		e.size += grow
		c.bytes += grow
		c.t.app.cacheBytes.Add(grow)
	} else {
		e := cacheEntry[K, V]{rec: r, size: int64(len(key)+size) + cacheEntryOverhead}
		c.index[string(key)] = len(c.entries)
		c.entries = append(c.entries, e)
		c.bytes += e.size
		c.t.app.cacheBytes.Add(e.size)
	}
	if c.t.app.cacheBytes.Load() > c.t.app.cfg.CacheMaxBytes {
		return c.flushCache()
	}
	return nil
}

// flushCache forwards the cached records, in the order their keys were first updated.
func (c *recordCache[K, V]) flushCache() error {
	if len(c.entries) == 0 {
		return nil
	}
	entries := c.entries
	c.dropCache()
	for _, e := range entries {
		if err := c.forward(e.rec); err != nil {
			return err
		}
	}
	return nil
}

// dropCache forgets the cached records (the task closes without committing).
func (c *recordCache[K, V]) dropCache() {
	c.t.app.cacheBytes.Add(-c.bytes)
	c.bytes, c.entries = 0, nil
	clear(c.index)
}

// flushCaches forwards what the task's record caches hold, upstream caches first. The task's
// outputs and stores are committed after it.
func (t *task) flushCaches() error {
	for i := len(t.caches) - 1; i >= 0; i-- {
		if err := t.caches[i].flushCache(); err != nil {
			return fmt.Errorf("streams: task %s: flush record cache: %w", t.id, err)
		}
	}
	return nil
}
