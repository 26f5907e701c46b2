package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"

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
	// position is the next offset to process per input partition, as far as known: restored
	// from the stores' position markers, then advanced by every record. Records below it are
	// already reflected in the state and are skipped.
	position map[topicPartition]int64
	closed   bool
	// windowStores and sessionStores view the window and session stores of the task (their
	// KeyValueStore is in stores too); streamTime is the largest record timestamp the task
	// has processed, -1 before the first (see window_task.go).
	windowStores  map[string]*statestore.WindowStore
	sessionStores map[string]*statestore.SessionStore
	streamTime    int64
	// proc is the Processor API's and timestamps' state (processor.go), nil until used.
	proc *processorState
	// caches are the record caches of the task's aggregations, children first (cache.go).
	caches []cacheFlusher
	// metrics are the task's node metrics (metrics.go), nil when metrics are off.
	metrics *taskMetrics
}

// openTask opens (and restores) the task's stores, then instantiates its processors.
func openTask(ctx context.Context, a *App, st *subtopology, partition int32) (*task, error) {
	t := &task{
		id:       taskID{subtopology: st.id, partition: partition},
		app:      a,
		stores:   map[string]*statestore.KeyValueStore{},
		sources:  map[string]func(*kgo.Record) error{},
		offsets:  map[topicPartition]kgo.EpochOffset{},
		position: map[topicPartition]int64{},

		streamTime: -1,
	}
	// NB: a standby copy of the task's stores on this instance stops being refreshed first.
	a.standbyActivate(t.id)
	for _, name := range st.stores {
		opts := a.storeOptions(name, partition, a.log.With("task", t.id.String()))
		opts.RestoreListener = a.metrics.restoreListener(name, partition)
		opts.RestoreProgressInterval = a.restoreProgressInterval
		kv, err := t.openStore(ctx, name, opts)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("streams: task %s: open store %s: %w", t.id, name, err)
		}
		t.stores[name] = kv
		if err := t.restorePosition(kv); err != nil {
			t.close()
			return nil, fmt.Errorf("streams: task %s: store %s: %w", t.id, name, err)
		}
	}
	a.positions.set(t.id, slices.Collect(maps.Values(t.stores)))
	// NB: the metrics of every node are resolved here, once per task: the records only touch
	// the counters they are handed (see forwardTo).
	t.metrics = a.metrics.openTask(t.id, st)
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
		if t.metrics != nil && !n.countsItself {
			v = instrumented{fn: v, m: t.metrics.nodes[i]}
		}
		inst[n] = v
		if n.kind == sourceNode {
			t.sources[topicName(a.cfg.ApplicationID, n)] = sourceFunc(v)
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
// how many it processed and how many it skipped because the restored state reflects them.
// When a store's buffer fills up, the task commits its stores (not its input offsets).
func (t *task) process(ctx context.Context, topic string, records []*kgo.Record) (processed, skipped int, err error) {
	src := t.sources[topic]
	for _, r := range records {
		tp := topicPartition{r.Topic, r.Partition}
		if r.Offset < t.position[tp] {
			// NB: the restored state reflects it; stream time still moves past it.
			t.advanceStreamTime(r.Timestamp.UnixMilli())
			skipped++
		} else {
			err := t.beforeRecord(r)
			if err == nil {
				t.advanceStreamTime(r.Timestamp.UnixMilli())
				err = src(r)
			}
			if err != nil {
				var derr *DeserializationError
				if !errors.As(err, &derr) || t.app.cfg.DeserializationHandler(deserializationContext{t, r}, derr) != DeserializationContinue {
					return processed, skipped, fmt.Errorf("streams: task %s: record %s/%d@%d: %w", t.id, r.Topic, r.Partition, r.Offset, err)
				}
			}
			processed++
			t.position[tp] = r.Offset + 1
			if err := t.afterRecord(r); err != nil {
				return processed, skipped, fmt.Errorf("streams: task %s: %w", t.id, err)
			}
		}
		t.offsets[tp] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		if t.needsCommit() {
			if err := t.flushCaches(); err != nil {
				return processed, skipped, err
			}
			if err := t.app.flushOutput(ctx); err != nil {
				return processed, skipped, err
			}
			if err := t.flush(ctx); err != nil {
				return processed, skipped, err
			}
		}
	}
	return processed, skipped, nil
}

func (t *task) needsCommit() bool {
	for _, kv := range t.stores {
		if kv.NeedsCommit() {
			return true
		}
	}
	return false
}

// taskPosition is what a task's stores' position markers hold: the next input offset per
// partition ({"<topic>": {"<partition>": nextOffset}}) and the task's stream time.
type taskPosition struct {
	Offsets    map[string]map[string]int64 `json:"offsets"`
	StreamTime int64                       `json:"stream_time"`
}

// encodePosition is the task's position as stored in its stores' markers.
func (t *task) encodePosition() []byte {
	pos := taskPosition{Offsets: map[string]map[string]int64{}, StreamTime: t.streamTime}
	for tp, off := range t.position {
		if pos.Offsets[tp.topic] == nil {
			pos.Offsets[tp.topic] = map[string]int64{}
		}
		pos.Offsets[tp.topic][strconv.Itoa(int(tp.partition))] = off
	}
	b, _ := json.Marshal(pos)
	return b
}

// restorePosition lowers (or sets) the task's position and stream time to those kv was
// restored at: with several stores the task resumes from the earliest, so no store misses an
// input (and stream time moves forward again over the inputs it skips).
func (t *task) restorePosition(kv *statestore.KeyValueStore) error {
	raw := kv.RestoredPosition()
	if raw == nil {
		return nil
	}
	var pos taskPosition
	if err := json.Unmarshal(raw, &pos); err != nil {
		return fmt.Errorf("corrupt position %q: %w", raw, err)
	}
	first := len(t.position) == 0
	for topic, parts := range pos.Offsets {
		for p, off := range parts {
			n, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("corrupt position %q: %w", raw, err)
			}
			tp := topicPartition{topic, int32(n)}
			if cur, ok := t.position[tp]; !ok || off < cur {
				t.position[tp] = off
			}
		}
	}
	if first || pos.StreamTime < t.streamTime {
		t.streamTime = pos.StreamTime
	}
	return nil
}

