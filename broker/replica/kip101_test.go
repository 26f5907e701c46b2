package replica

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// The scenarios of KIP-101 (and KIP-279's multi-round case), with real logs on disk, a real
// leader served over the Kafka protocol, and the fetcher as the follower: each shows where
// truncating to the high watermark loses or diverges data, and that truncating by leader epoch
// does not.

var tp = TopicPartition{Topic: "t", Partition: 0}

// leaderOf makes l's partition led by broker id at epoch with the given replicas in the ISR.
func leaderOf(t *testing.T, id, epoch int32, l *plog.Log, hw int64, replicas ...int32) *partition.Partition {
	t.Helper()
	p := partition.New("t", 0, id, l, hw, partition.Config{MinInsyncReplicas: 1}, partition.Options{Logger: quiet()})
	if _, err := p.ApplyAssignment(partition.Assignment{Leader: id, LeaderEpoch: epoch, PartitionEpoch: epoch, Replicas: replicas, ISR: replicas}); err != nil {
		t.Fatal(err)
	}
	return p
}

// replicate runs a fetcher on follower id from the leader until the follower's log equals the
// leader's and has its high watermark.
func replicate(t *testing.T, leaderID, followerID, epoch int32, leaderLog *plog.Log, leaderPart *partition.Partition,
	followerLog *plog.Log, followerPart *partition.Partition) {
	t.Helper()
	ls := startLeader(t, leaderID, leaderLog, leaderPart)
	m := NewManager(Config{ReplicaID: followerID, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, ls.addr))
	defer m.Close()
	if err := m.Follow(tp, leaderID, epoch, followerPart, followerLog); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := tryReadLog(t, followerLog)
		if err != nil {
			return err
		}
		if want := readLog(t, leaderLog); !slices.Equal(got, want) {
			return fmt.Errorf("follower %v, leader %v", got, want)
		}
		if fhw, lhw := followerPart.Snapshot().HighWatermark, leaderLog.HighWatermark(); fhw != lhw {
			return fmt.Errorf("follower high watermark %d, leader %d", fhw, lhw)
		}
		return nil
	})
}

// KIP-101 scenario 1: the follower B has m1, m2 but its high watermark is 1 (the leader's advance
// to 2 had not reached it) when it restarts, and the leader A dies right after answering B's first
// request. Truncating to the high watermark drops m2, which A acknowledged; B then leads without
// it: m2 is lost. By epoch, B keeps m2, and after the failover A follows B losing nothing either.
func TestKIP101HighWatermarkTruncationWouldLoseAnAcknowledgedWrite(t *testing.T) {
	const a, b = 1, 2
	logA, logB := openLog(t, ""), openLog(t, "")
	appendAt(t, logA, 1, "m1")
	appendAt(t, logA, 1, "m2")
	appendAt(t, logB, 1, "m1")
	appendAt(t, logB, 1, "m2")
	const bHighWatermark = 1 // B's high watermark when it restarted
	if above := readLog(t, logB)[bHighWatermark:]; len(above) != 1 || above[0].Value != "m2" {
		t.Fatalf("records above B's high watermark %v: truncating there would drop m2", above)
	}
	partA := leaderOf(t, a, 1, logA, 2, a, b)
	partB := partition.New("t", 0, b, logB, bHighWatermark, partition.Config{}, partition.Options{Logger: quiet()})
	if _, err := partB.ApplyAssignment(partition.Assignment{Leader: a, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{a, b}, ISR: []int32{a, b}}); err != nil {
		t.Fatal(err)
	}
	// B restarts and follows A; A dies before serving B a single fetch.
	ls := startLeader(t, a, logA, partA)
	ls.dead.Store(true)
	m := NewManager(Config{ReplicaID: b, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, ls.addr))
	if err := m.Follow(tp, a, 1, partB, logB); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if ls.fetches.Load() == 0 {
			return errors.New("B has not finished truncating (no fetch yet)")
		}
		return nil
	})
	m.Close()
	if got := readLog(t, logB); len(got) != 2 || got[1].Value != "m2" {
		t.Fatalf("B after truncation by epoch: %v, want m1, m2", got)
	}

	// B leads epoch 2 and takes m3; A comes back as B's follower.
	if _, err := partB.ApplyAssignment(partition.Assignment{Leader: b, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{a, b}, ISR: []int32{b}}); err != nil {
		t.Fatal(err)
	}
	if _, err := partB.AppendAsLeader(1, func(epoch int32) (int64, error) {
		res, err := logB.Append(batch("m3"), epoch)
		return res.LastOffset + 1, err
	}); err != nil {
		t.Fatal(err)
	}
	partA2 := follower(t, a, b, 2, logA, a, b)
	replicate(t, b, a, 2, logB, partB, logA, partA2)
	want := []record{{0, 1, "m1"}, {1, 1, "m2"}, {2, 2, "m3"}}
	if got := readLog(t, logA); !slices.Equal(got, want) {
		t.Fatalf("A after the failover: %v, want %v", got, want)
	}
}

