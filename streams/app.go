package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/internal/dirlock"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config configures an App. Names follow Kafka Streams' settings (application.id,
// bootstrap.servers, state.dir, commit.interval.ms).
type Config struct {
	// ApplicationID names the application: it is the consumer group id and the prefix of its
	// internal topics (<ApplicationID>-<store>-changelog). Required.
	ApplicationID string
	// BootstrapServers are host:port seed brokers. Required.
	BootstrapServers []string
	// StateDir is the root of the local state; stores live in
	// <StateDir>/<ApplicationID>/<store>/<partition>/. Required when the topology has stores.
	StateDir string
	// CommitInterval is how often processed input offsets are committed, after flushing
	// stores and output (commit.interval.ms). Default 30s, as Kafka Streams at-least-once.
	CommitInterval time.Duration
	// CacheMaxEntries is how many updated keys each key-value store buffers in memory between
	// commits (Kafka Streams' record cache): only the latest update per key goes to LevelDB and
	// the changelog, in one batch. When a store's buffer is full the task commits its stores
	// early (not its input offsets). Default 10000; negative turns buffering off (every update
	// is written through, and restores are at-least-once instead of exact).
	CacheMaxEntries int
	// CacheMaxBytes bounds the record caches of this instance's tasks together (Kafka Streams'
	// statestore.cache.max.bytes, formerly cache.max.bytes.buffering): an aggregation (Count,
	// Reduce, Aggregate, windowed aggregations) forwards the latest value of each key when its
	// cache flushes, at every commit (CommitInterval) or when the caches are full, instead of
	// every intermediate update; its store is still written at once. Default 10 MiB, as Kafka;
	// negative turns caching off (every update is forwarded). WithCachingDisabled turns it off
	// for one store.
	CacheMaxBytes int64
	// NumStandbyReplicas is how many other instances keep a standby copy of each task's
	// stores (Kafka Streams' num.standby.replicas, default 0): they restore the changelogs'
	// tails in the background, and when the task's instance fails the task moves to one of
	// them (the assignor places a task where its state is) and resumes after restoring only
	// what the standby had not caught up with.
	NumStandbyReplicas int
	// AcceptableRecoveryLag, MaxWarmupReplicas and ProbingRebalanceInterval are Kafka Streams'
	// acceptable.recovery.lag (default 10000 changelog records), max.warmup.replicas (default
	// 2) and probing.rebalance.interval.ms (default 10 minutes): a stateful task that a
	// rebalance would move to a member more than AcceptableRecoveryLag behind on its stores
	// stays where it runs, and that member gets a warm-up replica of it (restored in the
	// background like a standby); members rejoin every ProbingRebalanceInterval while warm-ups
	// are out, and the task moves once its new member has caught up.
	AcceptableRecoveryLag    int64
	MaxWarmupReplicas        int
	ProbingRebalanceInterval time.Duration
	// DeserializationHandler decides what happens to an input record whose key or value the
	// source's serde rejects: LogAndFail (the default) stops the App with an error naming the
	// topic, partition and offset; LogAndContinue skips it; SendToDeadLetterTopic(topic) copies
	// it to a dead-letter topic with error headers and skips it.
	DeserializationHandler DeserializationHandler
	// ProcessingGuarantee is Kafka Streams' processing.guarantee: "at_least_once" (the
	// default, also ""). Outputs are at least once; state (key-value, window and session
	// stores) is exact across crashes
	// (see the package doc). "exactly_once_v2" needs transactions, which Gregor does not have
	// yet: New rejects it rather than silently giving less.
	ProcessingGuarantee string
	// NumWorkers is how many tasks process records at the same time, each on its own goroutine
	// (num.stream.threads, within one group member). Default 1. With more than one, the
	// functions given to the DSL may run concurrently for different tasks.
	NumWorkers int
	// ApplicationServer is this instance's host:port for interactive queries
	// (application.server): the group learns which instance runs which task, so KeyOwner and
	// Handler can send a query for a key to its owner. Optional.
	ApplicationServer string
	// StateListener, if set, is told of every state change (CREATED → REBALANCING → RUNNING ...).
	StateListener StateListener
	// ReplicationFactor of the internal topics the App creates; 0 means the broker's default.
	ReplicationFactor int16
	// ClientOptions are extra kgo options for every client the App makes (TLS, SASL, ...).
	ClientOptions []kgo.Opt
	// Logger receives the App's logs; default slog.Default(). The App adds component=streams.
	Logger *slog.Logger
	// TimestampExtractor gives the timestamps of the records of every source topic that has
	// none of its own (WithTimestampExtractor), as default.timestamp.extractor does; nil is
	// RecordTimestamp. Repartition topics always use the records' own timestamps.
	TimestampExtractor TimestampExtractor
	// Clock is the wall-clock time of wall-clock punctuations (PunctuationType); nil is the
	// system clock. Tests give a ManualClock.
	Clock Clock
	// InstanceID names this instance of the application in its metrics (label instance) and in
	// the console (ConsolePublishInterval); it must be unique among the running instances of
	// the application. Default: the host name and a random suffix, new for every App.
	InstanceID string
	// MetricsRegisterer receives the App's Prometheus metrics (gregor_streams_*, see
	// docs/streams-console.md), labelled application_id and instance, from Start until Close
	// unregisters them. Default prometheus.DefaultRegisterer.
	MetricsRegisterer prometheus.Registerer
	// DisableMetrics turns the App's metrics off (nothing is registered, nothing counted).
	DisableMetrics bool
	// ConsolePublishInterval is how often the App writes its description, state and per-node
	// metrics to the compacted topic __gregor_streams_apps for the console
	// (console.publish.interval.ms): at Start, then at this interval; Close writes a
	// tombstone. Default 5s; negative turns publishing off (console.publish.interval.ms=0).
	ConsolePublishInterval time.Duration
}

