package statestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// nsSessionIndex holds the session store's local end-time index: nsSessionIndex + session end
// (8 bytes big-endian) + session start (8 bytes) + key → empty. Like the window store's time
// index it is not logged: it is rebuilt from the data as records are written or restored.
const nsSessionIndex byte = 's'

// SessionStore keeps one value per key and session, a session being a time interval
// [start, end] (milliseconds, both inclusive, as in Kafka Streams). A record's key is the user
// key followed by the session end and the session start, each 8 big-endian bytes, locally and
// in the changelog: Kafka Streams' SessionKeySchema, so a Java tool reading the changelog
// decodes it. Sessions whose end is more than the retention period behind the largest session
// end put so far (the store's observed time) are dropped locally; the changelog, with
// cleanup.policy=compact,delete and retention.ms = retention + 1 day, forgets them on its own,
// so expiry sends no tombstones.
//
// The retention must cover inactivity gap plus grace. All methods are safe for concurrent use.
type SessionStore struct {
	// timeIndexed gives Store (keys are SessionKeys), ObservedTime, DroppedExpired, Flush, Close.
	*timeIndexed
}

// OpenSessionStore opens a session store with the given retention; see Open for opts. With
// opts.ChangelogPartitions > 0 the changelog is created with WindowedChangelogTopicSpec.
func OpenSessionStore(ctx context.Context, opts Options, retention time.Duration) (*SessionStore, error) {
	ti, err := openTimeIndexed(ctx, "session store", opts, retention, indexSession, nsSessionIndex, 17)
	if err != nil {
		return nil, err
	}
	s := &SessionStore{timeIndexed: ti}
	if err := s.expire(); err != nil {
		ti.kv.Close()
		return nil, err
	}
	return s, nil
}

// SessionKey is the stored and logged key of key's session [start, end]: the key bytes, then
// end and start as 8 big-endian bytes each (Kafka's SessionKeySchema).
func SessionKey(key []byte, start, end int64) []byte {
	k := make([]byte, 0, len(key)+16)
	k = append(k, key...)
	k = binary.BigEndian.AppendUint64(k, uint64(end))
	return binary.BigEndian.AppendUint64(k, uint64(start))
}

// SplitSessionKey splits a SessionKey into user key, session start and session end.
func SplitSessionKey(sessionKey []byte) (key []byte, start, end int64, err error) {
	if len(sessionKey) < 16 {
		return nil, 0, 0, fmt.Errorf("statestore: session key of %d bytes is shorter than 16", len(sessionKey))
	}
	n := len(sessionKey) - 16
	end = int64(binary.BigEndian.Uint64(sessionKey[n:]))
	start = int64(binary.BigEndian.Uint64(sessionKey[n+8:]))
	return sessionKey[:n], start, end, nil
}

func sessionIndexKey(key []byte, start, end int64) []byte {
	k := make([]byte, 0, 17+len(key))
	k = append(k, nsSessionIndex)
	k = binary.BigEndian.AppendUint64(k, uint64(end))
	k = binary.BigEndian.AppendUint64(k, uint64(start))
	return append(k, key...)
}

// indexSession maintains the end-time index for a written or restored session record. A
// changelog record too short to be a session key is not indexed (it never panics on topic
// input).
func indexSession(b *leveldb.Batch, sessionKey []byte, tombstone bool) {
	key, start, end, err := SplitSessionKey(sessionKey)
	if err != nil {
		return
	}
	if tombstone {
		b.Delete(sessionIndexKey(key, start, end))
	} else {
		b.Put(sessionIndexKey(key, start, end), nil)
	}
}

// Put stores value for key's session [start, end] (ms, 0 <= start <= end). A put of a session
// that has already expired is dropped and counted (DroppedExpired), not an error.
func (s *SessionStore) Put(key []byte, start, end int64, value []byte) error {
	if start < 0 || end < start {
		return fmt.Errorf("statestore: session store %s: invalid session [%d, %d]", s.kv.Name(), start, end)
	}
	drop, advanced := s.admit(end)
	if drop {
		return nil
	}
	if err := s.kv.Put(SessionKey(key, start, end), value); err != nil {
		return err
	}
	if advanced {
		return s.expire()
	}
	return nil
}

// Remove deletes key's session [start, end] and sends a tombstone to the changelog.
func (s *SessionStore) Remove(key []byte, start, end int64) error {
	return s.kv.Delete(SessionKey(key, start, end))
}

// FetchSession returns the value of key's session [start, end], if there is one.
func (s *SessionStore) FetchSession(key []byte, start, end int64) ([]byte, bool, error) {
	if s.expired(end) {
		return nil, false, nil
	}
	return s.kv.Get(SessionKey(key, start, end))
}

// SessionIterator walks sessions. Key and Value are valid until the next call to Next. The
// caller must Close it.
type SessionIterator interface {
	Iterator
	// Start is the current session's start (ms, inclusive).
	Start() int64
	// End is the current session's end (ms, inclusive).
	End() int64
}

