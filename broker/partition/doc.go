// Package partition owns one partition's replica state on this broker: its role (leader, follower
// or neither), the leader and leader epoch, the partition epoch, replicas and ISR, the high
// watermark, the leader's view of each follower (log end offset, last fetch, last caught up), and
// the waiters — acks=all produces and long-polling fetches. It is the only code that advances the
// high watermark.
//
// # Model
//
// State is a pure state machine in Kafka's Partition.scala terms. Events go in — an assignment
// from the metadata image (ApplyAssignment), a local append (LeaderAppended), a follower's fetch
// (FollowerFetched), the clock (MaybeShrinkISR), a waiter's timeout — and Actions come out: a new
// high watermark to publish, acks=all waiters to complete, an AlterPartition proposal to send, and
// whether to wake fetch waiters. Rules:
//
//   - The high watermark is the smallest log end offset over the maximal ISR (the committed ISR
//     plus any replica an in-flight expansion adds); it never moves back on a leader and never
//     moves while the committed ISR is below min.insync.replicas (KIP-966). A new leader does not
//     know its followers' offsets, so its high watermark waits until every ISR member fetched.
//   - acks=all completes when the high watermark reaches the batch's end, i.e. every ISR member
//     has it. It is refused before the append with NOT_ENOUGH_REPLICAS while the ISR is below
//     min.insync.replicas, fails with NOT_ENOUGH_REPLICAS_AFTER_APPEND when a committed shrink
//     takes the ISR below it, with NOT_LEADER_OR_FOLLOWER when leadership goes, and with
//     REQUEST_TIMED_OUT when the produce's timeout passes.
//   - ISR changes are proposals: a follower whose log end offset reaches both the high watermark
//     and the offset at which this leader epoch began is proposed in; ISR members that have not
//     caught up to the leader's log end within replica.lag.time.max.ms are proposed out. One
//     proposal is in flight at a time; the controller decides; the partition applies what the
//     metadata image commits (a newer partition epoch), never its own proposal.
//   - Requests carry the leader epoch they expect: older is FENCED_LEADER_EPOCH, newer
//     UNKNOWN_LEADER_EPOCH, a broker that is not the leader NOT_LEADER_OR_FOLLOWER, answered with
//     the current leader and epoch (KIP-951).
//
// Partition is the driver: one per partition, a mutex and no goroutine. It applies Actions to the
// log (SetHighWatermark, AssignEpochStartOffset), to waiters (closing their channels) and to the
// controller (Options.Propose, called outside the locks). A fetch waits on exactly the partitions
// it reads: it registers one FetchWaiter on each with Watch, and an append or a high watermark
// advance there wakes it — no broker-wide wake channel.
//
// # Wiring
//
// Today's single-node broker (package broker) creates a Partition when it opens a partition's log,
// with the high watermark from its replication-offset-checkpoint, and applies one assignment:
// leader here, replicas and ISR {here}, the leader epoch the log recorded last (0 for a new log).
// The cluster wiring, next:
//
// The broker keeps a map of *Partition for the partitions it hosts, created when the metadata image
// first assigns one here (after opening its log). When the metadata publisher delivers a new image,
// the broker, for each changed partition, calls ApplyAssignment and acts on the Transition:
//
//   - To leader (new epoch): replica.Manager.Unfollow (a fetch still in flight cannot append:
//     Follow fences it by role and epoch); group coordinators load __consumer_offsets partitions
//     that became led here.
//   - To follower (new epoch or new leader): replica.Manager.Follow(partition, leader, epoch) —
//     the fetcher for that leader truncates by epoch first, then fetches.
//   - To none: Unfollow, then close or delete the log as the image says.
//   - Same epoch, newer partition epoch: only the ISR changed; nothing to start or stop.
//
// Handlers: Produce calls AppendAsLeader (the callback appends to the log) and waits on the Ack
// with the request's timeout; Fetch from a replica (ReplicaID/ReplicaState ≥ 0) calls
// FollowerFetch with its fetch offset before reading and answers the returned high watermark;
// consumer fetches read up to Offsets' high watermark and long-poll with Watch/Unwatch;
// ListOffsets, OffsetForLeaderEpoch and DescribeProducers call CheckEpoch. A broker-wide ticker
// calls MaybeShrinkISR on led partitions every replica.lag.time.max.ms/2. The AlterPartition
// sender hands controller refusals back with ProposalFailed.
//
// # Locks
//
// Per partition: roleMu (an RWMutex, Kafka's leaderIsrUpdateLock) → mu → the log's own locks.
// Appends (leader and follower) hold roleMu shared across the log write; ApplyAssignment holds it
// exclusively, so no append of an old epoch lands after a role change. mu guards State and the
// waiter lists; it is held for bookkeeping only, never across a log write. No partition lock is
// held while calling Propose, and no lock of one partition is held while taking another's. The
// broker may hold its registry lock (Broker.mu) while calling into a partition — that lock comes
// first — and a partition never calls back into the broker while holding its own.
package partition
