// Package controller is the cluster controller's decision logic: a pure state machine that takes
// requests (Kafka's controller APIs as kmsg requests) and the passage of time, and returns the metadata
// records that carry its decisions and the replies to send. It does no I/O, starts no goroutine and
// never reads the clock; the metadata quorum (broker/quorum) and the network are driven around it.
//
// # Model
//
// A Controller holds two metadata images (see broker/metadata): the committed image, built from every
// batch the quorum committed, and the working image, that plus the batches this controller proposed
// and the quorum has not committed yet. Requests are decided against the working image, so a second
// CreateTopics for a name already proposed fails at once, as in Kafka's timeline-based controller.
//
//   - Handle(now, request) decides one request: it returns Result.Records (one batch, to append to the
//     metadata log as is, possibly empty) and Result.Reply (a kmsg response with the request's version).
//     Kafka-level failures are error codes in the reply. A Go error (ErrNotActive, ErrUnsupported, or a
//     bug) means nothing was decided and nothing changed.
//   - Tick(now) does the timed work: fences brokers whose last heartbeat is older than
//     broker.session.timeout.ms (moving their leadership away first), and every
//     leader.imbalance.check.interval the auto.leader.rebalance check. It returns records, no reply.
//   - ApplyCommitted(offset, epoch, records) is called for every committed batch, in log order, on every
//     controller, active or not (offset: the quorum index of the batch; epoch: its term). A standby
//     controller applies it; the active one expects its own proposals back in order (batches may be
//     merged, never reordered) and returns ErrDiverged for anything else.
//   - BecomeActive(now, epoch) / Resign() / LoadSnapshot(image) follow the quorum's leadership and
//     snapshots. Resign forgets uncommitted proposals.
//
// # Driving it with broker/quorum (next session's wiring)
//
// One goroutine owns the Controller (it is not safe for concurrent use). It receives requests from the
// network handlers, quorum.Committed batches (decoded with metadata.DecodeRecords), and a ticker. On
// Handle it encodes Result.Records with metadata.EncodeRecords and hands them to a single proposer
// goroutine, which calls quorum.Node.Propose in the order the batches were produced (merging batches
// that queue up while one is in flight, which the controller allows); each reply is sent once the
// batch holding its records has committed — or, with no records, at once. A failed Propose
// (NotLeaderError, storage error) means the proposals may be lost: Resign, and answer the waiting
// requests NOT_CONTROLLER. When the node becomes the quorum leader, propose a batch holding one
// metadata.NoOpRecord and call BecomeActive(now, term) when that batch comes back on Committed: by then
// every earlier batch has been applied. When it stops being leader, Resign. A Committed with IsSnapshot
// is LoadSnapshot(metadata.ReadSnapshot(image)); when SnapshotDue is set, answer quorum.Node.Snapshot
// with metadata.AppendSnapshot(nil, Committed()) (its offset is that batch's index).
//
// # Decisions, as Kafka makes them
//
//   - Registration: a new incarnation gets a new broker epoch (larger than every epoch so far) and
//     starts fenced; the same incarnation again is a retry (same epoch, no record); another incarnation
//     while the old one's session is alive is DUPLICATE_BROKER_REGISTRATION unless it names the old epoch
//     (PreviousBrokerEpoch: a clean restart). A wrong cluster ID is INCONSISTENT_CLUSTER_ID.
//   - Heartbeats: unknown broker BROKER_ID_NOT_REGISTERED, wrong epoch STALE_BROKER_EPOCH. A fenced
//     broker is unfenced once its CurrentMetadataOffset reaches the committed offset of its registration;
//     then leaderless partitions it can lead get it. WantFence fences. WantShutdown starts a controlled
//     shutdown: leadership and ISR membership move to other brokers first; the reply says ShouldShutdown
//     (and the broker is fenced) once it leads nothing and has caught up with that change.
//   - Fencing (session timeout, WantFence, controlled shutdown's end, a new incarnation): the broker
//     leaves every ISR and its partitions elect a new leader from the ISR with a new leader epoch. The
//     last ISR member stays in the ISR when no other can lead; the partition is then offline (leader -1)
//     unless unclean.leader.election.enable is true for the topic (topic config, then cluster default
//     config, then Config.UncleanLeaderElection): then the first alive replica leads, alone in the ISR,
//     marked RECOVERING until it reports otherwise through AlterPartition.
//   - CreateTopics/CreatePartitions: Kafka's validation and error codes; replicas placed round-robin over
//     unfenced brokers (random start and shift, so leaders and followers spread evenly), or the explicit
//     assignment; the ISR is the usable replicas, the leader the first of them. At most 10000 partitions
//     per request (POLICY_VIOLATION).
//   - AlterPartition: the checks of Kafka's ReplicationControlManager in its order (NOT_CONTROLLER,
//     FENCED_LEADER_EPOCH, INVALID_REQUEST, INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA); a reassignment
//     completes when its adding replicas are all in the ISR.
//   - ElectLeaders PREFERRED/UNCLEAN, AlterPartitionReassignments, ListPartitionReassignments,
//     IncrementalAlterConfigs, AlterConfigs, AllocateProducerIds (blocks of 1000).
//
// # Invariants (checked after every step by the property test)
//
// For every partition of every image: replicas non-empty and distinct; ISR ⊆ replicas; the leader is
// -1 or in the ISR and usable (unfenced, not shutting down); while there is a leader the ISR is
// non-empty and holds no fenced broker; adding/removing ⊆ replicas and disjoint; leader epoch and
// partition epoch never decrease, and a leader change always comes with a new leader epoch.
//
// # Locks
//
// None: the Controller belongs to one goroutine. Images it returns are immutable and may be shared.
package controller