// FindSessions iterates over key's sessions that end at or after earliestEnd and start at or
// before latestStart, in end order then start order. These are the sessions a record at time t
// merges with when earliestEnd = t - gap and latestStart = t + gap.
func (s *SessionStore) FindSessions(key []byte, earliestEnd, latestStart int64) SessionIterator {
	earliestEnd = max(earliestEnd, 0)
	if latestStart < 0 {
		return &keySessionIterator{it: &errIterator{}}
	}
	from := SessionKey(key, 0, earliestEnd)
	// NB: the range also holds longer keys that share key as a prefix; only entries exactly
	// len(key)+16 long belong to key.
	limit := append(SessionKey(key, math.MaxInt64, math.MaxInt64), 0)
	return &keySessionIterator{it: s.kv.Range(from, limit), keyLen: len(key), s: s, latestStart: latestStart}
}

// Fetch iterates over every session of key.
func (s *SessionStore) Fetch(key []byte) SessionIterator {
	return s.FindSessions(key, 0, math.MaxInt64)
}

type keySessionIterator struct {
	it          Iterator
	keyLen      int
	s           *SessionStore
	latestStart int64
	start, end  int64
}

func (i *keySessionIterator) Next() bool {
	for i.it.Next() {
		k := i.it.Key()
		if len(k) != i.keyLen+16 {
			continue
		}
		i.end = int64(binary.BigEndian.Uint64(k[i.keyLen:]))
		i.start = int64(binary.BigEndian.Uint64(k[i.keyLen+8:]))
		if i.start > i.latestStart || i.s.expired(i.end) {
			continue
		}
		return true
	}
	return false
}
func (i *keySessionIterator) Key() []byte   { return i.it.Key()[:i.keyLen] }
func (i *keySessionIterator) Value() []byte { return i.it.Value() }
func (i *keySessionIterator) Start() int64  { return i.start }
func (i *keySessionIterator) End() int64    { return i.end }
func (i *keySessionIterator) Err() error    { return i.it.Err() }
func (i *keySessionIterator) Close() error  { return i.it.Close() }

// FindSessionsByEnd iterates over every key's sessions whose end is in [earliestEnd, latestEnd],
// in end order, then start order, then key order. Values are read through the end-time index.
// On a buffered store (Options.WriteCacheEntries with TrackPositions) it sees committed writes
// only: the time index is written at Commit.
func (s *SessionStore) FindSessionsByEnd(earliestEnd, latestEnd int64) SessionIterator {
	earliestEnd = max(earliestEnd, 0)
	if s.kv.closed.Load() {
		return &sessionIndexIterator{indexScan: indexScan{err: ErrClosed}}
	}
	r := &util.Range{Start: sessionIndexKey(nil, 0, earliestEnd)[:9], Limit: []byte{nsSessionIndex + 1}}
	if latestEnd < math.MaxInt64 {
		r.Limit = sessionIndexKey(nil, 0, latestEnd+1)[:9]
	}
	return &sessionIndexIterator{s: s, indexScan: indexScan{it: s.kv.db.NewIterator(r, nil)}}
}

// sessionIndexIterator walks a session store's end index and reads each session's value.
type sessionIndexIterator struct {
	indexScan
	s          *SessionStore
	key        []byte
	start, end int64
}

func (i *sessionIndexIterator) Next() bool {
	return i.next(i.s.kv, func(ik []byte) []byte {
		if len(ik) < 17 {
			return nil
		}
		i.end = int64(binary.BigEndian.Uint64(ik[1:9]))
		i.start = int64(binary.BigEndian.Uint64(ik[9:17]))
		i.key = ik[17:]
		if i.s.expired(i.end) {
			return nil
		}
		return dataKey(SessionKey(i.key, i.start, i.end))
	})
}
func (i *sessionIndexIterator) Key() []byte  { return i.key }
func (i *sessionIndexIterator) Start() int64 { return i.start }
func (i *sessionIndexIterator) End() int64   { return i.end }

// expire removes, locally and without changelog tombstones, every session that ends before
// observed - retention.
func (s *SessionStore) expire() error {
	return s.expireWith(func(from, cutoff int64) *util.Range {
		return &util.Range{Start: sessionIndexKey(nil, 0, from)[:9], Limit: sessionIndexKey(nil, 0, cutoff)[:9]}
	}, func(ik []byte) []byte {
		if len(ik) < 17 {
			return nil
		}
		end := int64(binary.BigEndian.Uint64(ik[1:9]))
		start := int64(binary.BigEndian.Uint64(ik[9:17]))
		return dataKey(SessionKey(ik[17:], start, end))
	}, func(key []byte) (int64, bool) {
		_, _, end, err := SplitSessionKey(key)
		return end, err == nil
	})
}