// DefaultCommitInterval is Kafka Streams' commit.interval.ms under at-least-once.
const DefaultCommitInterval = 30 * time.Second

// AtLeastOnce is the processing.guarantee the App provides.
const AtLeastOnce = "at_least_once"

// DefaultCacheMaxEntries is the default Config.CacheMaxEntries.
const DefaultCacheMaxEntries = 10000

// closeTimeout bounds the final flush and commit of Close and of revocations.
const closeTimeout = 30 * time.Second

// ErrCoPartitioning is returned (wrapped, naming the topics and their partition counts) by
// Start when source topics that feed one sub-topology have different partition counts.
var ErrCoPartitioning = errors.New("streams: source topics are not co-partitioned")

// App runs a Topology: it joins the consumer group ApplicationID, runs one task per
// sub-topology and input partition number, and commits at least once. Create it with New,
// then Start, then Close.
type App struct {
	topo *Topology
	cfg  Config
	log  *slog.Logger

	producer *kgo.Client // outputs and changelogs
	// stateLock is the lock of <StateDir>/<ApplicationID>, held from Start to Close.
	stateLock *dirlock.Lock
	// standby is the standby replicas' state (standby.go); positions how far this instance's
	// copies of tasks' stores are, probe the pending probing rebalance (warmup.go).
	standby   standbys
	positions positions
	probe     probeState
	consumer  *kgo.Client // the group member

	// global holds the global tables' stores and thread; nil without global tables.
	global *globalThread

	cancel    context.CancelFunc
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once

	// closing is set by Close before it cancels the loop, so that the loop tells Close from
	// the end of the context given to Start.
	closing atomic.Bool

	subOf         map[string]*subtopology // sub-topology per full source topic name
	sourceTopics  []string                // full names, sorted
	repartitions  map[string]*subtopology // repartition topic → the sub-topology writing it
	readerSized   map[string]*subtopology // internal topic sized by the sub-topology reading it
	partitions    map[string]int32        // partition count per source topic, known after Start
	subPartitions map[int]int32           // partition count per sub-topology, known after Start

	// mu guards the tasks and the App's error. The run loop holds it while processing a
	// fetch or committing; kgo's revoke/lost callbacks take it. NB: with BlockRebalanceOnPoll
	// those callbacks never run while the loop processes, so mu is not contended; it is
	// there to make the handover between goroutines explicit.
	mu struct {
		sync.Mutex
		tasks      map[taskID]*task
		err        error
		lastCommit time.Time
		stats      Stats
	}
	produceMu  sync.Mutex
	produceErr error
	state      stateMachine
	iq         iqState
	// cacheBytes is what the tasks' record caches hold (cache.go).
	cacheBytes atomic.Int64
	// droppedRecords counts records dropped for closed windows (window_task.go).
	droppedRecords atomic.Int64
	// wake lets a ManualClock interrupt the loop's poll (punctuation.go).
	wake wakeState
	// metrics are the App's Prometheus metrics (metrics.go), nil when disabled.
	metrics *metrics
	// restoreProgressInterval is how often task stores log restore progress; 0 is statestore's
	// default (5s). Tests shorten it (export_test.go).
	restoreProgressInterval time.Duration
	// console publishes the App to __gregor_streams_apps (console.go).
	console consolePublisher
}

