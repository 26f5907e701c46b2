package streams

import (
	"errors"
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// KGroupedTable is a table re-grouped by a new key, ready for an aggregation that follows its
// rows as they change: each update subtracts the row's old value from its old group and adds
// its new value to its new group (Count, Reduce, AggregateTable). Named as in Kafka Streams.
type KGroupedTable[K, V any] struct {
	b          *Builder
	s          *KStream[[]byte, []byte] // the repartition topic's records: key, encoded change
	name       string
	keySerde   Serde[K]
	valueSerde Serde[V]
}

// GroupTableBy groups the rows of t by the key and value selector returns for each row (Kafka's
// KTable#groupBy). The rows' updates go through the repartition topic
// <ApplicationID>-<name>-repartition, partitioned by the new key, where name comes from Named
// or is generated (KTABLE-REPARTITION-<index>); an update that moves a row from one group to
// another sends a subtraction to the old group and an addition to the new one. The serdes
// describe the new keys and values and are required.
func GroupTableBy[K, V, K2, V2 any](t *KTable[K, V], selector func(K, V) (K2, V2), keySerde Serde[K2], valueSerde Serde[V2], opts ...Option) *KGroupedTable[K2, V2] {
	b := t.b
	c := options(opts)
	sel := &node{kind: processorNode, name: b.nextName("KTABLE-SELECT", "")}
	name := b.nextName("KTABLE-REPARTITION", c.name)
	if keySerde == nil || valueSerde == nil {
		b.errorf("%s: the serdes of the new key and value are required", name)
	}
	sel.instantiate = func(_ *task, children []any) (any, error) {
		next := fanout[[]byte, []byte](children)
		pair := func(k K, v V) (key, value []byte, err error) {
			k2, v2 := selector(k, v)
			if key, err = keySerde.Serialize(k2); err != nil {
				return nil, nil, fmt.Errorf("%s: serialize key: %w", sel.name, err)
			}
			if value, err = valueSerde.Serialize(v2); err != nil {
				return nil, nil, fmt.Errorf("%s: serialize value: %w", sel.name, err)
			}
			// NB: nil stands for "absent" in a change; a serde's nil is an empty key or value.
			if key == nil {
				key = []byte{}
			}
			if value == nil {
				value = []byte{}
			}
			return key, value, nil
		}
		return func(r Record[K, V]) error {
			var oldKey, oldValue, newKey, newValue []byte
			var err error
			if r.hasOld {
				if oldKey, oldValue, err = pair(r.Key, r.old); err != nil {
					return err
				}
			}
			if !r.nullValue {
				if newKey, newValue, err = pair(r.Key, r.Value); err != nil {
					return err
				}
			}
			for _, out := range tableChanges(oldKey, oldValue, newKey, newValue) {
				out.Timestamp, out.Headers = r.Timestamp, r.Headers
				if err := next(out); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	b.addNode(sel, t.n)
	topic := name + "-repartition"
	selected := &KStream[[]byte, []byte]{b: b, n: sel}
	addSink(selected, &node{kind: sinkNode, topic: topic, internal: true, name: name + "-sink"}, statestore.Bytes{}, statestore.Bytes{})
	src := addSource(b, &node{kind: sourceNode, topic: topic, internal: true, name: name + "-source"}, statestore.Bytes{}, statestore.Bytes{})
	return &KGroupedTable[K2, V2]{b: b, s: src, name: name, keySerde: keySerde, valueSerde: valueSerde}
}

// tableChanges is the pure core of a table re-grouping: the repartition records for a row
// whose old and new (key, value) pairs are given, nil when the row had or has none. One record
// carries both when the key stays, otherwise the subtraction goes first.
func tableChanges(oldKey, oldValue, newKey, newValue []byte) []Record[[]byte, []byte] {
	switch {
	case oldKey != nil && newKey != nil && string(oldKey) == string(newKey):
		return []Record[[]byte, []byte]{{Key: newKey, Value: encodeChange(newValue, oldValue)}}
	case oldKey != nil && newKey != nil:
		return []Record[[]byte, []byte]{
			{Key: oldKey, Value: encodeChange(nil, oldValue)},
			{Key: newKey, Value: encodeChange(newValue, nil)}}
	case oldKey != nil:
		return []Record[[]byte, []byte]{{Key: oldKey, Value: encodeChange(nil, oldValue)}}
	case newKey != nil:
		return []Record[[]byte, []byte]{{Key: newKey, Value: encodeChange(newValue, nil)}}
	}
	return nil
}

var errChangeWire = errors.New("streams: malformed table change record")

// encodeChange encodes a change for a repartition topic: a version byte, then the new and the
// old value, each optional (nil is absent).
func encodeChange(newValue, oldValue []byte) []byte {
	b := appendOptional([]byte{0}, newValue, newValue != nil)
	return appendOptional(b, oldValue, oldValue != nil)
}

func decodeChange(b []byte) (newValue []byte, hasNew bool, oldValue []byte, hasOld bool, err error) {
	if len(b) < 1 || b[0] != 0 {
		return nil, false, nil, false, errChangeWire
	}
	newValue, hasNew, rest, err := readOptional(b[1:])
	if err != nil {
		return nil, false, nil, false, errChangeWire
	}
	oldValue, hasOld, rest, err = readOptional(rest)
	if err != nil || len(rest) != 0 {
		return nil, false, nil, false, errChangeWire
	}
	return newValue, hasNew, oldValue, hasOld, nil
}

// Count counts the rows per group into a KTable[K, int64]: an added row counts 1, a removed
// one -1. A group whose rows are all gone keeps the count 0, as in Kafka Streams.
func (g *KGroupedTable[K, V]) Count(opts ...Option) *KTable[K, int64] {
	return aggregateTable(g, "KTABLE-AGGREGATE", opts, statestore.Int64{},
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
		func(_ K, _ V, agg int64) int64 { return agg - 1 })
}

// Reduce combines the values of each group: adder folds in an added row's value (the group's
// first value is kept as is), subtractor takes out a removed row's value.
func (g *KGroupedTable[K, V]) Reduce(adder, subtractor func(agg, value V) V, opts ...Option) *KTable[K, V] {
	return aggregateTable(g, "KTABLE-REDUCE", opts, g.valueSerde,
		func(_ K, v V, agg V, found bool) V {
			if !found {
				return v
			}
			return adder(agg, v)
		},
		func(_ K, v V, agg V) V { return subtractor(agg, v) })
}

// AggregateTable folds the values of each group into an A, starting from initial(): adder
// folds in an added row's value, subtractor takes out a removed row's value. aggSerde stores
// the aggregates.
func AggregateTable[K, V, A any](g *KGroupedTable[K, V], initial func() A, adder, subtractor func(key K, value V, agg A) A, aggSerde Serde[A], opts ...Option) *KTable[K, A] {
	return aggregateTable(g, "KTABLE-AGGREGATE", opts, aggSerde,
		func(k K, v V, agg A, found bool) A {
			if !found {
				agg = initial()
			}
			return adder(k, v, agg)
		}, subtractor)
}

// aggregateTable adds the processor reading the repartition topic: for each change it takes
// the group's aggregate, subtracts the old value (when the group has an aggregate), adds the
// new one, stores the result and forwards it with the previous aggregate as old value.
func aggregateTable[K, V, A any](g *KGroupedTable[K, V], prefix string, opts []Option, aggSerde Serde[A],
	add func(k K, v V, agg A, found bool) A, subtract func(k K, v V, agg A) A) *KTable[K, A] {
	b := g.b
	c := options(opts)
	name := b.nextName(prefix, c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("%s-STATE-STORE-%010d", prefix, b.index-1)
	}
	if aggSerde == nil {
		b.errorf("%s (store %q): unknown aggregate serde", name, store)
	}
	n := &node{kind: processorNode, name: name, stores: []string{store}}
	n.instantiate = func(t *task, children []any) (any, error) {
		kv, err := t.store(store)
		if err != nil {
			return nil, err
		}
		typed := statestore.NewTyped(kv, g.keySerde, aggSerde)
		next := fanout[K, A](children)
		return func(r Record[[]byte, []byte]) error {
			key, err := g.keySerde.Deserialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: deserialize key: %w", name, err)
			}
			newBytes, hasNew, oldBytes, hasOld, err := decodeChange(r.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			prev, found, err := typed.Get(key)
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			agg, has := prev, found
			if hasOld && found {
				v, err := g.valueSerde.Deserialize(oldBytes)
				if err != nil {
					return fmt.Errorf("%s: deserialize old value: %w", name, err)
				}
				agg = subtract(key, v, agg)
			}
			if hasNew {
				v, err := g.valueSerde.Deserialize(newBytes)
				if err != nil {
					return fmt.Errorf("%s: deserialize value: %w", name, err)
				}
				agg, has = add(key, v, agg, has), true
			}
			if !has {
				return nil // a subtraction from a group that has nothing
			}
			if err := typed.Put(key, agg); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			return next(Record[K, A]{Key: key, Value: agg, old: prev, hasOld: found, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	}
	b.addNode(n, g.s.n)
	b.addStore(store, name)
	return &KTable[K, A]{b: b, n: n, store: store, keySerde: g.keySerde, valueSerde: aggSerde}
}
