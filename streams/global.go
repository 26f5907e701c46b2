package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalKTable is a table replicated in full on every instance of an application (Kafka's
// GlobalKTable): each App reads all partitions of its topic into a local store before it
// processes anything, and keeps reading in a global thread. It is read by joins
// (JoinGlobalTable, LeftJoinGlobalTable) with a key computed from each stream record, so the
// stream needs no co-partitioning with it.
type GlobalKTable[K, V any] struct {
	b          *Builder
	spec       *globalSpec
	keySerde   Serde[K]
	valueSerde Serde[V]
}

// globalSpec is a global table of the topology: its topic and store.
type globalSpec struct {
	topic string
	store string
}

// StoreName is the name of the table's local store.
func (g *GlobalKTable[K, V]) StoreName() string { return g.spec.store }

// GlobalTable reads topic as a GlobalKTable. It is not consumed through the application's
// consumer group: every instance reads every partition, from the start, with no committed
// offsets. A record with a null value deletes its key; one with a null key is skipped.
// Materialized names the store (default <topic>-STATE-STORE-<index>), kept under
// <StateDir>/<ApplicationID>/global/.
//
// NB: the topic is its own changelog, as in Kafka. Close records the offsets the local store
// reflects in <StateDir>/<ApplicationID>/global/<store>/offsets.json, and the next Start
// resumes from them; without that checkpoint, or when it does not fit the topic any more
// (recreated, other partitions, offsets out of range), the store is rebuilt from the start.
func GlobalTable[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...Option) *GlobalKTable[K, V] {
	c := options(opts)
	name := b.nextName("KTABLE-SOURCE", c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("%s-STATE-STORE-%010d", topic, b.index-1)
	}
	if prev, ok := b.sources[topic]; ok {
		b.errorf("topic %q is already the source of %s", topic, prev.name)
	} else {
		b.sources[topic] = &node{kind: sourceNode, topic: topic, name: name}
	}
	if keySerde == nil || valueSerde == nil {
		b.errorf("global table %s of topic %q: key and value serdes are required", name, topic)
	}
	if b.storeName[store] {
		b.errorf("duplicate store name %q", store)
	}
	b.storeName[store] = true
	spec := &globalSpec{topic: topic, store: store}
	b.globals = append(b.globals, spec)
	return &GlobalKTable[K, V]{b: b, spec: spec, keySerde: keySerde, valueSerde: valueSerde}
}

// JoinGlobalTable joins each record of s with the row of g under key(k, v) (Kafka's
// KStream#join(GlobalKTable, KeyValueMapper, ValueJoiner)): records whose key has no row in
// g, or with a null value, are dropped; the result keeps s's key and timestamp. Only the
// stream triggers output.
func JoinGlobalTable[K, V, KG, VG, VR any](s *KStream[K, V], g *GlobalKTable[KG, VG], key func(K, V) KG, joiner func(V, VG) VR, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return joinGlobal(s, g, "KSTREAM-JOIN", opts, key, valueSerde, func(v V, vg VG, ok bool) (VR, bool) {
		if !ok {
			var zero VR
			return zero, false
		}
		return joiner(v, vg), true
	})
}

// LeftJoinGlobalTable is JoinGlobalTable keeping the records whose key has no row in g:
// joiner then gets nil.
func LeftJoinGlobalTable[K, V, KG, VG, VR any](s *KStream[K, V], g *GlobalKTable[KG, VG], key func(K, V) KG, joiner func(V, *VG) VR, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return joinGlobal(s, g, "KSTREAM-LEFTJOIN", opts, key, valueSerde, func(v V, vg VG, ok bool) (VR, bool) {
		return joiner(v, ptr(vg, ok)), true
	})
}

func joinGlobal[K, V, KG, VG, VR any](s *KStream[K, V], gt *GlobalKTable[KG, VG], prefix string, opts []Option, key func(K, V) KG, valueSerde Serde[VR], join func(V, VG, bool) (VR, bool)) *KStream[K, VR] {
	n := child(s, prefix, opts, func(tk *task, next func(Record[K, VR]) error) (func(Record[K, V]) error, error) {
		kv, err := tk.app.globalStore(gt.spec.store)
		if err != nil {
			return nil, err
		}
		get := statestore.NewTyped(kv, gt.keySerde, gt.valueSerde).Get
		g := tk.app.global
		return func(r Record[K, V]) error {
			if failed := g.failed.Load(); failed != nil {
				return *failed
			}
			if r.nullValue {
				return nil
			}
			vg, ok, err := get(key(r.Key, r.Value))
			if err != nil {
				return fmt.Errorf("join with global table %s: %w", gt.spec.store, err)
			}
			out, ok := join(r.Value, vg, ok)
			if !ok {
				return nil
			}
			return next(Record[K, VR]{Key: r.Key, Value: out, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	return derive(s, n, s.keySerde, valueSerde, s.keyChanged)
}

// globalThread keeps the App's global stores: it reads every partition of their topics with a
// group-less consumer. start bootstraps the stores to the end offsets found when it starts;
// then one goroutine applies new records until close.
type globalThread struct {
	app     *App
	client  *kgo.Client
	stores  map[string]*statestore.KeyValueStore // by store name
	byTopic map[string]*statestore.KeyValueStore
	applied atomic.Int64
	// next is the next offset to apply per partition; topicIDs identify the topics. Both are
	// used by the goroutine applying records (Start, then run) and by close after run ends.
	next     map[topicPartition]int64
	topicIDs map[string]kadm.TopicID
	dir      string
	failed   atomic.Pointer[error] // the error that stopped run
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
}

// startGlobals opens and bootstraps the global stores, then starts the global thread. It does
// nothing when the topology has no global table.
func (a *App) startGlobals(ctx context.Context) error {
	if len(a.topo.globals) == 0 {
		return nil
	}
	if a.cfg.StateDir == "" {
		return errors.New("streams: Config.StateDir is required: the topology has global tables")
	}
	g := &globalThread{app: a, stores: map[string]*statestore.KeyValueStore{}, byTopic: map[string]*statestore.KeyValueStore{}}
	a.global = g
	g.dir = filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, "global")
	var topics []string
	for _, spec := range a.topo.globals {
		topics = append(topics, spec.topic)
	}
	adm := kadm.NewClient(a.producer)
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("streams: global table topics %v: %w", topics, err)
	}
	for _, topic := range topics {
		if d, ok := details[topic]; !ok || d.Err != nil {
			return fmt.Errorf("streams: global table topic %q does not exist", topic)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	ends, err2 := adm.ListEndOffsets(ctx, topics...)
	if err == nil && err2 == nil {
		err = ends.Error()
	}
	if err = errors.Join(err, err2); err != nil {
		return fmt.Errorf("streams: global table topics %v: %w", topics, err)
	}
	offsets := map[string]map[int32]kgo.Offset{}
	remaining := map[topicPartition]int64{} // bootstrap: partitions not yet read to their end
	g.next = map[topicPartition]int64{}
	g.topicIDs = map[string]kadm.TopicID{}
	dir := g.dir
	for _, spec := range a.topo.globals {
		id := details[spec.topic].ID
		g.topicIDs[spec.topic] = id
		from, ok := readGlobalCheckpoint(globalCheckpointPath(dir, spec.store), id, starts[spec.topic], ends[spec.topic])
		if _, err := os.Stat(statestore.StoreDir(dir, spec.store, 0)); err != nil {
			ok = false // a checkpoint without its store
		}
		if !ok {
			if err := os.RemoveAll(filepath.Join(dir, spec.store)); err != nil {
				return fmt.Errorf("streams: global store %s: %w", spec.store, err)
			}
			from = map[int32]int64{}
			for p, start := range starts[spec.topic] {
				from[p] = start.Offset
			}
		}
		kv, err := statestore.Open(ctx, statestore.Options{StateDir: dir, Name: spec.store,
			Logger: a.log.With("global", spec.store)})
		if err != nil {
			return fmt.Errorf("streams: global store %s: %w", spec.store, err)
		}
		g.stores[spec.store], g.byTopic[spec.topic] = kv, kv
		offsets[spec.topic] = map[int32]kgo.Offset{}
		for p, off := range from {
			tp := topicPartition{spec.topic, p}
			offsets[spec.topic][p] = kgo.NewOffset().At(off)
			g.next[tp] = off
			if end := ends[spec.topic][p].Offset; end > off {
				remaining[tp] = end
			}
		}
	}
	opts := append([]kgo.Opt{kgo.FetchMaxWait(500 * time.Millisecond)}, a.cfg.ClientOptions...)
	opts = append(opts, kgo.SeedBrokers(a.cfg.BootstrapServers...), kgo.ConsumePartitions(offsets))
	if g.client, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("streams: global consumer: %w", err)
	}
	start := time.Now()
	for len(remaining) > 0 {
		fetches := g.client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("streams: bootstrap global tables: %w", err)
		}
		if err := g.apply(fetches); err != nil {
			return err
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset+1 >= remaining[tp] {
				delete(remaining, tp)
			}
		})
	}
	a.log.Info("global tables bootstrapped", "topics", topics, "records", g.applied.Load(), "took", time.Since(start))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.cancel = cancel
	g.wg.Add(1)
	go g.run(runCtx)
	return nil
}

// apply writes fetched records to their global stores.
func (g *globalThread) apply(fetches kgo.Fetches) error {
	var err error
	fetches.EachError(func(topic string, partition int32, ferr error) {
		if !errors.Is(ferr, context.Canceled) && !errors.Is(ferr, context.DeadlineExceeded) {
			g.app.log.Warn("global table fetch error", "topic", topic, "partition", partition, "err", ferr)
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		if r.Key == nil {
			g.next[topicPartition{r.Topic, r.Partition}] = r.Offset + 1
			return
		}
		kv := g.byTopic[r.Topic]
		var werr error
		if r.Value == nil {
			werr = kv.Delete(r.Key)
		} else {
			werr = kv.Put(r.Key, r.Value)
		}
		if werr != nil {
			err = fmt.Errorf("streams: global table %s: record %s/%d@%d: %w", kv.Name(), r.Topic, r.Partition, r.Offset, werr)
			return
		}
		g.next[topicPartition{r.Topic, r.Partition}] = r.Offset + 1
		g.applied.Add(1)
	})
	return err
}

// run applies new records of the global topics until ctx is cancelled. A store error stops it
// and fails the joins that read the global tables, which stops the App, as a failing global
// thread does in Kafka Streams.
func (g *globalThread) run(ctx context.Context) {
	defer g.wg.Done()
	for {
		fetches := g.client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		if err := g.apply(fetches); err != nil {
			g.app.log.Error("global thread stopped", "err", err)
			g.failed.Store(&err)
			return
		}
	}
}

// close stops the global thread and closes its client and stores. Idempotent; nil-safe.
func (g *globalThread) close() {
	if g == nil {
		return
	}
	g.once.Do(func() {
		if g.cancel != nil {
			g.cancel()
		}
		g.wg.Wait()
		if g.client != nil {
			g.client.Close()
		}
		if g.failed.Load() == nil && g.cancel != nil {
			g.writeCheckpoints()
		}
		for name, kv := range g.stores {
			if err := kv.Close(); err != nil {
				g.app.log.Warn("close global store", "store", name, "err", err)
			}
		}
	})
}

// globalStore returns an open global store of the App.
func (a *App) globalStore(name string) (*statestore.KeyValueStore, error) {
	if a.global == nil || a.global.stores[name] == nil {
		return nil, fmt.Errorf("global store %q is not open", name)
	}
	return a.global.stores[name], nil
}

// globalCheckpoint is the content of a global store's offsets.json.
type globalCheckpoint struct {
	TopicID string           `json:"topic_id"`
	Offsets map[string]int64 `json:"offsets"` // next offset per partition
}

func globalCheckpointPath(dir, store string) string {
	return filepath.Join(dir, store, "offsets.json")
}

// readGlobalCheckpoint returns the offsets to resume a global store from, and false when there
// is no usable checkpoint: none, another topic ID, other partitions, or an offset outside a
// partition's current range.
func readGlobalCheckpoint(path string, id kadm.TopicID, starts, ends map[int32]kadm.ListedOffset) (map[int32]int64, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var cp globalCheckpoint
	if json.Unmarshal(raw, &cp) != nil || cp.TopicID != id.String() || len(cp.Offsets) != len(ends) {
		return nil, false
	}
	from := map[int32]int64{}
	for p, end := range ends {
		off, ok := cp.Offsets[strconv.Itoa(int(p))]
		if !ok || off < starts[p].Offset || off > end.Offset {
			return nil, false
		}
		from[p] = off
	}
	return from, true
}

// writeCheckpoints records, per global store, the offsets its content reflects.
func (g *globalThread) writeCheckpoints() {
	for _, spec := range g.app.topo.globals {
		cp := globalCheckpoint{TopicID: g.topicIDs[spec.topic].String(), Offsets: map[string]int64{}}
		for tp, off := range g.next {
			if tp.topic == spec.topic {
				cp.Offsets[strconv.Itoa(int(tp.partition))] = off
			}
		}
		path := globalCheckpointPath(g.dir, spec.store)
		raw, _ := json.Marshal(cp)
		tmp := path + ".tmp"
		err := os.WriteFile(tmp, raw, 0o644)
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			g.app.log.Warn("global store checkpoint", "store", spec.store, "err", err)
		}
	}
}
