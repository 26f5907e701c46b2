package statestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// nsTimeIndex holds the window store's local time index: nsTimeIndex + window start (8 bytes
// big-endian) + key → empty. It is not logged: it is rebuilt from the data as records are
// written or restored.
const nsTimeIndex byte = 't'

// WindowStore keeps values per key and window, the window named by its start time in
// milliseconds. A record's key is the user key followed by the window start as 8 big-endian
// bytes, locally and in the changelog (Kafka Streams' windowed changelog layout without the
// sequence number). Windows whose start is more than the retention period behind the largest
// window start put so far (the store's observed time) are dropped whole, locally; the
// changelog, with cleanup.policy=compact,delete and retention.ms = retention + 1 day, forgets
// them on its own, so expiry sends no tombstones.
//
// The retention must cover window size plus grace. All methods are safe for concurrent use.
type WindowStore struct {
	// timeIndexed gives Store (keys are WindowKeys), ObservedTime, DroppedExpired, Flush, Close.
	*timeIndexed
}

// OpenWindowStore opens a window store with the given retention; see Open for opts. With
// opts.ChangelogPartitions > 0 the changelog is created with WindowedChangelogTopicSpec.
func OpenWindowStore(ctx context.Context, opts Options, retention time.Duration) (*WindowStore, error) {
	ti, err := openTimeIndexed(ctx, "window store", opts, retention, indexWindow, nsTimeIndex, 9)
	if err != nil {
		return nil, err
	}
	w := &WindowStore{timeIndexed: ti}
	if err := w.expire(); err != nil {
		ti.kv.Close()
		return nil, err
	}
	return w, nil
}

// WindowKey is the stored and logged key of key in the window starting at windowStart (ms).
func WindowKey(key []byte, windowStart int64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(key)+8), key...), uint64(windowStart))
}

// SplitWindowKey splits a WindowKey into user key and window start.
func SplitWindowKey(windowKey []byte) (key []byte, windowStart int64, err error) {
	if len(windowKey) < 8 {
		return nil, 0, fmt.Errorf("statestore: window key of %d bytes is shorter than 8", len(windowKey))
	}
	n := len(windowKey) - 8
	return windowKey[:n], int64(binary.BigEndian.Uint64(windowKey[n:])), nil
}

func timeIndexKey(key []byte, windowStart int64) []byte {
	k := make([]byte, 0, 9+len(key))
	k = append(k, nsTimeIndex)
	k = binary.BigEndian.AppendUint64(k, uint64(windowStart))
	return append(k, key...)
}

// indexWindow maintains the time index for a written or restored window record. A changelog
// record too short to be a window key is not indexed (it never panics on topic input).
func indexWindow(b *leveldb.Batch, windowKey []byte, tombstone bool) {
	key, start, err := SplitWindowKey(windowKey)
	if err != nil {
		return
	}
	if tombstone {
		b.Delete(timeIndexKey(key, start))
	} else {
		b.Put(timeIndexKey(key, start), nil)
	}
}

// Put stores value for key in the window starting at windowStart (ms, non-negative). A put
// into an expired window is dropped and counted (DroppedExpired), not an error.
func (w *WindowStore) Put(key []byte, windowStart int64, value []byte) error {
	if windowStart < 0 {
		return fmt.Errorf("statestore: window store %s: negative window start %d", w.kv.Name(), windowStart)
	}
	drop, advanced := w.admit(windowStart)
	if drop {
		return nil
	}
	if err := w.kv.Put(WindowKey(key, windowStart), value); err != nil {
		return err
	}
	if advanced {
		return w.expire()
	}
	return nil
}

// Delete removes key's value in the window starting at windowStart.
func (w *WindowStore) Delete(key []byte, windowStart int64) error {
	return w.kv.Delete(WindowKey(key, windowStart))
}

// Get returns key's value in the window starting at windowStart.
func (w *WindowStore) Get(key []byte, windowStart int64) ([]byte, bool, error) {
	if w.expired(windowStart) {
		return nil, false, nil
	}
	return w.kv.Get(WindowKey(key, windowStart))
}

// WindowIterator walks windows. Key and Value are valid until the next call to Next. The caller
// must Close it.
type WindowIterator interface {
	Iterator
	// WindowStart is the current window's start (ms).
	WindowStart() int64
}

// Fetch iterates over key's windows whose start is in [timeFrom, timeTo], in start order.
func (w *WindowStore) Fetch(key []byte, timeFrom, timeTo int64) WindowIterator {
	timeFrom = max(timeFrom, 0)
	if timeTo < timeFrom {
		return &keyWindowIterator{it: &errIterator{}}
	}
	// NB: the range also holds longer keys that share key as a prefix (key+X with X between
	// the two bounds); only entries exactly len(key)+8 long belong to key.
	limit := append(WindowKey(key, timeTo), 0)
	return &keyWindowIterator{it: w.kv.Range(WindowKey(key, timeFrom), limit), keyLen: len(key), w: w}
}

