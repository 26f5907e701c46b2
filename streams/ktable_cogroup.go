package streams

import (
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// CogroupedStream aggregates several grouped streams into one table with one store, each
// stream with its own aggregator (Kafka's CogroupedKStream). Make one with Cogroup, add
// streams with CogroupWith, and end with Aggregate. The grouped streams run in one task per
// partition, so their topics must be co-partitioned, which Start checks.
type CogroupedStream[K, A any] struct {
	b        *Builder
	inputs   []*node // one processor per grouped stream, each forwarding Record[K, func(A) A]
	keySerde Serde[K]
}

// Cogroup starts a cogrouped aggregation with g, whose values aggregator folds in.
func Cogroup[K, V, A any](g *KGroupedStream[K, V], aggregator func(key K, value V, agg A) A, opts ...Option) *CogroupedStream[K, A] {
	cg := &CogroupedStream[K, A]{b: g.s.b, keySerde: g.s.keySerde}
	return CogroupWith(cg, g, aggregator, opts...)
}

// CogroupWith adds g to the aggregation, with its own aggregator.
func CogroupWith[K, V, A any](cg *CogroupedStream[K, A], g *KGroupedStream[K, V], aggregator func(key K, value V, agg A) A, opts ...Option) *CogroupedStream[K, A] {
	if cg.keySerde == nil {
		cg.keySerde = g.s.keySerde
	}
	// Each input turns a record into the update it makes to its key's aggregate, so that one
	// processor, owning the store, applies the updates of every input.
	// NB: as Kafka's, a record with a null key or value is dropped (Stats.DroppedRecords).
	var n *node
	n = child(g.s, "COGROUPKSTREAM-AGGREGATE", opts, func(t *task, next func(Record[K, func(A) A]) error) (func(Record[K, V]) error, error) {
		return func(r Record[K, V]) error {
			if dropNull(t, n.name, r, true) {
				return nil
			}
			return next(Record[K, func(A) A]{Key: r.Key, Timestamp: r.Timestamp, Headers: r.Headers,
				Value: func(agg A) A { return aggregator(r.Key, r.Value, agg) }})
		}, nil
	})
	cg.inputs = append(cg.inputs, n)
	return cg
}

// Aggregate ends the cogrouping: each key's aggregate starts from initial() and is updated by
// the aggregator of the stream each record comes from. aggSerde stores the aggregates;
// Materialized names the store.
func (cg *CogroupedStream[K, A]) Aggregate(initial func() A, aggSerde Serde[A], opts ...Option) *KTable[K, A] {
	b := cg.b
	c := options(opts)
	name := b.nextName("COGROUPKSTREAM-MERGE", c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("COGROUPKSTREAM-AGGREGATE-STATE-STORE-%010d", b.index-1)
	}
	if cg.keySerde == nil || aggSerde == nil {
		b.errorf("%s (store %q): unknown key or aggregate serde", name, store)
	}
	keySerde := cg.keySerde
	n := &node{kind: processorNode, name: name, stores: []string{store}}
	n.instantiate = func(t *task, children []any) (any, error) {
		kv, err := t.store(store)
		if err != nil {
			return nil, err
		}
		typed := statestore.NewTyped(kv, keySerde, aggSerde)
		next := fanout[K, A](children)
		return func(r Record[K, func(A) A]) error {
			old, found, err := typed.Get(r.Key)
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			agg := old
			if !found {
				agg = initial()
			}
			agg = r.Value(agg)
			if err := typed.Put(r.Key, agg); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			return next(Record[K, A]{Key: r.Key, Value: agg, old: old, hasOld: found, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	}
	b.addNode(n, cg.inputs...)
	b.addStore(store, name)
	return &KTable[K, A]{b: b, n: n, store: store, keySerde: keySerde, valueSerde: aggSerde}
}