// New checks cfg and prepares an App for topology. It does not contact Kafka; Start does.
func New(topology *Topology, cfg Config) (*App, error) {
	if topology == nil {
		return nil, errors.New("streams: nil topology")
	}
	if cfg.ApplicationID == "" {
		return nil, errors.New("streams: Config.ApplicationID is required")
	}
	if len(cfg.BootstrapServers) == 0 {
		return nil, errors.New("streams: Config.BootstrapServers is required")
	}
	if len(topology.stores) > 0 && cfg.StateDir == "" {
		return nil, errors.New("streams: Config.StateDir is required: the topology has state stores")
	}
	if cfg.DeserializationHandler == nil {
		cfg.DeserializationHandler = LogAndFail
	}
	switch cfg.ProcessingGuarantee {
	case "", AtLeastOnce:
		cfg.ProcessingGuarantee = AtLeastOnce
	case "exactly_once", "exactly_once_beta", "exactly_once_v2":
		return nil, fmt.Errorf("streams: Config.ProcessingGuarantee %q is not supported yet (it needs transactions); use %q", cfg.ProcessingGuarantee, AtLeastOnce)
	default:
		return nil, fmt.Errorf("streams: Config.ProcessingGuarantee %q is not one of %q, \"exactly_once_v2\"", cfg.ProcessingGuarantee, AtLeastOnce)
	}
	if cfg.NumWorkers <= 0 {
		cfg.NumWorkers = 1
	}
	if cfg.CacheMaxEntries == 0 {
		cfg.CacheMaxEntries = DefaultCacheMaxEntries
	}
	if cfg.AcceptableRecoveryLag <= 0 {
		cfg.AcceptableRecoveryLag = DefaultAcceptableRecoveryLag
	}
	if cfg.MaxWarmupReplicas <= 0 {
		cfg.MaxWarmupReplicas = DefaultMaxWarmupReplicas
	}
	if cfg.ProbingRebalanceInterval <= 0 {
		cfg.ProbingRebalanceInterval = DefaultProbingRebalanceInterval
	}
	if cfg.CacheMaxBytes == 0 {
		cfg.CacheMaxBytes = DefaultCacheMaxBytes
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	if cfg.ConsolePublishInterval == 0 {
		cfg.ConsolePublishInterval = DefaultConsolePublishInterval
	}
	a := &App{
		topo: topology,
		cfg:  cfg,
		log:  cfg.Logger.With("component", "streams", "application.id", cfg.ApplicationID),
		done: make(chan struct{}),
	}
	a.state.listener = cfg.StateListener
	a.state.changed = make(chan struct{}, 1)
	a.mu.tasks = map[taskID]*task{}
	a.subOf = map[string]*subtopology{}
	a.repartitions = map[string]*subtopology{}
	a.readerSized = map[string]*subtopology{}
	for _, st := range topology.subs {
		for _, n := range st.sources {
			topic := topicName(cfg.ApplicationID, n)
			a.subOf[topic] = st
			a.sourceTopics = append(a.sourceTopics, topic)
			if n.sizedByReader {
				a.readerSized[topic] = st
			}
		}
		for _, n := range st.nodes {
			if n.kind == sinkNode && n.internal && !n.sizedByReader {
				a.repartitions[topicName(cfg.ApplicationID, n)] = st
			}
		}
	}
	a.sizeRepartitionsByExternalReaders()
	sort.Strings(a.sourceTopics)
	a.metrics = newMetrics(a)
	return a, nil
}

// Start checks the source topics (they must exist, and the topics of one sub-topology must
// have the same partition count), creates the internal topics, joins the group and starts
// processing in the background. Processing stops when ctx is cancelled, on a processing error
// (see Err), or on Close; in all cases Close must be called to release the clients.
//
// ctx bounds the App's whole life, not only its start: when it ends, the App commits what it
// processed, closes its tasks, leaves the group (so that the other instances take its
// partitions over at once), moves to PendingShutdown and closes Done. A timeout meant for the
// start alone belongs on a context that only wraps the start.
func (a *App) Start(ctx context.Context) error {
	err := errors.New("streams: Start called twice")
	a.startOnce.Do(func() { err = a.start(ctx) })
	return err
}

func (a *App) start(ctx context.Context) error {
	if err := a.lockStateDir(); err != nil {
		return err
	}
	if err := a.metrics.register(); err != nil {
		return err
	}
	internal := map[string]bool{} // produced to with the manual partitioner
	for name := range a.topo.stores {
		internal[statestore.ChangelogTopic(a.cfg.ApplicationID, name)] = true
	}
	popts := append(statestore.ProducerOptions(), a.cfg.ClientOptions...)
	popts = append(popts, kgo.SeedBrokers(a.cfg.BootstrapServers...),
		// Changelogs go to the task's partition; outputs are partitioned by key hash.
		kgo.RecordPartitioner(partitioner{manual: internal, byKey: kgo.StickyKeyPartitioner(nil)}))
	producer, err := kgo.NewClient(popts...)
	if err != nil {
		return fmt.Errorf("streams: producer: %w", err)
	}
	a.producer = producer
	if err := a.checkTopics(ctx); err != nil {
		return err
	}
	if err := a.createInternalTopics(ctx); err != nil {
		return err
	}
	if err := a.startGlobals(ctx); err != nil {
		return err
	}
	copts := []kgo.Opt{
		// NB: Kafka's consumer default (fetch.max.wait.ms=500), which Kafka Streams keeps;
		// kgo's own is 5s. ClientOptions may override it.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	copts = append(copts, a.cfg.ClientOptions...)
	copts = append(copts,
		kgo.SeedBrokers(a.cfg.BootstrapServers...),
		kgo.ConsumerGroup(a.cfg.ApplicationID),
		kgo.ConsumeTopics(a.sourceTopics...),
		// The task assignor keeps a task's co-partitioned inputs together and tasks where they
		// ran (or where their state is). NB: it is cooperative: a rebalance revokes only the
		// tasks that move, and the others keep running.
		kgo.Balancers(taskBalancer{a}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onLost),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { a.state.set(Running) }),
	)
	consumer, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("streams: consumer: %w", err)
	}
	a.consumer = consumer
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	context.AfterFunc(ctx, cancel)
	a.mu.lastCommit = time.Now()
	a.state.set(Rebalancing)
	a.joinClock()
	a.startStandbys()
	go a.run(runCtx, ctx)
	a.startConsole()
	a.log.Info("started", "topics", a.sourceTopics, "instance", a.cfg.InstanceID)
	return nil
}

