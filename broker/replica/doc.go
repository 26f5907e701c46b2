// Package replica is the follower side of replication: fetchers that copy a partition's log from
// its leader into the local log, Kafka's way.
//
// # Model
//
// A Manager keeps num.replica.fetchers (Config.NumFetchers, default 1) Fetchers per leader broker
// this broker follows partitions of (Kafka's ReplicaFetcherManager), a partition going to the
// fetcher FetcherID picks as Kafka does; a Fetcher is one goroutine with one request in flight and
// its own connection, replicating its share of that leader's partitions followed here. Each
// partition starts truncating, then fetches:
//
//   - Truncation (KIP-101, KIP-279): OffsetForLeaderEpoch for the local log's latest epoch, with
//     the current leader epoch for fencing. The leader answers the end offset of the largest epoch
//     it has not above the one asked; the follower truncates to the smaller of that and its own end
//     for that epoch, and asks again with its next epoch when the leader answered one it does not
//     have. It never truncates to its high watermark (only when the leader has no epoch
//     information at all, Kafka's fallback).
//   - Fetching: Fetch as a replica (ReplicaID below v15, ReplicaState from v15, KIP-903) with the
//     current leader epoch, long-polling (replica.fetch.wait.max.ms). Batches are appended with the
//     leader's offsets and epochs (broker/log AppendAsFollower); the leader's high watermark and log
//     start offset are followed.
//   - Errors: FENCED_LEADER_EPOCH (our epoch is stale) and UNKNOWN_LEADER_EPOCH (the leader's is),
//     NOT_LEADER_OR_FOLLOWER and the rest back off replica.fetch.backoff.ms and retry; the broker
//     re-adds the partition with the new epoch when the metadata image changes.
//     OFFSET_OUT_OF_RANGE asks the leader's log ends (ListOffsets as a replica): below its log start
//     the follower starts over there (TruncateFullyAndStartAt); above its log end (only after an
//     unclean election) it truncates to it.
//
// Every log write goes through Partition.Follow, which runs it only while the partition still
// follows at the fetcher's leader epoch: a fetch in flight when the partition becomes leader (or
// follows a newer epoch) cannot append stale data.
//
// # Wiring (the broker, next)
//
// One Manager per broker, with Config from replica.fetch.* and node.id, and a dial function
// returning a Client for a broker id — kgo.Client.Broker(id) of one inter-broker kgo client
// seeded with the metadata image's endpoints for inter.broker.listener.name. When a metadata image
// arrives the broker applies each changed partition (partition.Partition.ApplyAssignment) and then:
//
//   - became follower, or follows a new leader or epoch: Manager.Follow(tp, leader, epoch, part, log);
//   - became leader or was removed: Manager.Unfollow(tp);
//   - only the ISR changed: nothing.
//
// On shutdown, Manager.Close before closing logs. Leader-side handlers (Fetch with a replica id,
// OffsetForLeaderEpoch, ListOffsets) live in the broker and call broker/partition; this package's
// tests serve that side with broker/server over a real log and partition (leader_test.go).
//
// Every fetch names LastFetchedEpoch, the epoch of the local log's last batch (KIP-320): a leader
// whose log ends that epoch earlier answers DivergingEpoch instead of records (and does not count
// the fetch as the follower's progress), and the partition truncates by epoch again.
//
// Not yet: fetch sessions (KIP-227; every fetch is a full one), throttling, and fetching from
// several leaders' partitions over one connection per broker pair.
//
// # Locks
//
// Manager.mu → Fetcher.mu. The fetch loop holds no fetcher lock while calling the network, the log
// or a Partition (whose own order is roleMu → mu → the log's locks): it copies what it needs under
// Fetcher.mu, works unlocked, and applies the result under Fetcher.mu only if the partition was not
// re-added meanwhile. Manager.Unfollow may wait for a fetcher's goroutine to exit; the broker must
// not call it while holding a partition's lock (the partition API never exposes one).
package replica
