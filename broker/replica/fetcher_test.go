package replica

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func values(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

// Leader epochs fence: a follower at an older epoch than the leader's gets FENCED_LEADER_EPOCH
// and appends nothing; one at a newer epoch gets UNKNOWN_LEADER_EPOCH and retries until the
// leader learns it. Re-following at the right epoch catches up.
func TestFollowerIsFencedByLeaderEpochs(t *testing.T) {
	const a, b = 1, 2
	la, lb := openLog(t, ""), openLog(t, "")
	appendAt(t, la, 5, "m0", "m1")
	pa := leaderOf(t, a, 5, la, 0, a, b)
	ls := startLeader(t, a, la, pa)
	m := NewManager(Config{ReplicaID: b, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, ls.addr))
	defer m.Close()

	pb := follower(t, b, a, 4, lb, a, b) // stale: the metadata image here is behind
	if err := m.Follow(tp, a, 4, pb, lb); err != nil {
		t.Fatal(err)
	}
	// The fenced follower keeps trying (counted by the leader) and never appends.
	testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := ls.fetches.Load(); n < 3 {
			return fmt.Errorf("%d fetches from the fenced follower so far", n)
		}
		return nil
	})
	if lb.LogEndOffset() != 0 {
		t.Fatalf("fenced follower appended up to %d", lb.LogEndOffset())
	}

	// The image catches up: epoch 6 is newer than the leader's 5 (UNKNOWN_LEADER_EPOCH) until the
	// leader applies it too.
	if _, err := pb.ApplyAssignment(partition.Assignment{Leader: a, LeaderEpoch: 6, PartitionEpoch: 6, Replicas: []int32{a, b}, ISR: []int32{a, b}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Follow(tp, a, 6, pb, lb); err != nil {
		t.Fatal(err)
	}
	if _, err := pa.ApplyAssignment(partition.Assignment{Leader: a, LeaderEpoch: 6, PartitionEpoch: 6, Replicas: []int32{a, b}, ISR: []int32{a, b}}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := tryReadLog(t, lb)
		if err != nil {
			return err
		}
		if !slices.Equal(values(got), []string{"m0", "m1"}) {
			return fmt.Errorf("follower has %v", values(got))
		}
		return nil
	})
}

// TestRepeatedDivergenceBacksOff: a leader that answers DivergingEpoch again at the offset the
// follower's truncation left it at (truncation cannot resolve it) gets fetches at the backoff's
// pace, not a Fetch → OffsetForLeaderEpoch → truncate loop at full speed.
func TestRepeatedDivergenceBacksOff(t *testing.T) {
	const a, b = 1, 2
	la, lb := openLog(t, ""), openLog(t, "")
	appendAt(t, la, 5, "m0", "m1")
	appendAt(t, lb, 5, "m0", "m1")
	pa := leaderOf(t, a, 5, la, 0, a, b)
	ls := startLeader(t, a, la, pa)
	ls.diverge.Store(true)
	const backoff = 100 * time.Millisecond
	m := NewManager(Config{ReplicaID: b, MaxWait: 50 * time.Millisecond, Backoff: backoff, Logger: quiet()}, dialer(t, ls.addr))
	defer m.Close()
	pb := follower(t, b, a, 5, lb, a, b)
	if err := m.Follow(tp, a, 5, pb, lb); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := ls.fetches.Load(); n < 2 {
			return fmt.Errorf("%d fetches so far", n)
		}
		return nil
	})
	start, before := time.Now(), ls.fetches.Load()
	time.Sleep(time.Second) // NB: a measuring window, not a wait for a condition
	n, took := ls.fetches.Load()-before, time.Since(start)
	// Two fetches per backoff at most (the diverging one and the one after the truncation).
	if limit := int32(2*took/backoff) + 4; n > limit {
		t.Fatalf("%d fetches in %v against a leader diverging at the same offset; want at most %d (backoff %v)", n, took, limit, backoff)
	}
	if got := values(readLog(t, lb)); !slices.Equal(got, []string{"m0", "m1"}) {
		t.Fatalf("follower log %v", got)
	}
}

