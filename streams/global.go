package streams

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// NB: the topic is its own changelog (Kafka does the same), and the local store is rebuilt from
// the start of the topic at every Start: there is no local checkpoint of the global thread's
// offsets yet, so a large global topic costs a full read per start.
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
	failed  atomic.Pointer[error] // the error that stopped run
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
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
	var topics []string
	for _, spec := range a.topo.globals {
		topics = append(topics, spec.topic)
	}
	ends, err := kadm.NewClient(a.producer).ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("streams: global table topics %v: %w", topics, err)
	}
	offsets := map[string]map[int32]kgo.Offset{}
	remaining := map[topicPartition]int64{} // bootstrap: partitions not yet read to their end
	for _, spec := range a.topo.globals {
		if _, ok := ends[spec.topic]; !ok {
			return fmt.Errorf("streams: global table topic %q does not exist", spec.topic)
		}
		dir := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, "global")
		if err := os.RemoveAll(statestore.StoreDir(dir, spec.store, 0)); err != nil {
			return fmt.Errorf("streams: global store %s: %w", spec.store, err)
		}
		kv, err := statestore.Open(ctx, statestore.Options{StateDir: dir, Name: spec.store,
			Logger: a.log.With("global", spec.store)})
		if err != nil {
			return fmt.Errorf("streams: global store %s: %w", spec.store, err)
		}
		g.stores[spec.store], g.byTopic[spec.topic] = kv, kv
		offsets[spec.topic] = map[int32]kgo.Offset{}
		for p, end := range ends[spec.topic] {
			offsets[spec.topic][p] = kgo.NewOffset().AtStart()
			if end.Offset > 0 {
				remaining[topicPartition{spec.topic, p}] = end.Offset
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
		if err != nil || r.Key == nil {
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
