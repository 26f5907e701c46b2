package streams

import (
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// ReadOnlyKeyValueStore is the read side of a task's key-value store (App.LocalKeyValueStores).
// *statestore.KeyValueStore implements it; see its documentation for the iterators' contract.
type ReadOnlyKeyValueStore interface {
	Get(key []byte) ([]byte, bool, error)
	Range(from, to []byte) statestore.Iterator
	All() statestore.Iterator
}

// LocalKeyValueStores returns the partitions of the key-value store name that this instance
// holds now, by partition: one per task it runs, as Kafka Streams' KafkaStreams.store serves
// interactive queries from local state. Reads see the updates processed so far, committed or
// not. A rebalance may close a returned store at any time; its methods then fail with
// statestore.ErrClosed. It fails when the topology has no store of that name.
func (a *App) LocalKeyValueStores(name string) (map[int32]ReadOnlyKeyValueStore, error) {
	if _, ok := a.topo.stores[name]; !ok {
		return nil, fmt.Errorf("streams: the topology has no store %q", name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	stores := map[int32]ReadOnlyKeyValueStore{}
	for id, t := range a.mu.tasks {
		if kv, ok := t.stores[name]; ok {
			stores[id.partition] = kv
		}
	}
	return stores, nil
}
