// Package group is the classic consumer group coordinator (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) and the committed-offset store, as a pure state machine.
//
// A Coordinator holds the groups of one or more __consumer_offsets partitions (the broker runs one
// per partition it coordinates: every partition on a single node, the partitions it leads in a
// cluster, loaded from the log when it becomes leader). Unload resigns them when leadership moves:
// waiting joins and syncs are answered NOT_COORDINATOR. Its methods take the current time and a request (kmsg types) and
// answer through a reply callback: at once, or later when the rebalance the request waits for
// completes. Coordinator does no I/O and starts no goroutines: time moves only through the `now`
// arguments and Tick, and durable state leaves through the Store it is given (records for the
// `__consumer_offsets` topic, in Kafka's own key/value formats). The broker drives it from one
// goroutine; tests drive it with scripted events and a fake clock.
//
// Group states follow Kafka's classic protocol:
//
//	Empty → PreparingRebalance → CompletingRebalance → Stable → PreparingRebalance ...
//
// A join moves the group to PreparingRebalance; the join phase ends when every known member has
// rejoined (or the rebalance timeout passes and the missing ones are dropped); then the generation
// increments, a protocol is chosen by vote, the leader gets the member list and the group waits in
// CompletingRebalance for the leader's SyncGroup, whose assignments every member receives.
// A member that stops heartbeating for its session timeout is removed and the group rebalances.
// Static members (group.instance.id) that rejoin within their session timeout keep their
// assignment without a rebalance.
//
// A failed Store write is never dropped: a commit or a SyncGroup answers it with an error; a
// group's metadata written on its own (a group that emptied, a static member that rejoined) is
// written again by Tick until it lands; an expired group's tombstone is written again at the next
// retention check. The broker's Store appends through the partition's append path (acks=all); a
// write refused because leadership moved wraps ErrNotCoordinator and is answered NOT_COORDINATOR,
// any other failure COORDINATOR_NOT_AVAILABLE, as Kafka maps them.
package group
