package streams

import (
	"encoding/binary"
	"fmt"
)

// Suppressed configures KTable.Suppress. Make it with UntilWindowCloses.
type Suppressed struct {
	untilWindowCloses bool
	buffer            BufferConfig
}

// BufferConfig bounds the buffer of a suppression. Only Unbounded is supported: the buffer is a
// state store on disk (LevelDB, with a changelog), so it is bounded by disk, not memory.
type BufferConfig struct {
	unbounded bool
}

// Unbounded is a buffer without a record or byte limit (Kafka's
// Suppressed.BufferConfig.unbounded()).
func Unbounded() BufferConfig { return BufferConfig{unbounded: true} }

// UntilWindowCloses suppresses every update of a windowed table until its window closes, then
// emits the window's final result once: Kafka's Suppressed.untilWindowCloses.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{untilWindowCloses: true, buffer: buffer}
}

// Suppress holds back the updates of a windowed table (the result of a windowed Count,
// Reduce, WindowedAggregate or SessionAggregate) and emits exactly one record per window: its
// final value, once the task's stream time has passed the window's end plus its grace period
// (for sessions: end + inactivity gap + grace). A window deleted before it closes (a session
// merged into another) emits nothing. Final results are emitted in window-end order.
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
	meta := findWindowMeta(t.n)
	switch {
	case !s.untilWindowCloses:
		b.errorf("Suppress %s: only UntilWindowCloses is supported", name)
	case !s.buffer.unbounded:
		b.errorf("Suppress %s: only an Unbounded buffer is supported", name)
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
		next := fanout[K, V](children)
		type pending struct{ key, value []byte }
		// floor is a window end below which the buffer holds nothing: every window that ended
		// before it was closed and evicted, and no record for a closed window arrives.
		// NB: eviction deletes from the head of the buffer, and a LevelDB iterator steps over
		// deleted keys until compaction drops them; starting at the floor rather than at the
		// first key keeps eviction from rescanning every window ever evicted.
		floor := int64(0)
		evict := func() error {
			if tk.streamTime < 0 {
				return nil
			}
			var closed []pending
			it := kv.Range(binary.BigEndian.AppendUint64(nil, uint64(floor)), nil)
			for it.Next() {
				k := it.Key()
				if len(k) < 8 {
					continue
				}
				end := int64(binary.BigEndian.Uint64(k))
				if !meta.closed(end, tk.streamTime) {
					floor = max(floor, end)
					break
				}
				floor = max(floor, end)
				closed = append(closed, pending{append([]byte(nil), k...), append([]byte(nil), it.Value()...)})
			}
			if err := it.Close(); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			for _, p := range closed {
				if len(p.value) < 8 {
					return fmt.Errorf("%s: store %s: corrupt buffered value of %d bytes", name, store, len(p.value))
				}
				key, err := keySerde.Deserialize(p.key[8:])
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize key: %w", name, store, err)
				}
				value, err := valueSerde.Deserialize(p.value[8:])
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize value: %w", name, store, err)
				}
				if err := kv.Delete(p.key); err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				ts := int64(binary.BigEndian.Uint64(p.value))
				if err := next(Record[K, V]{Key: key, Value: value, Timestamp: ts}); err != nil {
					return err
				}
			}
			return nil
		}
		return func(r Record[K, V]) error {
			wb, ok := any(r.Key).(windowBounder)
			if !ok {
				return fmt.Errorf("%s: key %T is not windowed", name, r.Key)
			}
			_, end := wb.windowBounds()
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			// NB: the buffer is ordered by window end (8 big-endian bytes; ends are never
			// negative), so eviction reads it from the start and stops at the first open window.
			bk := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(kb)), uint64(end))
			bk = append(bk, kb...)
			if r.nullValue {
				err = kv.Delete(bk)
			} else {
				var vb []byte
				if vb, err = valueSerde.Serialize(r.Value); err != nil {
					return fmt.Errorf("%s: serialize value: %w", name, err)
				}
				err = kv.Put(bk, append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(vb)), uint64(r.Timestamp)), vb...))
			}
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			return evict()
		}, nil
	}
	b.addNode(n, t.n)
	b.addStore(store, name)
	return &KTable[K, V]{b: b, n: n, store: store, keySerde: keySerde, valueSerde: valueSerde}
}