func (t *task) produce(r *kgo.Record) { t.app.produce(r) }

// flush commits the task's stores with its position: their updates and a position marker
// acked in the changelogs, then written to LevelDB. Outputs must be flushed first.
func (t *task) flush(ctx context.Context) error {
	position := t.encodePosition()
	for name, kv := range t.stores {
		if err := kv.Commit(ctx, position); err != nil {
			return fmt.Errorf("streams: task %s: flush store %s: %w", t.id, name, err)
		}
	}
	t.app.positions.set(t.id, slices.Collect(maps.Values(t.stores)))
	t.metrics.publish()
	return nil
}

// close closes the stores without flushing. Idempotent.
func (t *task) close() {
	if t.closed {
		return
	}
	t.closed = true
	defer t.app.standbyDeactivate(t.id)
	t.metrics.publish()
	t.app.metrics.closeTask(t.id, t.metrics)
	t.closeProcessors()
	for _, c := range t.caches {
		c.dropCache()
	}
	var errs []error
	for _, kv := range t.stores {
		errs = append(errs, kv.Close())
	}
	if err := errors.Join(errs...); err != nil {
		t.app.log.Warn("close task", "task", t.id.String(), "err", err)
	}
}

// storeOptions are the options of one partition of a store of this App, for a task or a standby.
func (a *App) storeOptions(name string, partition int32, log *slog.Logger) statestore.Options {
	return statestore.Options{
		StateDir:  filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID),
		Name:      name,
		Partition: partition,
		Changelog: a.producer,
		// A buffered store commits with the task's position: exact restores.
		WriteCacheEntries: max(a.cfg.CacheMaxEntries, 0),
		TrackPositions:    a.cfg.CacheMaxEntries > 0,
		ApplicationID:     a.cfg.ApplicationID,
		RestoreOptions: append([]kgo.Opt{kgo.SeedBrokers(a.cfg.BootstrapServers...)},
			a.cfg.ClientOptions...),
		Logger: log,
	}
}

// sourceFunc returns a source node's instance as the function records are handed to, counting
// them and sampling their latency when the instance carries metrics.
func sourceFunc(v any) func(*kgo.Record) error {
	in, ok := v.(instrumented)
	if !ok {
		return v.(func(*kgo.Record) error)
	}
	return counted(in.m, in.fn.(func(*kgo.Record) error))
}

// setSourceLag records, per source topic of the fetched batches, how far the last record
// processed is behind the fetch's high watermark.
func (t *task) setSourceLag(batches []fetchBatch) {
	if t.metrics == nil {
		return
	}
	t.metrics.publish()
	for _, b := range batches {
		if l := t.metrics.sourceLag[b.topic]; l != nil && len(b.records) > 0 {
			l.Store(max(0, b.highWatermark-b.records[len(b.records)-1].Offset-1))
		}
	}
}
