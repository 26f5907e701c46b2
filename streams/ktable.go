package streams

import (
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// valueGetter reads a table's current value of a key within one task (Kafka's
// KTableValueGetter): from the table's store, or computed from the tables it derives from.
type valueGetter[K, V any] func(key K) (V, bool, error)

// canLookup reports whether the table's current values can be read in a task: it has a store,
// or derives from tables that do.
func (t *KTable[K, V]) canLookup() bool { return t.getter != nil || t.store != "" }

// lookup returns the table's value getter in task tk. The stores it reads are those of the
// table and its ancestors, which run in the same task.
func (t *KTable[K, V]) lookup(tk *task) (valueGetter[K, V], error) {
	if t.getter != nil {
		return t.getter(tk)
	}
	if t.store == "" {
		return nil, fmt.Errorf("table %s has no store", t.n.name)
	}
	kv, err := tk.store(t.store)
	if err != nil {
		return nil, err
	}
	return statestore.NewTyped(kv, t.keySerde, t.valueSerde).Get, nil
}

// requireLookup records a build error when op needs t's current values and t has none.
func (t *KTable[K, V]) requireLookup(op string) {
	if !t.canLookup() {
		t.b.errorf("%s: table %s is not materialized; pass Materialized to the operation that made it", op, t.n.name)
	}
}

// tableNode adds a processor below the nodes parents whose instance, made by inst, handles
// updates and forwards Record[K2, V2] updates to next. With store set, the processor owns that
// store and writes every update it forwards to it (a materialized table).
func tableNode[K2, V2 any](b *Builder, name, store string, ks Serde[K2], vs Serde[V2],
	inst func(tk *task, next func(Record[K2, V2]) error) (any, error), parents ...*node) *node {
	n := &node{kind: processorNode, name: name}
	if store != "" {
		n.stores = []string{store}
		if ks == nil || vs == nil {
			b.errorf("%s (store %q): unknown key or value serde", name, store)
		}
	}
	n.instantiate = func(tk *task, children []any) (any, error) {
		next := fanout[K2, V2](children)
		if store != "" {
			kv, err := tk.store(store)
			if err != nil {
				return nil, err
			}
			typed := statestore.NewTyped(kv, ks, vs)
			forward := next
			next = func(r Record[K2, V2]) error {
				// The store knows the result's previous value: it goes downstream as old.
				old, found, err := typed.Get(r.Key)
				if err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				r.old, r.hasOld = old, found
				if r.nullValue {
					err = typed.Delete(r.Key)
				} else {
					err = typed.Put(r.Key, r.Value)
				}
				if err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				return forward(r)
			}
		}
		return inst(tk, next)
	}
	b.addNode(n, parents...)
	if store != "" {
		b.addStore(store, name)
	}
	return n
}

// tombstone is a table update deleting key, whose previous value was old (if hadOld).
func tombstone[K, V any](key K, old V, hadOld bool, ts int64, headers []Header) Record[K, V] {
	return Record[K, V]{Key: key, nullValue: true, old: old, hasOld: hadOld, Timestamp: ts, Headers: headers}
}

// update is a table update setting key to value (or deleting it when !ok), whose previous value
// was old (if hadOld).
func update[K, V any](key K, value V, ok bool, old V, hadOld bool, ts int64, headers []Header) Record[K, V] {
	if !ok {
		return tombstone(key, old, hadOld, ts, headers)
	}
	return Record[K, V]{Key: key, Value: value, old: old, hasOld: hadOld, Timestamp: ts, Headers: headers}
}

// Filter keeps the rows for which keep returns true: a row that does not pass is deleted from
// the result. As in Kafka Streams, an update that makes a row fail the filter is forwarded as
// a tombstone; it is not forwarded when the row did not pass before either (or did not exist),
// since the result has nothing to delete then. Materialized keeps the result in a store.
func (t *KTable[K, V]) Filter(keep func(K, V) bool, opts ...Option) *KTable[K, V] {
	return t.filter("KTABLE-FILTER", keep, opts)
}

// FilterNot drops the rows for which drop returns true; see Filter for the tombstones.
func (t *KTable[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) *KTable[K, V] {
	return t.filter("KTABLE-FILTER", func(k K, v V) bool { return !drop(k, v) }, opts)
}

func (t *KTable[K, V]) filter(prefix string, keep func(K, V) bool, opts []Option) *KTable[K, V] {
	b := t.b
	c := options(opts)
	name := b.nextName(prefix, c.name)
	n := tableNode(b, name, c.store, t.keySerde, t.valueSerde, func(_ *task, next func(Record[K, V]) error) (any, error) {
		return func(r Record[K, V]) error {
			newOK := !r.nullValue && keep(r.Key, r.Value)
			oldOK := r.hasOld && keep(r.Key, r.old)
			if !newOK && !oldOK {
				return nil
			}
			return next(update(r.Key, r.Value, newOK, r.old, oldOK, r.Timestamp, r.Headers))
		}, nil
	}, t.n)
	out := &KTable[K, V]{b: b, n: n, store: c.store, keySerde: t.keySerde, valueSerde: t.valueSerde}
	if c.store == "" && t.canLookup() {
		out.getter = func(tk *task) (valueGetter[K, V], error) {
			get, err := t.lookup(tk)
			if err != nil {
				return nil, err
			}
			return func(k K) (V, bool, error) {
				v, ok, err := get(k)
				if err != nil || !ok || !keep(k, v) {
					var zero V
					return zero, false, err
				}
				return v, true, nil
			}, nil
		}
	}
	return out
}

// MapTableValues turns each row's value into a new one, keeping keys: a KTable's MapValues (Go
// methods cannot change type parameters, and MapValues is the KStream's). Deletes stay
// deletes. valueSerde describes the new values; Materialized keeps the result in a store,
// which then needs valueSerde.
func MapTableValues[K, V, V2 any](t *KTable[K, V], f func(K, V) V2, valueSerde Serde[V2], opts ...Option) *KTable[K, V2] {
	b := t.b
	c := options(opts)
	name := b.nextName("KTABLE-MAPVALUES", c.name)
	n := tableNode(b, name, c.store, t.keySerde, valueSerde, func(_ *task, next func(Record[K, V2]) error) (any, error) {
		return func(r Record[K, V]) error {
			out := Record[K, V2]{Key: r.Key, nullValue: r.nullValue, hasOld: r.hasOld, Timestamp: r.Timestamp, Headers: r.Headers}
			if !r.nullValue {
				out.Value = f(r.Key, r.Value)
			}
			if r.hasOld {
				out.old = f(r.Key, r.old)
			}
			return next(out)
		}, nil
	}, t.n)
	out := &KTable[K, V2]{b: b, n: n, store: c.store, keySerde: t.keySerde, valueSerde: valueSerde}
	if c.store == "" && t.canLookup() {
		out.getter = func(tk *task) (valueGetter[K, V2], error) {
			get, err := t.lookup(tk)
			if err != nil {
				return nil, err
			}
			return func(k K) (V2, bool, error) {
				v, ok, err := get(k)
				if err != nil || !ok {
					var zero V2
					return zero, false, err
				}
				return f(k, v), true, nil
			}, nil
		}
	}
	return out
}

// ToTable turns s into a KTable: each record is the new value of its key, a null value (a
// tombstone) deletes it (Kafka's KStream#toTable). The table is materialized in the store named
// by Materialized (default KSTREAM-TOTABLE-STATE-STORE-<index>), so s's serdes must be known;
// when s's keys may have changed, it goes through a repartition topic first.
func (s *KStream[K, V]) ToTable(opts ...Option) *KTable[K, V] {
	c := options(opts)
	if s.keyChanged {
		s = s.repartition("")
	}
	b := s.b
	name := b.nextName("KSTREAM-TOTABLE", c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("KSTREAM-TOTABLE-STATE-STORE-%010d", b.index-1)
	}
	n := tableNode(b, name, store, s.keySerde, s.valueSerde, func(_ *task, next func(Record[K, V]) error) (any, error) {
		return func(r Record[K, V]) error {
			if r.nullKey {
				return nil
			}
			return next(Record[K, V]{Key: r.Key, Value: r.Value, nullValue: r.nullValue, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	}, s.n)
	return &KTable[K, V]{b: b, n: n, store: store, keySerde: s.keySerde, valueSerde: s.valueSerde}
}