// checkTopics reads the partition counts of the source topics, derives those of the
// repartition topics (each gets the count of the sub-topology writing it) and checks that the
// topics read by each sub-topology are co-partitioned.
func (a *App) checkTopics(ctx context.Context) error {
	var external []string
	for _, topic := range a.sourceTopics {
		if a.repartitions[topic] == nil && a.readerSized[topic] == nil {
			external = append(external, topic)
		}
	}
	details, err := kadm.NewClient(a.producer).ListTopics(ctx, external...)
	if err != nil {
		return fmt.Errorf("streams: list source topics: %w", err)
	}
	a.partitions = map[string]int32{}
	for _, topic := range external {
		d, ok := details[topic]
		if !ok || d.Err != nil {
			derr := error(kerr.UnknownTopicOrPartition)
			if ok {
				derr = d.Err
			}
			return fmt.Errorf("streams: source topic %q: %w", topic, derr)
		}
		a.partitions[topic] = int32(len(d.Partitions))
	}
	// Sub-topologies fed by repartition topics follow those that write them; the graph is
	// acyclic, so len(subs) passes settle every count.
	a.subPartitions = map[int]int32{}
	for range a.topo.subs {
		for _, st := range a.topo.subs {
			if _, done := a.subPartitions[st.id]; done {
				continue
			}
			known := true
			for _, n := range st.sources {
				topic := topicName(a.cfg.ApplicationID, n)
				if w := a.repartitions[topic]; w != nil {
					if c, ok := a.subPartitions[w.id]; ok {
						a.partitions[topic] = c
					} else {
						known = false
					}
				}
			}
			if !known {
				continue
			}
			a.sizeByReader(st)
			if err := a.checkCoPartitioned(st); err != nil {
				return err
			}
			a.subPartitions[st.id] = a.partitions[topicName(a.cfg.ApplicationID, st.sources[0])]
		}
	}
	return nil
}

