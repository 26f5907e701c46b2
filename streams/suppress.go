package streams

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Suppressed configures KTable.Suppress. Make it with UntilWindowCloses.
type Suppressed struct {
	untilWindowCloses bool
	buffer            BufferConfig
}

// BufferConfig bounds the buffer of a suppression: Unbounded, or MaxRecords / MaxBytes with
// ShutDownWhenFull. The buffer is a state store on disk (LevelDB, with a changelog), so an
// unbounded one is bounded by disk, not memory; a bound caps the windows held back at once.
type BufferConfig struct {
	unbounded            bool
	maxRecords, maxBytes int64
	shutDownWhenFull     bool
}

// Unbounded is a buffer without a record or byte limit (Kafka's
// Suppressed.BufferConfig.unbounded()).
func Unbounded() BufferConfig { return BufferConfig{unbounded: true} }

// MaxRecords bounds the buffer to n windows (Kafka's BufferConfig.maxRecords). Say what
// happens when it is full with ShutDownWhenFull.
func MaxRecords(n int64) BufferConfig { return BufferConfig{maxRecords: n} }

// MaxBytes bounds the buffer to n bytes of windows (serialised keys and values; Kafka's
// BufferConfig.maxBytes). Say what happens when it is full with ShutDownWhenFull.
func MaxBytes(n int64) BufferConfig { return BufferConfig{maxBytes: n} }

// WithMaxRecords adds a bound of n windows.
func (c BufferConfig) WithMaxRecords(n int64) BufferConfig {
	c.unbounded, c.maxRecords = false, n
	return c
}

// WithMaxBytes adds a bound of n bytes.
func (c BufferConfig) WithMaxBytes(n int64) BufferConfig {
	c.unbounded, c.maxBytes = false, n
	return c
}

// ShutDownWhenFull stops the App with ErrSuppressBufferFull when the buffer, after emitting
// the windows that closed, is still over its bound (Kafka's BufferConfig.shutDownWhenFull):
// results are never emitted early, so each window's one result stays final.
// NB: Kafka's emitEarlyWhenFull is for Suppressed.untilTimeLimit, which Gregor does not have;
// UntilWindowCloses takes only strict buffers there too.
func (c BufferConfig) ShutDownWhenFull() BufferConfig {
	c.shutDownWhenFull = true
	return c
}

// ErrSuppressBufferFull stops an App whose Suppress buffer (ShutDownWhenFull) holds more
// windows or bytes than its bound: Err wraps it with the processor, the store and the counts.
var ErrSuppressBufferFull = errors.New("streams: suppression buffer is full")

// UntilWindowCloses suppresses every update of a windowed table until its window closes, then
// emits the window's final result once: Kafka's Suppressed.untilWindowCloses.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{untilWindowCloses: true, buffer: buffer}
}

