// Package controller is the cluster controller: its decision logic, and the runtime that runs it on
// the metadata quorum and serves the controller's Kafka APIs on the controller listener.
//
// The decision logic (Controller) is a pure state machine that takes requests (Kafka's controller APIs
// as kmsg requests) and the passage of time, and returns the metadata records that carry its decisions
// and the replies to send. It does no I/O, starts no goroutine and never reads the clock. The runtime
// (Node, Server: node.go, run.go, proposer.go, listener.go, fetch.go, mux.go, serve.go) drives it with
// broker/quorum and the network.
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
// # Runtime (Node, Server)
//
// StartNode runs a Controller on a started quorum.Node. Its goroutines:
//
//   - the owner (run.go) owns the Controller (it is not safe for concurrent use) and selects over the
//     quorum's Committed channel, calls from Handle, Propose results from the proposer, and a ticker.
//     Committed batches go to ApplyCommitted (ErrDiverged: resign; any other error, or an undecodable
//     batch, stops the runtime — the log cannot be served from a guess); a snapshot goes to
//     LoadSnapshot (resigning first when active); a leader change to this node proposes a batch holding
//     one NoOpRecord, and the owner calls BecomeActive(now, term) once that batch is applied (so every
//     earlier batch is in the image) and the node still leads in that term; a change to another node,
//     or to none, resigns. SnapshotDue answers quorum.Node.Snapshot with metadata.AppendSnapshot of the
//     committed image. Each tick runs Tick when active, or retries the NoOp when the node leads the
//     quorum but is not active (its NoOp failed).
//   - the proposer (proposer.go) calls quorum.Node.Propose, one batch at a time, in the order the owner
//     decided them, merging batches queued meanwhile (up to 4 MiB; never the NoOp). Its queue is
//     unbounded and guarded by a mutex, so the owner never blocks on it: the owner must keep draining
//     Committed, which Propose itself waits for — blocking the owner on the proposer would deadlock
//     under load. Every proposal carries the leadership generation it was decided in; the owner starts
//     a new generation on every resign, and the proposer drops (and answers NOT_CONTROLLER to) queued
//     proposals of an older one, since they were decided on a working image that no longer exists. A
//     failed Propose (NotLeaderError, ErrProposalDropped, storage failure, timeout) resigns and answers
//     its requests NOT_CONTROLLER (the records may still commit; every controller applies them then).
//
// Node.Handle(ctx, request) returns the reply once the request's records committed and the owner
// applied them, so CommittedImage holds them (at once when there are none), a *NotControllerError (errors.Is ErrNotActive; LeaderID is the quorum leader hint)
// on a standby, ErrUnsupported, or ErrNodeClosed. Node.Status is quorum.Status (DescribeQuorum).
// Node.Close stops both goroutines and waits for them; it is idempotent and does not close the quorum.
//
// StartServer assembles a controller: a Mux on the controller listener (controller.listener.names)
// routes each connection by its first four bytes to the quorum's peer transport or to a broker/server
// Server whose Handler (listener.go) serves the controller's Kafka APIs: ApiVersions (exactly the
// version ranges of the served table, which Supported checks), BrokerRegistration, BrokerHeartbeat,
// DescribeQuorum (Kafka's shape from quorum.Status, with the broker-only nodes fetching the log as
// Observers; a non-leader answers NOT_LEADER_OR_FOLLOWER with the leader and epoch as the hint),
// CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs, AlterConfigs,
// AllocateProducerIds, AlterPartition, ElectLeaders, AlterPartitionReassignments,
// ListPartitionReassignments, and for broker-only nodes Fetch and FetchSnapshot on
// __cluster_metadata-0 (fetch.go: committed batches only, from the quorum leader, long-polling).
// NOT_CONTROLLER and REQUEST_TIMED_OUT come back in each response's own shape (every topic,
// partition or resource of the request carries the code). Server.Close stops the
// runtime, the listener's connections, the quorum voter and the listener, in that order.
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
// The Controller has none: it belongs to the owner goroutine. Images it returns are immutable and may
// be shared. Node.mu guards the published view (active, committed image) that Active and
// CommittedImage read; proposer.mu guards the proposal queue; Handler.mu guards the observers seen
// fetching the metadata log (DescribeQuorum's Observers). None is held while calling the quorum or
// while another is held; no lock is held while blocking.
package controller
