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
// Records carry their input's timestamp (ms) and headers to the outputs.
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
// topics and joins the consumer group named by ApplicationID; Close stops it. A task runs one
// sub-topology for one partition number: it owns that partition of each of the
// sub-topology's source topics and of each of its stores. Topics read by one sub-topology must
// therefore have equal partition counts (Start fails with ErrCoPartitioning otherwise;
// stricter than Kafka Streams, which requires it only for joins), and repartition topics and
// changelogs get the count of the sub-topology that writes them (a foreign-key join's
// subscription topics get that of the sub-topology that reads them).
//
// Processing is at-least-once. Records go through the task's processors one at a time; store
// writes go to LevelDB and to the changelog; outputs are produced asynchronously. Every
// CommitInterval, and when partitions are revoked or the App closes, the App flushes the
// stores (their changelog records acknowledged and checkpointed), flushes the producer (the
// outputs acknowledged) and only then commits the processed input offsets. After a crash the
// input since the last commit is processed again: outputs may repeat, but each store is
// restored from its changelog before its task processes anything, so the latest value per key
// of a table's output converges to the exact result.
//
// A processing error (a record that does not deserialise, a failed store write or produce)
// stops the App without committing; Err names the task and the record's topic/partition@offset.
//
// # Goroutines and locking
//
// The App runs one goroutine, the processing loop, which owns the tasks; kgo's revoke and lost
// callbacks run on kgo's goroutines. The consumer blocks rebalances while a poll is being
// processed (kgo.BlockRebalanceOnPoll), so callbacks and processing never overlap; App.mu
// guards the tasks anyway, and is the only lock held while calling stores or kgo. The first
// produce error is kept under App.produceMu, taken alone.
//
// The consumer uses the eager range assignor: with equal partition counts it gives one member
// the same partition numbers of every topic, keeping a task's inputs together, and every
// rebalance closes all tasks (their stores reopen from the local checkpoint on reassignment).
package streams