// checkCoPartitioned fails when the source topics of st have different partition counts.
func (a *App) checkCoPartitioned(st *subtopology) error {
	first := a.partitions[topicName(a.cfg.ApplicationID, st.sources[0])]
	for _, n := range st.sources[1:] {
		if a.partitions[topicName(a.cfg.ApplicationID, n)] == first {
			continue
		}
		counts := make([]string, len(st.sources))
		for i, n := range st.sources {
			topic := topicName(a.cfg.ApplicationID, n)
			counts[i] = fmt.Sprintf("%q has %d", topic, a.partitions[topic])
		}
		sort.Strings(counts)
		return fmt.Errorf("%w: sub-topology %d reads topics whose partition counts differ (%s); they must be equal",
			ErrCoPartitioning, st.id, strings.Join(counts, ", "))
	}
	return nil
}

// createInternalTopics creates the changelog of every store and every repartition topic with
// its sub-topology's partition count, and fails if one exists with another count.
func (a *App) createInternalTopics(ctx context.Context) error {
	var specs []statestore.InternalTopic
	for _, st := range a.topo.subs {
		for _, store := range st.stores {
			specs = append(specs, a.topo.stores[store].changelogSpec(statestore.ChangelogTopic(a.cfg.ApplicationID, store), a.subPartitions[st.id]))
		}
	}
	for topic, writer := range a.repartitions {
		// NB: Kafka Streams also purges consumed repartition records (DeleteRecords); until
		// that is done here, retention bounds the topic.
		specs = append(specs, statestore.InternalTopic{Name: topic, Partitions: a.subPartitions[writer.id],
			Configs: map[string]string{"cleanup.policy": "delete"}})
	}
	specs = append(specs, a.readerSizedTopics()...)
	for i := range specs {
		specs[i].ReplicationFactor = a.cfg.ReplicationFactor
	}
	if len(specs) == 0 {
		return nil
	}
	if err := statestore.EnsureTopics(ctx, a.producer, specs...); err != nil {
		return fmt.Errorf("streams: internal topics: %w", err)
	}
	return nil
}

// run is the processing loop, the one goroutine that owns the tasks between rebalances. ctx
// ends with Close or with startCtx, the context given to Start.
func (a *App) run(ctx, startCtx context.Context) {
	defer close(a.done)
	defer a.leaveClock()
	for {
		a.mu.Lock()
		wait := a.cfg.CommitInterval - time.Since(a.mu.lastCommit)
		wait = min(wait, a.untilWallClockPunctuationLocked())
		a.mu.Unlock()
		pollCtx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		a.armWakeup(cancel)
		fetches := a.consumer.PollFetches(pollCtx)
		a.disarmWakeup()
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			a.consumer.AllowRebalance()
			a.stop(startCtx)
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				a.log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		a.mu.Lock()
		err := a.openAssignedLocked(ctx)
		if err == nil {
			err = a.processLocked(ctx, fetches)
		}
		if err == nil {
			err = a.punctuateWallClockLocked(ctx)
		}
		if err == nil && time.Since(a.mu.lastCommit) >= a.cfg.CommitInterval {
			// NB: not ctx: Close cancels ctx, and must not abort a commit half-way.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			err = a.commitLocked(cctx, a.allTasksLocked())
			cancel()
		}
		cancelled := err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)
		if err != nil && !cancelled {
			a.failLocked(err)
		}
		a.mu.Unlock()
		a.consumer.AllowRebalance()
		if cancelled {
			// Close (or the end of startCtx) interrupted a restore: not a failure. What was
			// processed is committed.
			a.stop(startCtx)
			return
		}
		if err != nil {
			// NB: an App stopped by an error leaves the group at once, as a Kafka Streams client
			// does when its thread dies, so that other instances take over its tasks instead of
			// waiting for Close (kgo has no max.poll.interval.ms to evict a member that stopped
			// polling but still heartbeats).
			lctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			if lerr := a.consumer.LeaveGroupContext(lctx); lerr != nil {
				a.log.Warn("leaving the group after an error", "err", lerr)
			}
			cancel()
			return
		}
	}
}

