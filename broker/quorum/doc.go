// Package quorum is Gregor's metadata quorum: a replicated, durable log of opaque entries (the
// encoded metadata records) kept by the controller voters, in KRaft's shape. Its one job is to get a
// batch of records committed by a majority of voters and to deliver every committed batch, in log
// order, to the applier on each voter.
//
// # Why etcd raft
//
// Consensus is go.etcd.io/raft/v3, the raft core that etcd, Kubernetes (through etcd), CockroachDB
// and TiKV run, never a home-made one. It is only the state machine (Step/Tick in, Ready out): this
// package owns the storage and the transport. That is the point. The metadata log lives in files we
// define in the node's metadata directory (`__cluster_metadata-0/`), so brokers and observers can
// later be served that log (KRaft's brokers fetch the metadata partition), and snapshots are our
// `.checkpoint` files. hashicorp/raft would bring its own log store (raft-boltdb, two fsyncs per
// append) and its own RPC transport, neither of which could be the metadata partition. PreVote and
// CheckQuorum are on (etcd raft has them off by default): a node cut off and rejoining cannot depose
// a healthy leader by bumping the term (KIP-996's pre-vote), and a leader that cannot hear a majority
// steps down instead of accepting writes it cannot commit.
//
// # Model
//
// Start opens the metadata directory, recovers it, and starts one goroutine, the Ready loop, that
// owns the storage and raft's output. For each Ready it persists the received snapshot, the new
// entries (one write and one fsync per Ready, not per entry) and the HardState, and only then
// sends the messages, delivers the committed entries on Committed, and calls Advance. Propose
// encodes a batch as one raft entry and waits until the loop delivers it. A node that is the only
// voter campaigns at once, not after an election timeout (the single node's start). A storage error (ENOSPC)
// stops the node: nothing unpersisted is sent or applied, and callers get the error.
//
// Files in the metadata directory (all through the FS interface, so tests inject faults):
//   - `<20-digit sequence>.log`: the entry log, CRC-32C-framed entries, append-only; a replaced
//     uncommitted suffix is appended again and wins on replay; a torn tail is truncated at start.
//   - `quorum-state`: raft's HardState (term, vote, commit index), replaced atomically (temporary
//     file, fsync, rename, fsync of the directory).
//   - `<20-digit end offset>-<10-digit epoch>.checkpoint` (KIP-630's naming): a snapshot, the
//     applier's image as of end offset - 1. Segments it covers are deleted.
//
// raft reads a MemoryStorage mirror of the log after the last compaction, so memory is bounded by
// snapshots (plus SnapshotCatchUpEntries kept for followers slightly behind).
//
// Readers that are not voters (brokers, observers) follow the log with LatestSnapshot and
// ReadCommitted, served from the same mirror: the metadata partition Kafka's brokers fetch.
// WaitCommitted long-polls; CommitIndex, loaded before a ReadCommitted that finds nothing, lets a
// reader move past indexes that hold only raft's own entries.
//
// Peers talk over one outbound TCP connection per peer on the controller listener (frames of a
// length and a protobuf raftpb.Message), reconnecting with backoff; a full queue or a broken
// connection drops messages, which raft retransmits.
//
// IDs: Kafka's node.id starts at 0, which etcd raft reserves for "none": inside the package a raft ID
// is node.id+1; the API speaks node.id.
//
// # Locks
//
// Node.mu guards leader, term, the pending proposals, the contact times and the commit wake-up
// channel; it is never held while calling raft, the storage or the transport, nor while blocking. transport.mu guards the listener and inbound
// connections. Neither is taken while the other is held.
package quorum
