package streams

import (
	"encoding/binary"
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// suppressEmittedKey is the buffer store key of the stream time of the buffer's last emission.
// NB: a window's key starts with its end, 8 bytes big-endian of a non-negative time, so its
// first byte is at most 0x7f: this key sorts after every window and outside the scan range.
var suppressEmittedKey = []byte("\xffgregor.suppress.emitted-through")

// suppressWindowsLimit bounds the scans of the buffer to window keys.
var suppressWindowsLimit = []byte{0x80}

// suppressBuffer is one task's buffer of a Suppress(UntilWindowCloses): the latest update of
// each window not yet closed, keyed by window end (8 bytes big-endian) then the serialised
// windowed key, valued by the update's timestamp (8 bytes big-endian) then the serialised
// value. It is used by its task's goroutine only.
//
// Every window is emitted once, in order of window end, including across restarts: the stream
// time of the last emission (emittedThrough) is kept in the store with the windows, so an
// update for a window that was closed by then is known to come after its final result (or
// after it closed without one) and is dropped rather than buffered again.
type suppressBuffer struct {
	name, store string
	kv          *statestore.KeyValueStore
	rule        windowRule
	// floor is a window end at or below the end of every buffered window. Eviction raises it
	// to the first open window; a put of an earlier window (an in-grace out-of-order record
	// opening it after later windows were buffered) lowers it.
	// NB: eviction deletes from the head of the buffer, and a LevelDB iterator steps over
	// deleted keys until compaction drops them; starting at the floor rather than at the
	// first key keeps eviction from rescanning every window ever evicted.
	floor int64
	// emittedThrough is the stream time of the last eviction that emitted a window, -1 if
	// none: every window closed at it has had its final result.
	emittedThrough int64
	// bound is the buffer's configuration; records and bytes what it holds (windows, and the
	// length of their keys and values), counted when it opens and kept up to date.
	bound          BufferConfig
	records, bytes int64
}

// openSuppressBuffer reads the buffer's persisted emission time.
func openSuppressBuffer(name, store string, kv *statestore.KeyValueStore, rule windowRule, bound BufferConfig) (*suppressBuffer, error) {
	b := &suppressBuffer{name: name, store: store, kv: kv, rule: rule, emittedThrough: -1, bound: bound}
	if !bound.unbounded {
		it := kv.Range(nil, suppressWindowsLimit)
		for it.Next() {
			b.records++
			b.bytes += int64(len(it.Key()) + len(it.Value()))
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("%s: store %s: %w", name, store, err)
		}
	}
	v, found, err := kv.Get(suppressEmittedKey)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: store %s: %w", name, store, err)
	case found && len(v) != 8:
		return nil, fmt.Errorf("%s: store %s: corrupt emission time of %d bytes", name, store, len(v))
	case found:
		b.emittedThrough = int64(binary.BigEndian.Uint64(v))
	}
	return b, nil
}

// finalized reports whether the window ending at end has closed, at the task's stream time
// or at the buffer's last emission (which survives a restart that stream time may not).
func (b *suppressBuffer) finalized(end, streamTime int64) bool {
	return windowClosed(b.rule, end, max(streamTime, b.emittedThrough))
}

// put buffers the latest update of a window (a tombstone deletes it: a merged-away session).
func (b *suppressBuffer) put(end int64, key []byte, ts int64, value []byte, tombstone bool) error {
	bk := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(end))
	bk = append(bk, key...)
	if !b.bound.unbounded {
		old, found, err := b.kv.Get(bk)
		if err != nil {
			return fmt.Errorf("%s: store %s: %w", b.name, b.store, err)
		}
		if found {
			b.records--
			b.bytes -= int64(len(bk) + len(old))
		}
		if !tombstone {
			b.records++
			b.bytes += int64(len(bk) + 8 + len(value))
		}
	}
	var err error
	if tombstone {
		err = b.kv.Delete(bk)
	} else {
		err = b.kv.Put(bk, append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), uint64(ts)), value...))
		b.floor = min(b.floor, end)
	}
	if err != nil {
		return fmt.Errorf("%s: store %s: %w", b.name, b.store, err)
	}
	return nil
}

// evict removes the windows closed at streamTime from the buffer and emits them in order of
// window end (then key).
func (b *suppressBuffer) evict(streamTime int64, emit func(key, value []byte) error) error {
	streamTime = max(streamTime, b.emittedThrough)
	if streamTime < 0 {
		return nil
	}
	type pending struct{ key, value []byte }
	var closed []pending
	it := b.kv.Range(binary.BigEndian.AppendUint64(nil, uint64(b.floor)), suppressWindowsLimit)
	for it.Next() {
		k := it.Key()
		if len(k) < 8 {
			continue
		}
		end := int64(binary.BigEndian.Uint64(k))
		b.floor = max(b.floor, end)
		if !windowClosed(b.rule, end, streamTime) {
			break
		}
		closed = append(closed, pending{append([]byte(nil), k...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("%s: store %s: %w", b.name, b.store, err)
	}
	if len(closed) == 0 {
		return nil
	}
	if streamTime > b.emittedThrough {
		b.emittedThrough = streamTime
		if err := b.kv.Put(suppressEmittedKey, binary.BigEndian.AppendUint64(nil, uint64(streamTime))); err != nil {
			return fmt.Errorf("%s: store %s: %w", b.name, b.store, err)
		}
	}
	for _, p := range closed {
		if err := b.kv.Delete(p.key); err != nil {
			return fmt.Errorf("%s: store %s: %w", b.name, b.store, err)
		}
		b.records--
		b.bytes -= int64(len(p.key) + len(p.value))
		if err := emit(p.key, p.value); err != nil {
			return err
		}
	}
	return nil
}

// checkBound fails with ErrSuppressBufferFull when a bounded buffer holds more than its bound.
func (b *suppressBuffer) checkBound() error {
	if b.bound.unbounded {
		return nil
	}
	if (b.bound.maxRecords > 0 && b.records > b.bound.maxRecords) || (b.bound.maxBytes > 0 && b.bytes > b.bound.maxBytes) {
		return fmt.Errorf("%w: %s (store %s) holds %d windows in %d bytes, over its bound of maxRecords=%d maxBytes=%d (ShutDownWhenFull)",
			ErrSuppressBufferFull, b.name, b.store, b.records, b.bytes, b.bound.maxRecords, b.bound.maxBytes)
	}
	return nil
}
