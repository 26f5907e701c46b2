package partition

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestReplayedAssignmentOlderThanTheLogDoesNotLead: a restarted broker replays the metadata log
// image by image, so it sees assignments making it leader in epochs long gone. One older than an
// epoch its own log holds is applied without a leader: no append is taken at the stale epoch, the
// log's leader-epoch checkpoint is left alone, and the current assignment makes it leader again.
func TestReplayedAssignmentOlderThanTheLogDoesNotLead(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 1, []int32{1}, nil) // leader in epoch 3
	if _, err := p.AppendAsLeader(1, appendTo(l, 2)); err != nil {
		t.Fatal(err)
	}
	// The broker restarts: a new Partition on the same log replays epochs 1 and 2, then 4.
	q := New("t", 0, 1, l, l.HighWatermark(), Config{MinInsyncReplicas: 1, ReplicaLagTimeMaxMs: 30000}, Options{Logger: quiet()})
	for epoch := int32(1); epoch <= 2; epoch++ {
		tr, err := q.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: epoch, PartitionEpoch: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1}})
		if err != nil {
			t.Fatal(err)
		}
		if tr.To == RoleLeader {
			t.Fatalf("replayed epoch %d made the partition leader; the log holds epoch 3", epoch)
		}
		called := false
		_, err = q.AppendAsLeader(1, func(int32) (int64, error) { called = true; return 0, nil })
		if !errors.Is(err, kerr.NotLeaderForPartition) || called {
			t.Fatalf("append in replayed epoch %d: %v (appended %v), want NOT_LEADER_OR_FOLLOWER", epoch, err, called)
		}
	}
	if got := l.LatestEpoch(); got != 3 {
		t.Fatalf("log's latest epoch %d after the replay, want 3", got)
	}
	tr, err := q.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.To != RoleLeader || tr.LeaderEpoch != 4 {
		t.Fatalf("current assignment: %+v, want leader in epoch 4", tr)
	}
	if _, err := q.AppendAsLeader(1, appendTo(l, 1)); err != nil {
		t.Fatalf("append as the current leader: %v", err)
	}
}

// TestIneligibleFollowerIsNotProposedIntoTheISR: a follower caught up to the leader whose broker
// is fenced or shutting down (FollowerFetchedIneligible) counts for its progress but is not
// proposed into the ISR; the same fetch from an eligible broker is.
func TestIneligibleFollowerIsNotProposedIntoTheISR(t *testing.T) {
	s := NewState(1, Config{MinInsyncReplicas: 1, ReplicaLagTimeMaxMs: 30000}, 0, 10, 10)
	if _, err := s.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}, 1000); err != nil {
		t.Fatal(err)
	}
	act, err := s.FollowerFetchedIneligible(3, 10, 1001)
	if err != nil {
		t.Fatal(err)
	}
	if act.Propose != nil || s.Pending() != nil {
		t.Fatalf("an ineligible follower was proposed: %+v", act.Propose)
	}
	if got := s.FollowerLogEndOffset(3); got != 10 {
		t.Fatalf("ineligible follower's progress %d, want 10", got)
	}
	act, err = s.FollowerFetched(3, 10, 1002)
	if err != nil {
		t.Fatal(err)
	}
	if act.Propose == nil || !slices.Contains(act.Propose.NewISR, 3) {
		t.Fatalf("an eligible caught-up follower was not proposed: %+v", act.Propose)
	}
}
