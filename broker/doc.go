// Package broker is Gregor's Kafka-compatible broker: it serves the Kafka requests that the server
// package decodes for the partitions hosted here, and runs the background loops (retention, flushing,
// cleaning, high watermark checkpoints).
//
// # Model
//
// Every broker is a node of a KRaft cluster (issue 10). Without process.roles it is the implicit
// single node: process.roles=broker,controller with node.id the only voter of its own quorum, its
// controller listener internal (127.0.0.1, a port the OS picks, never advertised), its log dir
// formatted on first start (meta.properties, a random cluster ID). It runs the same code as a node of
// several; New refuses a multi-node config on a log dir without meta.properties (`gregor storage
// format`) and takes cluster.id from it.
//
// The topics are the metadata image's: the metadata log (broker/quorum, applied by broker/controller
// and published as broker/metadata images) replaces the topic registry file of earlier releases. A
// previous release's gregor-topics.json is imported once into the metadata log on the single node's
// first start as a quorum, then renamed (upgrade.go).
//
// Start serves Kafka clients on every listener but the controller's, runs controller.StartServer on
// the controller listener for the controller role, and for the broker role a metadata.Publisher fed by
// a lifecycle Follower (FollowLocal on a combined node, FollowRemote on a broker-only one) and a
// lifecycle.Manager that registers the advertised endpoints and heartbeats (kraft.go). A single node
// serves nothing before it is unfenced, leads every partition of its image and has loaded its group
// coordinators (__consumer_offsets is created at its first start), so its first client finds what
// the node had before it stopped. Close runs a controlled shutdown on a node of several (bounded by
// broker.session.timeout.ms), stops the Manager, the Follower and the controller after the logs, and
// records the broker epoch in .kafka_cleanshutdown so the next start registers again at once.
//
// The image applier (applier.go), subscribed before the Follower starts, hands each image's local
// changes to one goroutine that opens the partitions assigned here as leader or follower at the image's
// epochs, replicas and ISR, runs a broker/replica fetcher per leader followed (replicas.go), deletes
// removed replicas, and sends leaders' ISR proposals to the controller (alterpartition.go). It keeps
// every image topic in the topic registry (registry_kraft.go), so produce, fetch, ListOffsets and
// OffsetForLeaderEpoch find its partitions (NOT_LEADER_OR_FOLLOWER for one hosted elsewhere) and
// Metadata lists the image's leaders, replicas and ISR.
//
// Each partition hosted here has two parts: its log (broker/log, storage only, in
// `<log dir>/<topic>-<partition>`) and its replica state (broker/partition, imported as replication
// beside this package's own partition type: role, leader epoch, ISR, high watermark, acks=all and
// fetch waiters), the one owner of replica state and the only code that advances the high watermark.
// Produce appends through the replica state (Partition.AppendAsLeader) and, for acks=all, waits on
// its Ack; group coordinator records take the same path. A long-polling fetch registers one
// partition.FetchWaiter on each partition it reads and is woken only by those. A leader serves
// followers' fetches (fetch.go: ReplicaID / ReplicaState): it records their progress
// (partition.FollowerFetch, which advances the high watermark and completes acks=all) and returns
// records up to the log end offset. High watermarks are checkpointed per log dir in Kafka's
// replication-offset-checkpoint and restored when the applier opens a partition.
//
// Admin requests (CreateTopics, DeleteTopics, CreatePartitions, topic configs, auto-creation, leader
// elections, reassignments, DescribeQuorum) are forwarded to the active controller and answered once
// the applier applied their effect (admin_forward.go); InitProducerId draws from AllocateProducerIds
// blocks (produceridblocks.go). Handlers only translate kmsg: one file per API or family (produce.go,
// fetch.go, createtopics.go, configs.go, group_handlers.go, ...; the *_kraft.go files hold the
// forwarding), each registering its API key with the version range it implements beside the handler
// (handler.go's register; ApiVersions advertises exactly those). Requests are handled on the
// connection's goroutine. In this package, `log` is the partition log package (broker/log); loggers
// are named `logger`. Fetch v7+ runs KIP-227 sessions (broker/fetchsession): an incremental fetch is
// resolved to the session's partitions and its answer filtered to what changed; a replica fetch's
// ReplicaState broker epoch is checked (KIP-903, staleReplicaEpoch).
//
// A partition directory carries partition.metadata with its topic ID (partitionmeta.go): one naming
// another ID (a same-named topic deleted while this broker was away) is deleted, not served. The
// Follower publishes the first image only once caught up with the quorum's commit index; with it,
// the applier deletes the partition directories the image does not assign here (stray.go).
//
// # Locks
//
// Order: Broker.mu, then a partition's locks (partition.Partition: roleMu, then mu), then a log's
// locks. Broker.mu (a RWMutex) guards the topic registry and the current producer ID block; produce
// and fetch take it for reading only, to find partitions, and release it before calling into a
// partition. No disk I/O happens under Broker.mu: the applier opens, closes and deletes partitions'
// logs without it and only installs them in the registry under it (setSlot, syncRegistry). A
// function whose name ends in Locked expects Broker.mu held — the only lock that suffix means in this
// package. Never call into the server while holding Broker.mu.
package broker
