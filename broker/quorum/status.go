package quorum

import (
	"sort"
	"time"
)

// Status is what Kafka's DescribeQuorum returns, from this node's point of view. Offsets follow
// Kafka's convention: an end offset is exclusive (the index after the last one).
type Status struct {
	NodeID   int32
	LeaderID int32 // NoLeader if none is known
	// LeaderEpoch is the raft term.
	LeaderEpoch uint64
	// HighWatermark is the commit index + 1.
	HighWatermark int64
	// AppliedIndex is the last index delivered on Committed; SnapshotIndex the newest snapshot's.
	AppliedIndex  uint64
	SnapshotIndex uint64
	// Voters is every voter, sorted by ID. Only the leader knows the others' progress.
	Voters []VoterStatus
}

// VoterStatus is one voter's replication state (DescribeQuorum's ReplicaState).
type VoterStatus struct {
	NodeID int32
	// LogEndOffset is the voter's replicated log end (match index + 1) as the leader knows it, or -1.
	LogEndOffset int64
	// LastFetchTimestamp is when this node last heard from the voter (zero if never; now for self).
	LastFetchTimestamp time.Time
	// LastCaughtUpTimestamp is when the voter last held every committed entry (leader only).
	LastCaughtUpTimestamp time.Time
}

// Status reports the quorum as this node sees it.
func (n *Node) Status() Status {
	st := n.rn.Status()
	now := time.Now()
	s := Status{
		NodeID:        n.cfg.NodeID,
		LeaderID:      n.Leader(),
		LeaderEpoch:   st.GetTerm(),
		HighWatermark: int64(st.GetCommit()) + 1,
		AppliedIndex:  n.appliedIndex.Load(),
		SnapshotIndex: n.snapshotIndex.Load(),
	}
	if st.HardState == nil {
		// The raft node has stopped.
		s.LeaderEpoch = n.Term()
		s.HighWatermark = -1
	}
	last, _ := n.storage.mem.LastIndex()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, v := range n.cfg.Voters {
		id := raftID(v.ID)
		vs := VoterStatus{NodeID: v.ID, LogEndOffset: -1, LastFetchTimestamp: n.mu.lastContact[id], LastCaughtUpTimestamp: n.mu.lastCaughtUp[id]}
		if pr, ok := st.Progress[id]; ok {
			vs.LogEndOffset = int64(pr.Match) + 1
		}
		if id == n.id {
			vs.LogEndOffset = int64(last) + 1
			vs.LastFetchTimestamp = now
		}
		s.Voters = append(s.Voters, vs)
	}
	sort.Slice(s.Voters, func(i, j int) bool { return s.Voters[i].NodeID < s.Voters[j].NodeID })
	return s
}