// openAssignedLocked opens (restoring their stores) the tasks assigned to this instance that
// are not open yet, so that their stores answer queries before their first input arrives.
func (a *App) openAssignedLocked(ctx context.Context) error {
	for _, id := range a.assignedTasks() {
		if a.mu.tasks[id] != nil || id.subtopology >= len(a.topo.subs) {
			continue
		}
		if _, err := a.openTaskLocked(ctx, a.topo.subs[id.subtopology], id.partition); err != nil {
			return err
		}
	}
	return nil
}

// openTaskLocked opens a task and registers it and its stores.
func (a *App) openTaskLocked(ctx context.Context, st *subtopology, partition int32) (*task, error) {
	t, err := openTask(ctx, a, st, partition)
	if err != nil {
		return nil, err
	}
	a.mu.tasks[t.id] = t
	a.registerStores(t)
	a.mu.stats.TasksOpened++
	for _, kv := range t.stores {
		a.mu.stats.RecordsRestored += kv.Stats().RecordsRestored
	}
	return t, nil
}

// processLocked runs each fetched record through its task, opening tasks on first use. A task
// with records from several partitions in the fetch (a merge or a join of co-partitioned
// topics) processes them in timestamp order across those partitions.
func (a *App) processLocked(ctx context.Context, fetches kgo.Fetches) error {
	var order []taskID
	byTask := map[taskID][]fetchBatch{}
	subs := map[taskID]*subtopology{}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		st := a.subOf[p.Topic]
		if st == nil || len(p.Records) == 0 {
			return
		}
		id := taskID{subtopology: st.id, partition: p.Partition}
		if _, ok := byTask[id]; !ok {
			order = append(order, id)
			subs[id] = st
		}
		byTask[id] = append(byTask[id], fetchBatch{p.Topic, p.Records, p.HighWatermark})
	})
	tasks := make([]*task, len(order))
	for i, id := range order {
		t := a.mu.tasks[id]
		if t == nil {
			var err error
			if t, err = a.openTaskLocked(ctx, subs[id], id.partition); err != nil {
				return err
			}
		}
		tasks[i] = t
	}
	type result struct{ processed, skipped int64 }
	results := make([]result, len(order))
	errs := make([]error, len(order))
	run := func(i int) {
		results[i].processed, results[i].skipped, errs[i] = a.processTask(ctx, tasks[i], byTask[order[i]])
	}
	if workers := min(a.cfg.NumWorkers, len(order)); workers <= 1 {
		for i := range order {
			if run(i); errs[i] != nil {
				break
			}
		}
	} else {
		// NB: tasks are independent (own stores, own offsets; the producer is shared and
		// goroutine-safe), so a fetch's tasks run side by side, each on one goroutine.
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					run(i)
				}
			})
		}
		for i := range order {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	for i := range order {
		a.mu.stats.RecordsProcessed += results[i].processed
		a.mu.stats.RecordsSkippedAsRestored += results[i].skipped
	}
	return errors.Join(errs...)
}

// processTask runs one task's fetched batches, in timestamp order across its partitions.
func (a *App) processTask(ctx context.Context, t *task, batches []fetchBatch) (processed, skipped int64, err error) {
	heads := make([]int, len(batches))
	{
		for {
			// The batch whose next record is the oldest goes next, for as long as its records
			// are no newer than every other batch's next one.
			next, limit := -1, int64(math.MaxInt64)
			for i, b := range batches {
				if heads[i] == len(b.records) {
					continue
				}
				ts := b.records[heads[i]].Timestamp.UnixMilli()
				if next < 0 || ts < batches[next].records[heads[next]].Timestamp.UnixMilli() {
					next = i
				}
			}
			if next < 0 {
				break
			}
			for i, b := range batches {
				if i != next && heads[i] < len(b.records) {
					limit = min(limit, b.records[heads[i]].Timestamp.UnixMilli())
				}
			}
			b := batches[next]
			end := heads[next] + 1
			for end < len(b.records) && b.records[end].Timestamp.UnixMilli() <= limit {
				end++
			}
			n, s, err := t.process(ctx, b.topic, b.records[heads[next]:end])
			processed += int64(n)
			skipped += int64(s)
			if err != nil {
				return processed, skipped, err
			}
			heads[next] = end
		}
	}
	t.setSourceLag(batches)
	return processed, skipped, nil
}

// fetchBatch is the fetched records of one partition.
type fetchBatch struct {
	topic         string
	records       []*kgo.Record
	highWatermark int64
}

func (a *App) allTasksLocked() []*task {
	ts := make([]*task, 0, len(a.mu.tasks))
	for _, t := range a.mu.tasks {
		ts = append(ts, t)
	}
	return ts
}

