// Package mirror is MirrorMaker 2 on Gregor's Connect worker: MirrorSourceConnector copies topics
// from a source cluster to a target cluster, MirrorCheckpointConnector translates consumer-group
// offsets across them, and MirrorHeartbeatConnector emits heartbeats, all registered under
// MirrorMaker 2's class names and accepting its config names. Both clusters are reached only
// through the Kafka protocol (franz-go), so any Kafka-compatible cluster can be either side.
//
// As in MirrorMaker 2, the worker's own cluster is the target: the connectors' tasks return
// records the worker produces there (with the ByteArray converter nothing is converted), and the
// worker's source offsets ({cluster, topic, partition} → {offset}) say where a restarted task
// resumes reading the source, so a crash loses nothing and repeats only records since the last
// offset flush. The tasks read the source and write offset syncs
// (mm2-offset-syncs.<target>.internal, on the source cluster) with their own clients.
//
// Record formats of the internal topics follow Kafka's (KIP-382): offset syncs keyed by
// (topic STRING, partition INT32) with value (upstreamOffset INT64, offset INT64); checkpoints keyed
// by (group STRING, topic STRING, partition INT32) with value (version INT16, upstreamOffset INT64,
// offset INT64, metadata STRING); heartbeats keyed by (sourceClusterAlias STRING,
// targetClusterAlias STRING) with value (version INT16, timestamp INT64), all big-endian with
// INT16-length strings.
//
// # Locking
//
// sourceTask.mu guards the offset-sync state that CommitRecord (producer callback goroutines)
// updates; MirrorSourceConnector.mu guards the known partition set its refresh goroutine updates.
// Neither is held while calling into another component.
package mirror
