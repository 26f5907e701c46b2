package streams

import (
	"context"
	"fmt"

	"github.com/gregor-streams/gregor/statestore"
)

// storeKind is the kind of a topology's state store.
type storeKind int

const (
	keyValueStore storeKind = iota
	windowStore
	sessionStore
)

// findWindowedAggregation returns the nearest windowed aggregation at or above n, walking up
// single-parent chains (ToStream, Filter, ... keep the windows of their parent).
func findWindowedAggregation(n *node) *node {
	for n != nil {
		if n.window != nil {
			return n
		}
		if len(n.parents) != 1 {
			return nil
		}
		n = n.parents[0]
	}
	return nil
}

// addWindowedStore registers a window or session store with its retention (windowRule.retention).
func (b *Builder) addWindowedStore(name, owner string, kind storeKind, retentionMs int64) {
	b.addStore(name, owner)
	s := b.stores[len(b.stores)-1]
	s.kind = kind
	s.retention = msDuration(max(retentionMs, 1))
}

// changelogSpec is the changelog topic of the store: compacted for a key-value store;
// compact,delete with retention.ms = retention + 1 day for a window or session store (Kafka
// Streams' windowstore.changelog.additional.retention.ms).
func (s *storeSpec) changelogSpec(topic string, partitions int32) statestore.InternalTopic {
	if s == nil || s.kind == keyValueStore {
		return statestore.ChangelogTopicSpec(topic, partitions)
	}
	return statestore.WindowedChangelogTopicSpec(topic, partitions, s.retention)
}

// openStore opens one of the task's stores according to its kind. The KeyValueStore it
// returns is the store's (for a window or session store, the one underneath), which the task
// flushes and closes.
func (t *task) openStore(ctx context.Context, name string, opts statestore.Options) (*statestore.KeyValueStore, error) {
	spec := t.app.topo.stores[name]
	if spec == nil || spec.kind == keyValueStore {
		return statestore.Open(ctx, opts)
	}
	// NB: window and session stores are buffered and take position markers like key-value
	// stores (their time index is written at Commit), so windowed state is exact across a crash.
	switch spec.kind {
	case windowStore:
		ws, err := statestore.OpenWindowStore(ctx, opts, spec.retention)
		if err != nil {
			return nil, err
		}
		if t.windowStores == nil {
			t.windowStores = map[string]*statestore.WindowStore{}
		}
		t.windowStores[name] = ws
		return ws.Store(), nil
	case sessionStore:
		ss, err := statestore.OpenSessionStore(ctx, opts, spec.retention)
		if err != nil {
			return nil, err
		}
		if t.sessionStores == nil {
			t.sessionStores = map[string]*statestore.SessionStore{}
		}
		t.sessionStores[name] = ss
		return ss.Store(), nil
	}
	return nil, fmt.Errorf("store %q has unknown kind %d", name, spec.kind)
}

// windowStore returns one of the task's open window stores.
func (t *task) windowStore(name string) (*statestore.WindowStore, error) {
	ws, ok := t.windowStores[name]
	if !ok {
		return nil, fmt.Errorf("window store %q is not open in task %s", name, t.id)
	}
	return ws, nil
}

// sessionStore returns one of the task's open session stores.
func (t *task) sessionStore(name string) (*statestore.SessionStore, error) {
	ss, ok := t.sessionStores[name]
	if !ok {
		return nil, fmt.Errorf("session store %q is not open in task %s", name, t.id)
	}
	return ss, nil
}

// advanceStreamTime moves the task's stream time to ts if ts is later. Kafka Streams' stream
// time is the same: the largest timestamp of the records the task has taken for processing.
//
// NB: stream time starts at -1 when a task opens (after a restart or a rebalance) and is not
// restored with the stores; until the first record arrives no window closes, so a restart
// delays final results (Suppress) and late-record drops until new records arrive, never
// emits them early.
func (t *task) advanceStreamTime(ts int64) {
	if ts > t.streamTime {
		t.streamTime = ts
	}
}

// dropNull counts and logs (at debug level) a record an aggregation drops because its key (or,
// for a stream aggregation, its value) is null, as Kafka Streams' aggregations do. It reports
// whether r is such a record.
func dropNull[K, V any](t *task, processor string, r Record[K, V], valueToo bool) bool {
	if !r.nullKey && !(valueToo && r.nullValue) {
		return false
	}
	t.app.droppedRecords.Add(1)
	t.app.log.Debug("skipping record with a null key or value", "task", t.id.String(),
		"processor", processor, "null_key", r.nullKey, "null_value", r.nullValue, "timestamp", r.Timestamp)
	return true
}

// dropLate counts and logs (at debug level) a record dropped because its window had closed.
func (t *task) dropLate(processor string, ts, windowStart, windowEnd int64) {
	t.app.droppedRecords.Add(1)
	t.app.log.Debug("skipping record for closed window", "task", t.id.String(),
		"processor", processor, "timestamp", ts, "window_start", windowStart, "window_end", windowEnd,
		"stream_time", t.streamTime)
}