// commitLocked is the at-least-once commit: flush the producer (outputs acked), commit the
// tasks' stores (their updates, then a marker with the task's input position, acked and then
// written to LevelDB), and only then commit the input offsets the tasks have processed.
//
// NB: outputs go first so that a store's position marker never covers an input whose output
// could still be lost: a new owner skips the inputs a restored position covers.
func (a *App) commitLocked(ctx context.Context, tasks []*task) error {
	start := time.Now()
	defer func() { a.mu.lastCommit = time.Now() }()
	defer a.metrics.observeCommit(start)
	for _, t := range tasks {
		if err := t.flushCaches(); err != nil {
			return err
		}
	}
	if err := a.flushOutput(ctx); err != nil {
		return err
	}
	for _, t := range tasks {
		if err := t.flush(ctx); err != nil {
			return err
		}
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, t := range tasks {
		for tp, off := range t.offsets {
			if offsets[tp.topic] == nil {
				offsets[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[tp.topic][tp.partition] = off
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	var commitErr error
	a.consumer.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, e)
				}
			}
		}
	})
	if commitErr != nil {
		return fmt.Errorf("streams: commit offsets: %w", commitErr)
	}
	for _, t := range tasks {
		clear(t.offsets)
	}
	return nil
}

// onRevoked commits and closes the tasks that lose a partition. kgo calls it during a
// rebalance and when the consumer leaves the group.
func (a *App) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.err == nil {
		a.state.set(Rebalancing)
	}
	defer a.forgetAssigned(revoked)
	tasks := a.tasksOfLocked(revoked)
	if len(tasks) == 0 {
		return
	}
	if a.mu.err == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if err := a.commitLocked(cctx, tasks); err != nil {
			a.failLocked(err)
		}
	}
	a.closeTasksLocked(tasks)
}

// onLost closes the tasks of partitions lost without a clean revocation (session expired):
// another member may own them already, so nothing is committed.
func (a *App) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forgetAssigned(lost)
	a.closeTasksLocked(a.tasksOfLocked(lost))
}

func (a *App) tasksOfLocked(parts map[string][]int32) []*task {
	seen := map[taskID]bool{}
	var tasks []*task
	for topic, ps := range parts {
		st := a.subOf[topic]
		if st == nil {
			continue
		}
		for _, p := range ps {
			id := taskID{subtopology: st.id, partition: p}
			if t := a.mu.tasks[id]; t != nil && !seen[id] {
				seen[id] = true
				tasks = append(tasks, t)
			}
		}
	}
	return tasks
}

func (a *App) closeTasksLocked(tasks []*task) {
	for _, t := range tasks {
		a.unregisterStores(t)
		t.close()
		delete(a.mu.tasks, t.id)
	}
}

// stop is the loop's exit on cancellation. When Close cancelled it, Close does the rest
// (leaving the group, closing the clients). When startCtx ended instead, nobody may call Close
// for a long while, so the App also leaves the group at once.
//
// NB: a member that stops polling but keeps heartbeating keeps its partitions: kgo, unlike
// Kafka's consumer, does not leave the group when max.poll.interval.ms passes without a poll.
// Before the App left here, an App started with a context with a deadline went quiet when
// the deadline passed, still RUNNING and still owning its partitions, and the records that
// arrived after that were processed by no one until Close.
func (a *App) stop(startCtx context.Context) {
	fromStart := startCtx.Err() != nil && !a.closing.Load()
	if fromStart {
		a.log.Info("stopping: the context given to Start is done; committing and leaving the group", "cause", context.Cause(startCtx))
		a.state.set(PendingShutdown)
	}
	a.shutdown()
	if !fromStart {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := a.consumer.LeaveGroupContext(ctx); err != nil {
		a.log.Warn("leaving the group after the context given to Start ended", "err", err)
	}
}

// shutdown is the loop's exit on cancellation: a last commit, then the tasks close.
func (a *App) shutdown() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := a.commitLocked(ctx, a.allTasksLocked()); err != nil {
			a.failLocked(err)
		}
	}
	a.closeTasksLocked(a.allTasksLocked())
}

