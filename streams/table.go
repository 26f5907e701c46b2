package streams

import (
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// KGroupedStream is a stream grouped by key, ready for an aggregation (Count, Reduce,
// Aggregate). Named as in Kafka Streams.
type KGroupedStream[K, V any] struct {
	s *KStream[K, V]
}

// GroupByKey groups the stream by its current key. After a key-changing operation (Map,
// SelectKey, FlatMap) records may sit on the wrong partition, so GroupByKey first sends them
// through the repartition topic <ApplicationID>-<name>-repartition, partitioned by key, where
// name is given by Named or generated (KSTREAM-REPARTITION-<index>). That needs the key and
// value serdes.
func (s *KStream[K, V]) GroupByKey(opts ...Option) *KGroupedStream[K, V] {
	if s.keyChanged {
		s = s.repartition(options(opts).name)
	}
	return &KGroupedStream[K, V]{s: s}
}

// GroupBy groups the stream by a new key computed from each record; it always repartitions.
func GroupBy[K, V, K2 any](s *KStream[K, V], key func(K, V) K2, keySerde Serde[K2], opts ...Option) *KGroupedStream[K2, V] {
	return SelectKey(s, key, keySerde).GroupByKey(opts...)
}

// repartition writes s to a repartition topic and reads it back as a new sub-topology.
func (s *KStream[K, V]) repartition(name string) *KStream[K, V] {
	b := s.b
	name = b.nextName("KSTREAM-REPARTITION", name)
	if s.keySerde == nil || s.valueSerde == nil {
		b.errorf("repartition %s below %s: unknown key or value serde; pass them to the operation that changed the key", name, s.n.name)
	}
	topic := name + "-repartition"
	addSink(s, &node{kind: sinkNode, topic: topic, internal: true, name: name + "-sink"}, s.keySerde, s.valueSerde)
	return addSource(b, &node{kind: sourceNode, topic: topic, internal: true, name: name + "-source"}, s.keySerde, s.valueSerde)
}

// KTable is a changelog stream of the latest value per key, backed by a state store. Named as
// in Kafka Streams.
type KTable[K, V any] struct {
	b          *Builder
	n          *node
	store      string
	keySerde   Serde[K]
	valueSerde Serde[V]
	// getter reads the table's current value of a key in a task; nil means the store's.
	getter func(t *task) (valueGetter[K, V], error)
}

// StoreName is the name of the table's state store ("" if it has none).
func (t *KTable[K, V]) StoreName() string { return t.store }

// ToStream turns the table's updates into a stream: one record per update.
func (t *KTable[K, V]) ToStream(opts ...Option) *KStream[K, V] {
	s := &KStream[K, V]{b: t.b, n: t.n, keySerde: t.keySerde, valueSerde: t.valueSerde}
	n := stateless(s, "KTABLE-TOSTREAM", opts, func(r Record[K, V], next func(Record[K, V]) error) error {
		return next(r)
	})
	return derive(s, n, t.keySerde, t.valueSerde, false)
}

// Count counts records per key into a KTable[K, int64].
func (g *KGroupedStream[K, V]) Count(opts ...Option) *KTable[K, int64] {
	return aggregate(g, "KSTREAM-AGGREGATE", opts, statestore.Int64{},
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 })
}

// Reduce combines the values of each key with reducer (the first value of a key is kept as is)
// into a KTable[K, V].
func (g *KGroupedStream[K, V]) Reduce(reducer func(agg, value V) V, opts ...Option) *KTable[K, V] {
	return aggregate(g, "KSTREAM-REDUCE", opts, g.s.valueSerde,
		func(_ K, v V, agg V, found bool) V {
			if !found {
				return v
			}
			return reducer(agg, v)
		})
}

// Aggregate folds the values of each key into an A, starting from initial(), into a
// KTable[K, A]. aggSerde stores the aggregates.
func Aggregate[K, V, A any](g *KGroupedStream[K, V], initial func() A, aggregator func(key K, value V, agg A) A, aggSerde Serde[A], opts ...Option) *KTable[K, A] {
	return aggregate(g, "KSTREAM-AGGREGATE", opts, aggSerde,
		func(k K, v V, agg A, found bool) A {
			if !found {
				agg = initial()
			}
			return aggregator(k, v, agg)
		})
}

// aggregate adds a processor owning a key-value store: for each record it reads the key's
// aggregate, updates it with f, writes it back (and so to the changelog) and forwards it.
// found is false for a key's first record. As in Kafka Streams, a record with a null key or a
// null value is dropped (and counted in Stats.DroppedRecords).
func aggregate[K, V, A any](g *KGroupedStream[K, V], prefix string, opts []Option, aggSerde Serde[A], f func(k K, v V, agg A, found bool) A) *KTable[K, A] {
	s, b := g.s, g.s.b
	c := options(opts)
	name := b.nextName(prefix, c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("%s-STATE-STORE-%010d", prefix, b.index-1)
	}
	keySerde := s.keySerde
	if keySerde == nil || aggSerde == nil {
		b.errorf("%s (store %q): unknown key or aggregate serde", name, store)
	}
	n := &node{kind: processorNode, name: name, stores: []string{store}, cachingDisabled: c.cachingDisabled}
	n.instantiate = func(t *task, children []any) (any, error) {
		kv, err := t.store(store)
		if err != nil {
			return nil, err
		}
		forward := cachedForward(t, n, fanout[K, A](children))
		return func(r Record[K, V]) error {
			if dropNull(t, name, r, true) {
				return nil
			}
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			var agg A
			raw, found, err := kv.Get(kb)
			if err == nil && found {
				agg, err = aggSerde.Deserialize(raw)
			}
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			old := agg
			agg = f(r.Key, r.Value, agg, found)
			vb, err := aggSerde.Serialize(agg)
			if err != nil {
				return fmt.Errorf("%s: serialize aggregate: %w", name, err)
			}
			if err := kv.Put(kb, vb); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			return forward(kb, Record[K, A]{Key: r.Key, Value: agg, Timestamp: r.Timestamp, Headers: r.Headers, old: old, hasOld: found}, len(vb))
		}, nil
	}
	b.addNode(n, s.n)
	b.addStore(store, name)
	return &KTable[K, A]{b: b, n: n, store: store, keySerde: keySerde, valueSerde: aggSerde}
}
