// Package broker is Gregor's Kafka-compatible broker: it owns the topics and their partitions,
// serves the Kafka requests that the server package decodes, and runs the background loops
// (retention, flushing, cleaning, high watermark checkpoints).
//
// # Model
//
// A Broker holds a registry of topics (name, topic ID, configs, partitions), persisted in
// `gregor-topics.json` in the first log dir. Each partition hosted here has two parts: its log
// (broker/log, storage only, in `<log dir>/<topic>-<partition>`) and its replica state
// (broker/partition, imported as replication beside this package's own partition type: role,
// leader epoch, ISR, high watermark, acks=all and fetch waiters), the one owner of replica state
// and the only code that advances the high watermark. On a single node
// every partition is led here with the ISR {this node}; its leader epoch is the latest the log
// recorded (0 for a new one), checkpointed in the log's leader-epoch-checkpoint when the partition
// becomes leader and stamped in every produced batch.
//
// Produce appends through the replica state (Partition.AppendAsLeader) and, for acks=all, waits on
// its Ack; group coordinator records take the same path. A long-polling fetch registers one
// partition.FetchWaiter on each partition it reads and is woken only by those. High watermarks are
// checkpointed per log dir in Kafka's replication-offset-checkpoint and restored at start.
//
// Handlers only translate kmsg: one file per API or family (produce.go, fetch.go, createtopics.go,
// configs.go, group_handlers.go, ...), each registering its API key with the version range it
// implements beside the handler (handler.go's register; ApiVersions advertises exactly those).
// Requests are handled on the connection's goroutine. In this package, `log` is the partition log
// package (broker/log); loggers are named `logger`.
//
// # KRaft mode (process.roles set; in progress, issue 10)
//
// New refuses a multi-node config on a log dir without meta.properties (`gregor storage format`) and
// takes cluster.id from it. Start serves Kafka clients on every listener but the controller's, runs
// controller.StartServer on the controller listener for the controller role, and for the broker role a
// metadata.Publisher fed by a lifecycle Follower (FollowLocal on a combined node, FollowRemote on a
// broker-only one) and a lifecycle.Manager that registers the advertised endpoints and heartbeats
// (kraft.go). Close first runs a controlled shutdown (bounded by broker.session.timeout.ms), then
// stops the Manager, the Follower and the controller after the logs. Metadata and DescribeCluster list
// the image's unfenced brokers. The image applier (applier.go), subscribed before the Follower starts,
// hands each image's local changes to one goroutine that opens the partitions assigned here as leader
// or follower at the image's epochs, replicas and ISR, runs a broker/replica fetcher per leader
// followed (replicas.go), deletes removed replicas, and sends leaders' ISR proposals to the controller
// (alterpartition.go). The applier also keeps every image topic in the topic registry
// (registry_kraft.go), so produce, fetch, ListOffsets and OffsetForLeaderEpoch find its partitions
// (NOT_LEADER_OR_FOLLOWER for one hosted elsewhere) and Metadata lists the image's leaders, replicas
// and ISR; gregor-topics.json is never written in KRaft mode. A leader serves followers' fetches
// (fetch.go: ReplicaID / ReplicaState): it records their progress (partition.FollowerFetch, which
// advances the high watermark and completes acks=all) and returns records up to the log end offset.
// Admin requests (CreateTopics, DeleteTopics, CreatePartitions, topic configs, auto-creation) are
// forwarded to the active controller and answered once the applier applied their effect
// (admin_forward.go); InitProducerId draws from AllocateProducerIds blocks (produceridblocks.go).
// Not yet: checking ReplicaState's broker epoch, fetch sessions.
//
// # Locks
//
// Order: Broker.mu, then a partition's locks (partition.Partition: roleMu, then mu), then a log's
// locks. Broker.mu (a RWMutex) guards the topic registry and the producer ID allocator; produce and
// fetch take it for reading only, to find partitions, and release it before calling into a
// partition. No disk I/O happens under Broker.mu: a partition is created, its log deleted and the
// registry written without it (see createTopic, saveMeta). A function whose name ends in Locked
// expects Broker.mu held — the only lock that suffix means in this package. Never call into the
// server while holding Broker.mu.
package broker