// failLocked records the first processing error; the loop stops and the tasks close without
// committing, so the input since the last commit is processed again by whoever owns it next.
func (a *App) failLocked(err error) {
	first := a.mu.err == nil
	if first {
		a.mu.err = err
		a.log.Error("processing stopped", "err", err)
		a.state.set(PendingError)
	}
	a.closeTasksLocked(a.allTasksLocked())
	if first {
		a.state.set(Error)
	}
}

// State returns the App's current state.
func (a *App) State() State { return a.state.get() }

// Err is the error that stopped processing, or nil.
func (a *App) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.err
}

// Stats are counters of an App since New.
type Stats struct {
	// GlobalRecordsApplied is the number of records of global tables' topics written to their
	// local stores (at bootstrap and since).
	GlobalRecordsApplied int64
	// RecordsProcessed is the number of input records processed (repartition topics included).
	RecordsProcessed int64
	// RecordsRestored is the number of changelog records applied while opening tasks' stores.
	RecordsRestored int64
	// TasksOpened is the number of times a task was opened (again after each rebalance).
	TasksOpened int64
	// StandbyRecordsRestored is the number of changelog records applied to standby copies of
	// stores (Config.NumStandbyReplicas); RecordsRestored does not include them.
	StandbyRecordsRestored int64
	// RecordsSkippedAsRestored counts input records not processed because the restored state
	// already reflected them: records after the last committed offset that a previous owner
	// processed and committed to its stores before it died.
	RecordsSkippedAsRestored int64
	// DroppedRecords counts records dropped because their window had closed (they arrived
	// later than the grace period allows), once per window a record could not be added to, and
	// records an aggregation dropped for a null key (or, for a stream aggregation, a null value),
	// as Kafka Streams' dropped-records metric. Each drop is logged at debug level.
	DroppedRecords int64
}

// Stats returns the App's counters.
func (a *App) Stats() Stats {
	a.mu.Lock()
	st := a.mu.stats
	a.mu.Unlock()
	st.DroppedRecords = a.droppedRecords.Load()
	st.StandbyRecordsRestored = a.standby.restored.Load()
	if a.global != nil {
		st.GlobalRecordsApplied = a.global.applied.Load()
	}
	return st
}

// Done is closed when processing has stopped (Close, a cancelled Start context, or an error).
func (a *App) Done() <-chan struct{} { return a.done }

// Close stops processing, commits what was processed (flushing stores and output first),
// closes the stores, leaves the group and closes the clients. It returns the error that
// stopped processing, if any. Idempotent.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.closing.Store(true)
		// NB: the publisher stops first, so that no console record of the closing App holds
		// up its last flush; the tombstone is written once everything else is closed.
		a.stopConsolePublisher()
		a.stopProbe()
		a.state.set(PendingShutdown)
		if a.cancel != nil {
			a.cancel()
			<-a.done
		} else {
			close(a.done)
		}
		a.global.close()
		if a.consumer != nil {
			a.consumer.CloseAllowingRebalance()
		}
		a.stopStandbys()
		// NB: after the stores are closed (the tombstone may wait for an unreachable
		// broker) and before the producer is.
		a.writeConsoleTombstone()
		if a.producer != nil {
			a.producer.Close()
		}
		a.metrics.unregister()
		// NB: last, once every task, standby and global store is closed.
		if err := a.stateLock.Release(); err != nil {
			a.log.Warn("release the state directory lock", "err", err)
		}
		a.state.set(NotRunning)
		a.log.Info("closed")
	})
	return a.Err()
}

// produce sends an output or changelog record; the first failure is kept and fails the next
// commit, so that offsets are never committed past a lost output.
func (a *App) produce(r *kgo.Record) {
	a.producer.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			a.produceMu.Lock()
			if a.produceErr == nil {
				a.produceErr = fmt.Errorf("streams: produce to %s: %w", r.Topic, err)
			}
			a.produceMu.Unlock()
		}
	})
}

// flushOutput waits until every output record produced so far is acknowledged.
func (a *App) flushOutput(ctx context.Context) error {
	if err := a.producer.Flush(ctx); err != nil {
		return fmt.Errorf("streams: flush output: %w", err)
	}
	return a.producedErr()
}

func (a *App) producedErr() error {
	a.produceMu.Lock()
	defer a.produceMu.Unlock()
	return a.produceErr
}

// partitioner sends changelog records to the partition set on them (the task's) and other
// records by key hash (murmur2, like Kafka's default partitioner).
type partitioner struct {
	manual map[string]bool
	byKey  kgo.Partitioner
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.manual[topic] {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms) }