// Suppress holds back the updates of a windowed table (the result of a windowed Count,
// Reduce, WindowedAggregate or SessionAggregate) and emits exactly one record per window: its
// final value, once the task's stream time has passed the window's end plus its grace period
// (for sessions: end + inactivity gap + grace). A window deleted before it closes (a session
// merged into another) emits nothing. Final results are emitted in window-end order, each
// window once, also when an in-grace out-of-order record opens a window after later windows
// were buffered, and across restarts and rebalances: the buffer keeps the stream time of its
// last emission, and an update for a window closed by then is dropped (counted in
// Stats.DroppedRecords) rather than emitted a second time or out of order.
//
// The buffer is a key-value store (Materialized names it; by default
// KTABLE-SUPPRESS-STATE-STORE-<index>) with a changelog, so pending windows survive a restart
// or a rebalance. As in Kafka Streams, buffered windows are emitted when a record reaching the
// suppression advances stream time past their close: a partition that receives no new records
// emits nothing more.
func (t *KTable[K, V]) Suppress(s Suppressed, opts ...Option) *KTable[K, V] {
	b := t.b
	c := options(opts)
	name := b.nextName("KTABLE-SUPPRESS", c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("KTABLE-SUPPRESS-STATE-STORE-%010d", b.index-1)
	}
	var meta windowRule
	if agg := findWindowedAggregation(t.n); agg != nil {
		meta = agg.window
		// NB: a record cache would hold a window's update back past the window's close, and
		// Suppress takes an update of a closed window for a late one. Suppress gives the
		// table's final values anyway, so the aggregation below it forwards every update.
		agg.cachingDisabled = true
	}
	switch {
	case !s.untilWindowCloses:
		b.errorf("Suppress %s: only UntilWindowCloses is supported", name)
	case !s.buffer.unbounded && !s.buffer.shutDownWhenFull:
		b.errorf("Suppress %s: UntilWindowCloses needs Unbounded() or a bounded buffer with ShutDownWhenFull(): emitting early would not be final", name)
	case !s.buffer.unbounded && (s.buffer.maxRecords < 0 || s.buffer.maxBytes < 0 || s.buffer.maxRecords+s.buffer.maxBytes == 0):
		b.errorf("Suppress %s: buffer bounds maxRecords=%d maxBytes=%d: give at least one positive bound", name, s.buffer.maxRecords, s.buffer.maxBytes)
	case meta == nil:
		b.errorf("Suppress %s below %s: UntilWindowCloses needs a windowed table (WindowedBy, then Count, Reduce or an aggregate)", name, t.n.name)
	case t.keySerde == nil || t.valueSerde == nil:
		b.errorf("Suppress %s below %s: unknown key or value serde of the table", name, t.n.name)
	}
	keySerde, valueSerde := t.keySerde, t.valueSerde
	n := &node{kind: processorNode, name: name, stores: []string{store}, window: meta}
	n.instantiate = func(tk *task, children []any) (any, error) {
		kv, err := tk.store(store)
		if err != nil {
			return nil, err
		}
		buf, err := openSuppressBuffer(name, store, kv, meta, s.buffer)
		if err != nil {
			return nil, err
		}
		next := fanout[K, V](children)
		emit := func(key, value []byte) error {
			if len(value) < 8 {
				return fmt.Errorf("%s: store %s: corrupt buffered value of %d bytes", name, store, len(value))
			}
			k, err := keySerde.Deserialize(key[8:])
			if err != nil {
				return fmt.Errorf("%s: store %s: deserialize key: %w", name, store, err)
			}
			v, err := valueSerde.Deserialize(value[8:])
			if err != nil {
				return fmt.Errorf("%s: store %s: deserialize value: %w", name, store, err)
			}
			return next(Record[K, V]{Key: k, Value: v, Timestamp: int64(binary.BigEndian.Uint64(value))})
		}
		return func(r Record[K, V]) error {
			wb, ok := any(r.Key).(windowBounder)
			if !ok {
				return fmt.Errorf("%s: key %T is not windowed", name, r.Key)
			}
			start, end := wb.windowBounds()
			if buf.finalized(end, tk.streamTime) {
				// NB: its final result is out (or it closed before any update reached
				// here): an update now would emit the window twice, or out of end order.
				tk.dropLate(name, r.Timestamp, start, end)
				return buf.evict(tk.streamTime, emit)
			}
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			var vb []byte
			if !r.nullValue {
				if vb, err = valueSerde.Serialize(r.Value); err != nil {
					return fmt.Errorf("%s: serialize value: %w", name, err)
				}
			}
			if err := buf.put(end, kb, r.Timestamp, vb, r.nullValue); err != nil {
				return err
			}
			if err := buf.evict(tk.streamTime, emit); err != nil {
				return err
			}
			return buf.checkBound()
		}, nil
	}
	b.addNode(n, t.n)
	b.addStore(store, name)
	return &KTable[K, V]{b: b, n: n, store: store, keySerde: keySerde, valueSerde: valueSerde}
}