// KIP-101 scenario 2: A led epoch 1 and had m1, m2 with high watermark 2; B had m1 and lost m2
// in a power failure. B comes back first, leads epoch 2 and takes m3 at offset 1. A comes back as
// follower: its high watermark (2) is above the divergence, so truncating to it keeps m2 where B
// has m3 — the replicas diverge. By epoch, A learns epoch 1 ended at 1 on B and truncates there.
func TestKIP101HighWatermarkTruncationWouldLeaveReplicasDiverged(t *testing.T) {
	const a, b = 1, 2
	logA, logB := openLog(t, ""), openLog(t, "")
	appendAt(t, logA, 1, "m1")
	appendAt(t, logA, 1, "m2")
	appendAt(t, logB, 1, "m1")
	const aHighWatermark = 2
	partB := leaderOf(t, b, 2, logB, 1, a, b)
	if _, err := partB.AppendAsLeader(1, func(epoch int32) (int64, error) {
		res, err := logB.Append(batch("m3"), epoch)
		return res.LastOffset + 1, err
	}); err != nil {
		t.Fatal(err)
	}
	// What truncating to A's high watermark would keep differs from the leader at offset 1.
	kept, leader := readLog(t, logA)[:aHighWatermark], readLog(t, logB)
	if kept[1] == leader[1] {
		t.Fatalf("scenario not diverged: %v vs %v", kept, leader)
	}
	partA := partition.New("t", 0, a, logA, aHighWatermark, partition.Config{}, partition.Options{Logger: quiet()})
	if _, err := partA.ApplyAssignment(partition.Assignment{Leader: b, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{a, b}, ISR: []int32{b}}); err != nil {
		t.Fatal(err)
	}
	replicate(t, b, a, 2, logB, partB, logA, partA)
	want := []record{{0, 1, "m1"}, {1, 2, "m3"}}
	if got := readLog(t, logA); !slices.Equal(got, want) {
		t.Fatalf("A: %v, want %v", got, want)
	}
	if e, end := logA.EndOffsetForEpoch(1); e != 1 || end != 1 {
		t.Fatalf("A's epoch 1 ends at %d (epoch %d), want 1: the epoch cache was not truncated with the log", end, e)
	}
}

// KIP-279: the follower A led epoch 3, which the leader B never saw; B's largest epoch not above
// 3 is 2, which A never had. One round (truncate to where B's epoch 2 ends, 4) would keep A's
// epoch-3 records at 2..3, diverged; a second round with A's next epoch finds the real divergence
// at 2.
func TestKIP279TruncationTakesMoreRoundsWhenEpochsWereSkipped(t *testing.T) {
	const a, b = 1, 2
	logA, logB := openLog(t, ""), openLog(t, "")
	appendAt(t, logB, 1, "x0", "x1")
	appendAt(t, logB, 2, "y2", "y3")
	appendAt(t, logB, 4, "z4")
	appendAt(t, logA, 1, "x0", "x1")
	appendAt(t, logA, 3, "w2")
	appendAt(t, logA, 3, "w3")
	appendAt(t, logA, 3, "w4")
	if e, end := logB.EndOffsetForEpoch(3); e != 2 || end != 4 {
		t.Fatalf("leader's answer for epoch 3: %d/%d, want 2/4", e, end)
	}
	partB := leaderOf(t, b, 4, logB, 2, a, b)
	partA := follower(t, a, b, 4, logA, a, b)
	replicate(t, b, a, 4, logB, partB, logA, partA)
	want := []record{{0, 1, "x0"}, {1, 1, "x1"}, {2, 2, "y2"}, {3, 2, "y3"}, {4, 4, "z4"}}
	if got := readLog(t, logA); !slices.Equal(got, want) {
		t.Fatalf("A: %v, want %v", got, want)
	}
}
