package fetchsession

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Kafka's defaults for the two broker settings.
const (
	// DefaultMaxSlots is max.incremental.fetch.session.cache.slots.
	DefaultMaxSlots = 1000
	// DefaultMinEviction is min.incremental.fetch.session.eviction.ms.
	DefaultMinEviction = 120 * time.Second
)

// Epochs with a meaning of their own (KIP-227).
const (
	// InitialEpoch is the epoch of a full fetch that asks for a new session.
	InitialEpoch int32 = 0
	// FinalEpoch is the epoch of a full fetch without a session (and of a session's close).
	FinalEpoch int32 = -1
)

// Config sizes a Cache.
type Config struct {
	// MaxSlots is max.incremental.fetch.session.cache.slots: the most sessions cached (Kafka's
	// default is DefaultMaxSlots; 0 or less: no sessions, every fetch is answered sessionless).
	MaxSlots int
	// MinEviction is min.incremental.fetch.session.eviction.ms: how long a session is safe from
	// eviction by a more valuable one after its creation, and how long it may sit idle before
	// any new session may take its slot (Kafka's default is DefaultMinEviction; 0: no protection).
	MinEviction time.Duration
	// NewID returns a candidate session ID (nil: random). IDs that are not positive or already in
	// use are drawn again; tests script them.
	NewID func() int32
}

// Stats is a snapshot of a Cache, for metrics.
type Stats struct {
	Sessions   int   // sessions cached (Kafka's NumIncrementalFetchSessions)
	Replicas   int   // of which replica fetchers' (privileged)
	Partitions int   // partitions across them (NumIncrementalFetchPartitionsCached)
	Evictions  int64 // sessions evicted for new ones since start (IncrementalFetchSessionEvictions)
	// Omitted counts the partitions left out of incremental responses since start: the
	// partitions sessions saved answering.
	Omitted int64
}

// Cache is the broker's fetch session cache. It is safe for concurrent use.
type Cache struct {
	cfg       Config
	evictions atomic.Int64
	omitted   atomic.Int64

	mu struct {
		sync.Mutex
		sessions map[int32]*session
	}
}

// NewCache returns an empty cache. Config{} caches nothing: pass DefaultMaxSlots and
// DefaultMinEviction for Kafka's defaults.
func NewCache(cfg Config) *Cache {
	if cfg.NewID == nil {
		cfg.NewID = func() int32 { return rand.Int32N(math.MaxInt32) + 1 }
	}
	c := &Cache{cfg: cfg}
	c.mu.sessions = map[int32]*session{}
	return c
}

// Stats returns the cache's current figures.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Sessions: len(c.mu.sessions), Evictions: c.evictions.Load(), Omitted: c.omitted.Load()}
	for _, s := range c.mu.sessions {
		st.Partitions += int(s.size.Load())
		if s.privileged {
			st.Replicas++
		}
	}
	return st
}

func (c *Cache) lookup(id int32) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.sessions[id]
}

// remove drops session id; it reports whether there was one.
func (c *Cache) remove(id int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.mu.sessions[id]
	delete(c.mu.sessions, id)
	return ok
}

// create adds a session for a full fetch of size partitions, evicting another if the cache is
// full and one may go; it returns nil if there is no slot for it.
func (c *Cache) create(privileged bool, size int, usesTopicIDs bool, now time.Time) *session {
	if c.cfg.MaxSlots <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.sessions) >= c.cfg.MaxSlots && !c.evictLocked(privileged, size, now) {
		return nil
	}
	var id int32
	// NB: bounded: with at most MaxSlots IDs taken out of 2^31, a clash is rare; a scripted
	// NewID that keeps clashing gets no session rather than a loop.
	for range 64 {
		cand := c.cfg.NewID()
		if _, taken := c.mu.sessions[cand]; cand > 0 && !taken {
			id = cand
			break
		}
	}
	if id == 0 {
		return nil
	}
	s := newSession(id, privileged, usesTopicIDs, now)
	c.mu.sessions[id] = s
	return s
}

// evictLocked makes room for a new session as Kafka's FetchSessionCache.tryEvict does: the least
// recently used session goes if it has been idle longer than MinEviction; otherwise the least
// valuable evictable session goes if the new one is worth more. Evictable are sessions created
// more than MinEviction ago and, when the new session is a replica's, every consumer's session.
// Worth is ordered by privilege (replica over consumer), then by partition count; a tie keeps the
// cached session.
//
// NB: Kafka files sessions into its eviction order when they are used, so a session's age is
// judged as of its last use there; here it is judged now, with one scan of at most MaxSlots
// sessions, and only when the cache is full and a session is to be created.
func (c *Cache) evictLocked(privileged bool, size int, now time.Time) bool {
	var lru, least *session
	for _, s := range c.mu.sessions {
		if lru == nil || s.lastUsed.Load() < lru.lastUsed.Load() ||
			(s.lastUsed.Load() == lru.lastUsed.Load() && s.id < lru.id) {
			lru = s
		}
		old := now.Sub(s.creation) > c.cfg.MinEviction
		if !old && !(privileged && !s.privileged) {
			continue
		}
		if least == nil || s.lessValuable(least) {
			least = s
		}
	}
	victim := (*session)(nil)
	switch {
	case lru != nil && now.UnixNano()-lru.lastUsed.Load() > int64(c.cfg.MinEviction):
		victim = lru
	case least != nil && worthMore(privileged, size, least):
		victim = least
	}
	if victim == nil {
		return false
	}
	delete(c.mu.sessions, victim.id)
	c.evictions.Add(1)
	return true
}

// worthMore reports whether a new session (privileged, size) is worth more than s.
func worthMore(privileged bool, size int, s *session) bool {
	if privileged != s.privileged {
		return privileged
	}
	return int64(size) > int64(s.size.Load())
}
