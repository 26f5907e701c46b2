package streams

import (
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// Table reads topic as a KTable: the latest value per key, materialized in a key-value store.
// A record with a null value deletes its key (a tombstone) and is forwarded as a delete; a
// record with a null key is dropped, as Kafka Streams does. Every update is forwarded with the
// key's previous value, which table operations downstream (Filter, joins) use to retract
// results.
//
// Named names the KTABLE-SOURCE processor and Materialized its store (by default
// <topic>-STATE-STORE-<index>). NB: the store has its own changelog,
// <ApplicationID>-<store>-changelog, as Kafka Streams without topology.optimization: the
// input topic is not reused as the changelog, so the table restores from a compacted topic the
// application owns, whatever the input topic's retention.
func Table[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...Option) *KTable[K, V] {
	c := options(opts)
	src := Stream(b, topic, keySerde, valueSerde)
	name := b.nextName("KTABLE-SOURCE", c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("%s-STATE-STORE-%010d", topic, b.index-1)
	}
	n := &node{kind: processorNode, name: name, stores: []string{store}}
	n.instantiate = func(t *task, children []any) (any, error) {
		kv, err := t.store(store)
		if err != nil {
			return nil, err
		}
		typed := statestore.NewTyped(kv, keySerde, valueSerde)
		next := fanout[K, V](children)
		return func(r Record[K, V]) error {
			if r.nullKey {
				t.app.log.Debug("table source: dropping a record with a null key", "topic", topic)
				return nil
			}
			old, found, err := typed.Get(r.Key)
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			if r.nullValue {
				err = typed.Delete(r.Key)
			} else {
				err = typed.Put(r.Key, r.Value)
			}
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			r.old, r.hasOld = old, found
			return next(r)
		}, nil
	}
	b.addNode(n, src.n)
	b.addStore(store, name)
	return &KTable[K, V]{b: b, n: n, store: store, keySerde: keySerde, valueSerde: valueSerde}
}
