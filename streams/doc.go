// Package streams is Gregor's stream-processing DSL and runtime: Go programs that turn input
// topics into output topics, with local state in statestore (LevelDB) backed by changelog
// topics. It reaches Kafka only through franz-go, so it runs against Gregor's broker or any
// Kafka, and it is shaped after Kafka Streams, in Go's idiom.
//
// # Topology
//
// A Builder collects a graph of processors. Stream reads a topic as a KStream[K, V] through a
// key and a value serde (statestore.String{}, statestore.Int64{}, statestore.JSON[T]{}, ...).
// Operations that keep the types are methods (Filter, FilterNot, Peek, ForEach, Merge, To,
// GroupByKey; Count and Reduce on KGroupedStream; ToStream on KTable); operations that change
// them are functions, because Go methods cannot have type parameters (Map, MapValues, FlatMap,
// FlatMapValues, SelectKey, GroupBy, Aggregate). They take the serdes of their output, which may
// be nil when nothing downstream serialises it:
//
//	b := streams.NewBuilder()
//	lines := streams.Stream(b, "lines", statestore.String{}, statestore.String{})
//	words := streams.FlatMapValues(lines, func(_, l string) []string { return strings.Fields(l) }, statestore.String{})
//	counts := streams.GroupBy(words, func(_, w string) string { return w }, statestore.String{}).
//		Count(streams.Materialized("counts"))
//	counts.ToStream().To("word-counts", nil, nil)
//	topology, err := b.Build()
//
// Every processor has a name: given with Named, or generated from its kind and a per-builder
// index (KSTREAM-FILTER-0000000002), so an unchanged program gets the same names on every run.
// Stores are named by Materialized or after their processor
// (KSTREAM-AGGREGATE-STATE-STORE-0000000004); a store's changelog topic is
// <ApplicationID>-<store>-changelog, so naming stores keeps state when the topology changes. A duplicate processor or store name, a topic
// read twice, or a serde missing where records are written, is an error from Build naming it.
// Mistakes are recorded while building rather than panicked, and Build returns them all.
//
// A stateful operation on a stream whose keys may have changed (below Map, SelectKey, FlatMap,
// or through GroupBy) first writes it to the repartition topic
// <ApplicationID>-<name>-repartition, partitioned by key with Kafka's murmur2 hash, and reads it
// back. The topology splits into sub-topologies at those topics: its connected parts.
//
// Records carry their input's timestamp (ms) and headers to the outputs. The timestamp is the
// record's own in Kafka unless a TimestampExtractor says otherwise (WithTimestampExtractor on a
// source, Config.TimestampExtractor for all): it drives the task's stream time and is what
// sinks write. A negative timestamp fails the record with ErrInvalidTimestamp.
//
// A record read with a null key or value is not its zero value where the semantics depend on
// it, as in Kafka Streams: stream aggregations (Count, Reduce, Aggregate, Cogroup) drop a record
// with a null key or a null value, windowed aggregations one with a null key, stream-table
// joins one with either; a table source drops a null key and takes a null value as a delete;
// sinks write a null key or value as null. Map keeps nothing null (it makes new keys and
// values); MapValues and FlatMapValues keep a null key. Drops count in Stats.DroppedRecords.
//
// Topology.Describe prints the sub-topologies in Kafka Streams' text format; DescribeJSON and
// DescribeDOT (Graphviz) print the same TopologyDescription for tools and for pictures.
//
// # Processor API
//
// Under the DSL, Process and ProcessValues add a Processor written by hand: Init, Process for
// each record, Close, one instance per task. Its ProcessorContext forwards records (to all
// children or one), gives the key-value stores it is connected to (AddStore, ConnectStores:
// LevelDB with a changelog, like the DSL's stores; AddWindowStore and AddSessionStore add window
// and session stores), the input record's topic, partition and
// offset, and schedules punctuations on stream time or wall-clock time (PunctuationType). The
// App bounds its wait for records by the next wall-clock punctuation, and Config.Clock (a
// ManualClock in tests) replaces the system clock. App.Store reads the stores of the running
// tasks (see Task assignment and interactive queries). Package streamstest runs a topology against a real in-process broker for
// tests.
//
// # Windows and stream-stream joins
//
// WindowedBy windows a grouped stream; Count, Reduce, WindowedAggregate or SessionAggregate
// then aggregate per key and window into a KTable[Windowed[K], V]:
//
//	grouped := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
//	counts := streams.WindowedBy(grouped, streams.TumblingWindows(time.Minute).Grace(10*time.Second)).Count()
//	counts.Suppress(streams.UntilWindowCloses(streams.Unbounded())).ToStream().To("clicks-per-minute", nil, nil)
//
// TumblingWindows(size) are fixed, epoch-aligned windows [start, start+size); .AdvanceBy(d) makes
// them hopping (overlapping). SlidingWindows(d) are Kafka's sliding windows [start, start+d], one
// per distinct set of records within d of each other. SessionWindows(gap) gather a key's records
// until a gap of inactivity; a record within the gap of two sessions merges them, and the
// merged-away sessions are deleted from the table (tombstones on its output topic). Without
// Grace, the grace period is 0 (Kafka 3.x's ...WithNoGrace constructors).
//
// Time is event time: a task's stream time is the largest record timestamp it has processed
// (kept in the position markers of its key-value stores, so it survives a restart when the task
// has one, as a Suppress buffer is). A time window closes when stream time reaches its end +
// grace, a sliding window when stream time passes its end + grace, a session [start, end] when
// stream time passes end + gap + grace. A record for a closed window is dropped, logged at debug level and counted in
// Stats.DroppedRecords. Until then every record updates its windows and the table emits each
// update; Suppress(UntilWindowCloses(Unbounded())) emits instead one final result per window when
// it closes, from a buffer kept in a store with a changelog.
//
// Windowed aggregations use window stores (statestore.WindowStore) and session stores
// (statestore.SessionStore), retained for size + grace (gap + grace for sessions, 3 time
// differences + grace for sliding windows), whose changelogs have cleanup.policy=compact,delete
// and retention.ms = retention + 1 day, as in Kafka Streams. They are write-back buffers with
// position markers like key-value stores (below), so windowed state is exact across a crash too.
//
// Windowed keys are written to topics in Kafka's byte layouts, so Java consumers read them
// with Kafka's windowed deserializers:
//
//   - time and sliding windows (TimeWindowedSerde, Kafka's TimeWindowedSerializer): the
//     key's bytes, then the window start as 8 bytes big-endian (ms). The end is not written:
//     the reader knows the window size.
//   - sessions (SessionWindowedSerde, Kafka's SessionWindowedSerializer): the key's bytes, then
//     the session end, then the session start, each 8 bytes big-endian (ms).
//
// JoinStreams, LeftJoinStreams and OuterJoinStreams join two co-partitioned streams on equal
// keys within JoinWindows(d) (records at most d apart; Before/After for asymmetric windows,
// Grace for out-of-order records). Each side is kept in a window store for before + after +
// grace. As in Kafka 3.x, left and outer joins emit a record that found no partner
// (joiner(v, nil)) only when its window has closed, not eagerly. A side whose key changed
// upstream is repartitioned first. (They are not named Join, LeftJoin and OuterJoin: Go has no
// overloading, and those names belong to the stream-table and table-table joins.)
//
// # Tables and joins
//
// Table reads a topic as a KTable, the latest value per key, materialized in a store with its
// own changelog; KStream.ToTable does the same for a stream, and Cogroup aggregates several
// grouped streams into one table. A table's updates carry the key's previous value, and a delete travels as a
// tombstone (a record with a null value, which sinks write as such), so Filter, FilterNot,
// MapTableValues, GroupTableBy aggregations and joins retract what they emitted before, as in
// Kafka Streams. GlobalTable reads every partition of a topic on every instance, outside the
// consumer group: Start returns once it is loaded (from the offsets checkpointed by the last
// Close, or from the start), and a global thread keeps it current.
//
// Joins are functions: JoinTable and LeftJoinTable (stream-table, only the stream triggers),
// JoinTables, LeftJoinTables and OuterJoinTables (table-table, a KTable updated by either
// side), JoinGlobalTable and LeftJoinGlobalTable (with a key computed from the stream record),
// and JoinFK and LeftJoinFK (a table joined to another by a foreign key extracted from its
// values, through the internal topics <ApplicationID>-<name>-subscription-registration-topic
// and -subscription-response-topic). A missing side reaches the joiner as nil. Joined topics,
// except for global and foreign-key joins, must be co-partitioned; Start checks it.
//
// # Runtime
//
// New(topology, Config) makes an App; Start checks the source topics, creates the internal
// topics and joins the consumer group named by ApplicationID; Close stops it. The context given
// to Start bounds the App's life: when it ends, the App commits, leaves the group (its partitions
// go to the other instances at once) and waits in PendingShutdown for Close. From Start to Close
// the App holds the lock of <StateDir>/<ApplicationID> (its .lock file, as Kafka Streams): a
// second instance of the application on the same state directory, in this process or another,
// fails to start with ErrStateDirLocked naming the holder's PID. A task runs one
// sub-topology for one partition number: it owns that partition of each of the
// sub-topology's source topics and of each of its stores. Topics read by one sub-topology must
// therefore have equal partition counts (Start fails with ErrCoPartitioning otherwise;
// stricter than Kafka Streams, which requires it only for joins), and repartition topics and
// changelogs get the count of the sub-topology that writes them (a foreign-key join's
// subscription topics get that of the sub-topology that reads them).
//
// Processing is at-least-once for outputs and exact for state. Records go through the task's
// processors one at a time, and a task with records of several partitions in a fetch takes them
// in timestamp order. Key-value stores are write-back buffers (Config.CacheMaxEntries keys):
// reads see every update at once, but LevelDB and the changelog receive only the latest update
// per key, at a commit. Every CommitInterval, when a store's buffer is full, when partitions are
// revoked and when the App closes, the task first waits for its outputs to be acknowledged, then
// commits its stores with its position (the next input offset per partition): each store's
// updates and then a position marker go to its changelog, and once acknowledged they are
// written to LevelDB in one batch; only then are the input offsets committed.
//
// Aggregations (Count, Reduce, Aggregate, the windowed ones) forward through a record cache,
// as Kafka Streams': the latest update per key is held back and forwarded when the task commits
// or when the instance's caches hold more than Config.CacheMaxBytes (10 MiB by default), so a
// key updated a thousand times between commits sends one record downstream, carrying the change
// since the value forwarded before. The store is written at once. WithCachingDisabled turns it
// off for one store, a negative CacheMaxBytes for all; an aggregation below a Suppress forwards
// every update (Suppress holds them back itself).
//
// After a crash the new owner of a task restores each store up to its last position marker
// (ignoring a commit that the crash cut short) and skips the input records below the restored
// position, so every input record is reflected exactly once in the state; outputs for records
// processed after the last commit may be emitted again, so the latest value per key of a table's
// output is exact. (A crash between the markers of two stores of one task, or duplicates that a
// crashed instance wrote to a repartition topic, are re-processed at least once: exactly-once
// across topics needs transactions, which are not there yet.)
//
// A record that does not deserialise goes to Config.DeserializationHandler (LogAndFail by
// default; LogAndContinue; SendToDeadLetterTopic). Any other processing error (a failed store
// write or produce) stops the App without committing; Err names the task and the record's
// topic/partition@offset. State and StateListener follow Kafka Streams' states (CREATED,
// REBALANCING, RUNNING, PENDING_SHUTDOWN, NOT_RUNNING, PENDING_ERROR, ERROR).
//
// # Task assignment and interactive queries
//
// The group uses Gregor's task assignor (protocol "gregor-streams", with the consumer protocol's
// formats so that tools describe the group as usual). The leader gives each member whole tasks,
// all input partitions of a task together, spreading each sub-topology's tasks evenly; a task
// stays with its previous owner, or goes where its stores are on disk, before going to the
// least-loaded member. Rebalances are incremental and cooperative (KIP-429): a task that stays
// keeps running through the rebalance; a task that moves is first revoked from its owner (which
// commits and closes it), then assigned to its new member in a second round. Tasks open (and
// restore) as soon as they are assigned. As in Kafka (KIP-441), a stateful task is not moved
// to a member more than Config.AcceptableRecoveryLag changelog records behind on it: it keeps
// running where it is, the member gets a warm-up replica (restored in the background, up to
// Config.MaxWarmupReplicas in the group), and members rejoin every
// Config.ProbingRebalanceInterval until the warm-ups have caught up and the tasks have moved. With Config.NumStandbyReplicas, the leader also gives each stateful task standby
// copies on other members (first where its state already is, spreading each member's tasks over
// different others); a background goroutine keeps them restored to near the changelogs' end, and
// when an instance dies its tasks go where their standby copies are, restoring only the tail.
//
// Each member's Config.ApplicationServer (host:port) travels in its metadata, and every
// assignment carries the map of endpoints to tasks. App.Store and Query read a store's local
// partitions; KeyOwner says which instance owns a key; App.Handler serves queries over HTTP and
// redirects a query for another instance's key to it.
//
// # Metrics and the console
//
// An App registers Prometheus metrics (gregor_streams_*: records processed and process latency
// per task and node, commit latency, restore progress per store partition, dropped records,
// punctuation lag, store sizes, source lag) in Config.MetricsRegisterer from Start to Close,
// labelled application_id and instance. Node counters are resolved when a task opens and
// counted by the task's goroutine without atomics; they are published once per fetched batch.
// The App also writes its description, state and per-node figures to the compacted topic
// ConsoleAppsTopic every Config.ConsolePublishInterval (ConsoleApp), and a tombstone on Close,
// for Gregor's console. docs/streams-console.md has the names and the format.
//
// # Goroutines and locking
//
// The App runs one goroutine, the processing loop, which owns the tasks; kgo's revoke, lost and
// assign callbacks and the balancer run on kgo's goroutines. The consumer blocks rebalances while
// a poll is being processed (kgo.BlockRebalanceOnPoll), so callbacks and processing never
// overlap; App.mu guards the tasks anyway, and is the only lock held while calling stores or
// kgo. The first produce error is kept under App.produceMu, the state under state.mu, and the
// open stores and the group's placement (for queries and the balancer) under iq.mu; each of
// those is taken alone, after App.mu when both are held.
// The standby replicas' lock (standby.mu) is taken under App.mu when a task opens or closes, and
// held while a standby copy is refreshed; App.mu is never taken under it.
// App.wake (through which a ManualClock interrupts the loop's poll) is taken alone too; a
// ManualClock's lock may be taken under App.mu, never the other way round. The metrics' lock
// (metrics.mu) is taken under App.mu when a task opens or closes, and alone by scrapes and the
// console publisher (a scrape takes iq.mu after releasing it); the console publisher runs on
// its own goroutine, stopped first by Close.
package streams
