package statestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// timeIndexed is what window and session stores share: a key-value store whose writes also
// maintain a local index by time (a window's start, a session's end) under nsIndex, the largest
// time seen, and retention relative to it, enforced by deleting whole expired entries through
// the index. All methods are safe for concurrent use.
type timeIndexed struct {
	kv        *KeyValueStore
	what      string // "window store", "session store": for errors
	retention int64  // milliseconds

	mu struct {
		sync.Mutex
		// observed is the largest time put or restored, -1 if none.
		observed int64
		// expiredBefore: every entry whose time is before it has been removed.
		expiredBefore int64
	}
	droppedExpired atomic.Int64
}

// openTimeIndexed opens the key-value store of a time-indexed store (changelog created with
// WindowedChangelogTopicSpec) and reads the largest indexed time: the 8 bytes after the
// namespace byte of the index's last key, which is at least minIndexKey bytes long.
func openTimeIndexed(ctx context.Context, what string, opts Options, retention time.Duration,
	index func(b *leveldb.Batch, key []byte, tombstone bool), nsIndex byte, minIndexKey int) (*timeIndexed, error) {
	if retention <= 0 {
		return nil, fmt.Errorf("statestore: %s %s: retention %s must be positive", what, opts.Name, retention)
	}
	spec := func(topic string, partitions int32) InternalTopic {
		return WindowedChangelogTopicSpec(topic, partitions, retention)
	}
	kv, err := open(ctx, opts, spec, index)
	if err != nil {
		return nil, err
	}
	s := &timeIndexed{kv: kv, what: what, retention: retention.Milliseconds()}
	s.mu.observed = -1
	it := kv.db.NewIterator(util.BytesPrefix([]byte{nsIndex}), nil)
	if it.Last() && len(it.Key()) >= minIndexKey {
		s.mu.observed = int64(binary.BigEndian.Uint64(it.Key()[1:9]))
	}
	it.Release()
	if err := it.Error(); err != nil {
		kv.Close()
		return nil, fmt.Errorf("statestore: %s %s: read time index: %w", what, opts.Name, err)
	}
	return s, nil
}

// ObservedTime is the largest time (window start, session end) put or restored, -1 if none.
func (s *timeIndexed) ObservedTime() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.observed
}

// DroppedExpired counts puts dropped because their entry had already expired.
func (s *timeIndexed) DroppedExpired() int64 { return s.droppedExpired.Load() }

// admit decides a put at time ts: drop it (expired, counted), or take it, in which case advanced
// says ts moved the observed time forward (the caller then expires).
func (s *timeIndexed) admit(ts int64) (drop, advanced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.observed >= 0 && ts < s.mu.observed-s.retention {
		s.droppedExpired.Add(1)
		return true, false
	}
	if ts > s.mu.observed {
		s.mu.observed = ts
		return false, true
	}
	return false, false
}

// expired reports whether entries at time ts have been removed by retention.
func (s *timeIndexed) expired(ts int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ts < s.mu.expiredBefore
}

// expireWith removes, locally and without changelog tombstones, every entry whose time is
// before observed - retention: rangeOf gives the index range of times [from, cutoff), dataKeyOf
// the data key an index key names (see KeyValueStore.deleteIndexed), timeOf the time of a store
// key (for pending updates of a buffered store).
func (s *timeIndexed) expireWith(rangeOf func(from, cutoff int64) *util.Range, dataKeyOf func(indexKey []byte) []byte,
	timeOf func(key []byte) (int64, bool)) error {
	s.mu.Lock()
	if s.mu.observed < 0 {
		s.mu.Unlock()
		return nil
	}
	from, cutoff := s.mu.expiredBefore, s.mu.observed-s.retention
	if cutoff <= from {
		s.mu.Unlock()
		return nil
	}
	s.mu.expiredBefore = cutoff
	s.mu.Unlock()
	if s.kv.closed.Load() {
		return ErrClosed
	}
	s.kv.dropBufferedBefore(cutoff, timeOf)
	if err := s.kv.deleteIndexed(rangeOf(from, cutoff), dataKeyOf); err != nil {
		return fmt.Errorf("statestore: %s %s: expire: %w", s.what, s.kv.Name(), err)
	}
	return nil
}

// Store is the underlying key-value store.
func (s *timeIndexed) Store() *KeyValueStore { return s.kv }

// Flush is KeyValueStore.Flush.
func (s *timeIndexed) Flush(ctx context.Context) error { return s.kv.Flush(ctx) }

// Close is KeyValueStore.Close.
func (s *timeIndexed) Close() error { return s.kv.Close() }
