package streams

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// taskID names a task as Kafka Streams does: <sub-topology>_<partition>.
type taskID struct {
	subtopology int
	partition   int32
}

func (id taskID) String() string { return fmt.Sprintf("%d_%d", id.subtopology, id.partition) }

type topicPartition struct {
	topic     string
	partition int32
}

// task runs one sub-topology for one partition number: it owns that partition of each source
// topic and of each store. It is used by one goroutine at a time (the App's, under App.mu).
type task struct {
	id      taskID
	app     *App
	stores  map[string]*statestore.KeyValueStore
	sources map[string]func(*kgo.Record) error // by topic
	// offsets are the next offsets to commit per input partition, for records processed since
	// the last commit.
	offsets map[topicPartition]kgo.EpochOffset
	closed  bool
	// windowStores and sessionStores view the window and session stores of the task (their
	// KeyValueStore is in stores too); streamTime is the largest record timestamp the task
	// has processed, -1 before the first (see window_task.go).
	windowStores  map[string]*statestore.WindowStore
	sessionStores map[string]*statestore.SessionStore
	streamTime    int64
}

// openTask opens (and restores) the task's stores, then instantiates its processors.
func openTask(ctx context.Context, a *App, st *subtopology, partition int32) (*task, error) {
	t := &task{
		id:      taskID{subtopology: st.id, partition: partition},
		app:     a,
		stores:  map[string]*statestore.KeyValueStore{},
		sources: map[string]func(*kgo.Record) error{},
		offsets: map[topicPartition]kgo.EpochOffset{},

		streamTime: -1,
	}
	for _, name := range st.stores {
		kv, err := t.openStore(ctx, name, statestore.Options{
			StateDir:      filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID),
			Name:          name,
			Partition:     partition,
			Changelog:     a.producer,
			ApplicationID: a.cfg.ApplicationID,
			RestoreOptions: append([]kgo.Opt{kgo.SeedBrokers(a.cfg.BootstrapServers...)},
				a.cfg.ClientOptions...),
			Logger: a.log.With("task", t.id.String()),
		})
		if err != nil {
			t.close()
			return nil, fmt.Errorf("streams: task %s: open store %s: %w", t.id, name, err)
		}
		t.stores[name] = kv
	}
	// Children before parents: nodes are in creation order, so walk it backwards.
	inst := map[*node]any{}
	for i := len(st.nodes) - 1; i >= 0; i-- {
		n := st.nodes[i]
		children := make([]any, len(n.children))
		for j, c := range n.children {
			children[j] = inst[c]
		}
		v, err := n.instantiate(t, children)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("streams: task %s: %s: %w", t.id, n.name, err)
		}
		inst[n] = v
		if n.kind == sourceNode {
			t.sources[topicName(a.cfg.ApplicationID, n)] = v.(func(*kgo.Record) error)
		}
	}
	a.log.Info("task opened", "task", t.id.String(), "stores", len(t.stores))
	return t, nil
}

// store returns one of the task's open stores.
func (t *task) store(name string) (*statestore.KeyValueStore, error) {
	kv, ok := t.stores[name]
	if !ok {
		return nil, fmt.Errorf("store %q is not open in task %s", name, t.id)
	}
	return kv, nil
}

// process runs records of one input partition through the task, in offset order, and returns
// how many it processed.
func (t *task) process(topic string, records []*kgo.Record) (int, error) {
	src := t.sources[topic]
	for i, r := range records {
		t.advanceStreamTime(r.Timestamp.UnixMilli())
		if err := src(r); err != nil {
			return i, fmt.Errorf("streams: task %s: record %s/%d@%d: %w", t.id, r.Topic, r.Partition, r.Offset, err)
		}
		t.offsets[topicPartition{r.Topic, r.Partition}] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	}
	return len(records), nil
}

func (t *task) produce(r *kgo.Record) { t.app.produce(r) }

// flush waits until the task's store writes are in their changelogs and checkpointed.
func (t *task) flush(ctx context.Context) error {
	for name, kv := range t.stores {
		if err := kv.Flush(ctx); err != nil {
			return fmt.Errorf("streams: task %s: flush store %s: %w", t.id, name, err)
		}
	}
	return nil
}

// close closes the stores without flushing. Idempotent.
func (t *task) close() {
	if t.closed {
		return
	}
	t.closed = true
	var errs []error
	for _, kv := range t.stores {
		errs = append(errs, kv.Close())
	}
	if err := errors.Join(errs...); err != nil {
		t.app.log.Warn("close task", "task", t.id.String(), "err", err)
	}
}