type keyWindowIterator struct {
	it     Iterator
	keyLen int
	w      *WindowStore
	start  int64
}

func (i *keyWindowIterator) Next() bool {
	for i.it.Next() {
		k := i.it.Key()
		if len(k) != i.keyLen+8 {
			continue
		}
		i.start = int64(binary.BigEndian.Uint64(k[i.keyLen:]))
		if i.w.expired(i.start) {
			continue
		}
		return true
	}
	return false
}
func (i *keyWindowIterator) Key() []byte        { return i.it.Key()[:i.keyLen] }
func (i *keyWindowIterator) Value() []byte      { return i.it.Value() }
func (i *keyWindowIterator) WindowStart() int64 { return i.start }
func (i *keyWindowIterator) Err() error         { return i.it.Err() }
func (i *keyWindowIterator) Close() error       { return i.it.Close() }

// FetchAll iterates over every key's windows whose start is in [timeFrom, timeTo], in start
// order, then key order. Values are read through the time index, one lookup per window.
// On a buffered store (Options.WriteCacheEntries with TrackPositions) it sees committed writes
// only: the time index is written at Commit.
func (w *WindowStore) FetchAll(timeFrom, timeTo int64) WindowIterator {
	timeFrom = max(timeFrom, 0)
	if w.kv.closed.Load() {
		return &indexIterator{indexScan: indexScan{err: ErrClosed}}
	}
	r := &util.Range{Start: timeIndexKey(nil, timeFrom), Limit: []byte{nsTimeIndex + 1}}
	if timeTo < math.MaxInt64 {
		r.Limit = timeIndexKey(nil, timeTo+1)
	}
	return &indexIterator{w: w, indexScan: indexScan{it: w.kv.db.NewIterator(r, nil)}}
}

// indexIterator walks a window store's time index and reads each window's value.
type indexIterator struct {
	indexScan
	w     *WindowStore
	key   []byte
	start int64
}

func (i *indexIterator) Next() bool {
	return i.next(i.w.kv, func(ik []byte) []byte {
		i.start = int64(binary.BigEndian.Uint64(ik[1:9]))
		i.key = ik[9:]
		if i.w.expired(i.start) {
			return nil
		}
		return dataKey(WindowKey(i.key, i.start))
	})
}
func (i *indexIterator) Key() []byte        { return i.key }
func (i *indexIterator) WindowStart() int64 { return i.start }

// indexScan is the part of an index iterator that walks index entries and reads, for each, the
// data entry it names. The embedding iterator decodes the index key.
type indexScan struct {
	it     iterator.Iterator
	value  []byte
	err    error
	closed bool
}

// next moves to the next index entry whose data entry exists; dataKeyOf decodes an index key
// into the data key to read, or nil to skip the entry (expired, malformed).
func (i *indexScan) next(kv *KeyValueStore, dataKeyOf func(indexKey []byte) []byte) bool {
	if i.it == nil || i.closed || i.err != nil {
		return false
	}
	for i.it.Next() {
		dk := dataKeyOf(i.it.Key())
		if dk == nil {
			continue
		}
		v, err := kv.db.Get(dk, nil)
		if errors.Is(err, leveldb.ErrNotFound) {
			continue // deleted between index and data reads
		}
		if err != nil {
			i.err = err
			return false
		}
		i.value = v
		return true
	}
	return false
}

func (i *indexScan) Value() []byte { return i.value }

func (i *indexScan) Err() error {
	if i.err != nil || i.it == nil {
		return i.err
	}
	return i.it.Error()
}

func (i *indexScan) Close() error {
	err := i.Err()
	if !i.closed && i.it != nil {
		i.it.Release()
	}
	i.closed = true
	return err
}

// expire removes, locally and without changelog tombstones, every window that starts before
// observed - retention.
func (w *WindowStore) expire() error {
	return w.expireWith(func(from, cutoff int64) *util.Range {
		return &util.Range{Start: timeIndexKey(nil, from), Limit: timeIndexKey(nil, cutoff)}
	}, func(ik []byte) []byte {
		start := int64(binary.BigEndian.Uint64(ik[1:9]))
		return dataKey(WindowKey(ik[9:], start))
	}, func(key []byte) (int64, bool) {
		_, start, err := SplitWindowKey(key)
		return start, err == nil
	})
}

// deleteIndexed deletes, locally and without changelog tombstones, every index entry in r and
// the data entry dataKeyOf names for it (nil: only the index entry), in batches.
func (s *KeyValueStore) deleteIndexed(r *util.Range, dataKeyOf func(indexKey []byte) []byte) error {
	it := s.db.NewIterator(r, nil)
	defer it.Release()
	var b leveldb.Batch
	for it.Next() {
		if dk := dataKeyOf(it.Key()); dk != nil {
			b.Delete(dk)
		}
		b.Delete(append([]byte(nil), it.Key()...))
		if b.Len() >= 10000 {
			if err := s.db.Write(&b, nil); err != nil {
				return err
			}
			b.Reset()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return s.db.Write(&b, nil)
}