// acks=all end to end: a leader with ISR {1,2} and min.insync.replicas=2 completes a produce only
// once the follower's fetcher has replicated it, and the follower learns the new high watermark.
func TestAcksAllCompletesThroughFollowerReplication(t *testing.T) {
	const a, b = 1, 2
	la, lb := openLog(t, ""), openLog(t, "")
	pa := partition.New("t", 0, a, la, 0, partition.Config{MinInsyncReplicas: 2}, partition.Options{Logger: quiet()})
	if _, err := pa.ApplyAssignment(partition.Assignment{Leader: a, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{a, b}, ISR: []int32{a, b}}); err != nil {
		t.Fatal(err)
	}
	ls := startLeader(t, a, la, pa)
	ack, err := pa.AppendAsLeader(-1, func(epoch int32) (int64, error) {
		res, err := la.Append(batch("v0", "v1", "v2"), epoch)
		return res.LastOffset + 1, err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ack.Done():
		t.Fatalf("acks=all completed before the follower replicated (err %v)", ack.Err())
	default:
	}
	pb := follower(t, b, a, 1, lb, a, b)
	m := NewManager(Config{ReplicaID: b, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, ls.addr))
	defer m.Close()
	if err := m.Follow(tp, a, 1, pb, lb); err != nil {
		t.Fatal(err)
	}
	if err := ack.Wait(10*time.Second, nil); err != nil {
		t.Fatalf("acks=all: %v", err)
	}
	if lb.LogEndOffset() < 3 {
		t.Fatalf("acks=all completed with the follower at %d", lb.LogEndOffset())
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if hw := pb.Snapshot().HighWatermark; hw != 3 {
			return fmt.Errorf("follower high watermark %d, want 3", hw)
		}
		return nil
	})
}

// Failover as the broker will drive it: a follower of A at epoch 1 is told (metadata image) that
// B leads epoch 2; the manager moves the partition to a fetcher for B, closes A's, and the
// follower truncates by epoch and catches up from B.
func TestManagerMovesAPartitionToItsNewLeader(t *testing.T) {
	const a, b, c = 1, 2, 3
	la, lb, lc := openLog(t, ""), openLog(t, ""), openLog(t, "")
	appendAt(t, la, 1, "m0")
	appendAt(t, la, 1, "lost") // never reached B: truncated away on C
	appendAt(t, lb, 1, "m0")
	pa := leaderOf(t, a, 1, la, 1, a, b, c)
	sa := startLeader(t, a, la, pa)
	pc := follower(t, c, a, 1, lc, a, b, c)

	dials := map[int32]func(int32) (Client, error){a: dialer(t, sa.addr)}
	m := NewManager(Config{ReplicaID: c, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()},
		func(id int32) (Client, error) { return dials[id](id) })
	defer m.Close()
	if err := m.Follow(tp, a, 1, pc, lc); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got, _ := tryReadLog(t, lc); len(got) != 2 {
			return fmt.Errorf("C has %v", got)
		}
		return nil
	})

	// A fails; B leads epoch 2 and takes m1.
	pb := leaderOf(t, b, 2, lb, 1, a, b, c)
	if _, err := pb.AppendAsLeader(1, func(epoch int32) (int64, error) {
		res, err := lb.Append(batch("m1"), epoch)
		return res.LastOffset + 1, err
	}); err != nil {
		t.Fatal(err)
	}
	sb := startLeader(t, b, lb, pb)
	dials[b] = dialer(t, sb.addr)
	if _, err := pc.ApplyAssignment(partition.Assignment{Leader: b, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{a, b, c}, ISR: []int32{b, c}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Follow(tp, b, 2, pc, lc); err != nil {
		t.Fatal(err)
	}
	if n := m.Fetchers(); n != 1 {
		t.Fatalf("%d fetchers after the move, want 1 (A's closed)", n)
	}
	want := []record{{0, 1, "m0"}, {1, 2, "m1"}}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := tryReadLog(t, lc)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("C has %v, want %v", got, want)
		}
		return nil
	})
}
