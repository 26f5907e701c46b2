package replica

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// brokerLeader starts a single-node broker with topic "t" (one partition) holding n records
// produced in batches of 10, and returns it with a client and the topic's ID.
func brokerLeader(t *testing.T, n int) (*testbroker.Broker, *kgo.Client, [16]byte) {
	t.Helper()
	tb := testbroker.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.DefaultProduceTopic("t"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, 0, n)
	td, err := adm.ListTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return tb, cl, td["t"].ID
}

func produce(t *testing.T, cl *kgo.Client, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := from; i < to; i += 10 {
		var rs []*kgo.Record
		for j := i; j < min(i+10, to); j++ {
			rs = append(rs, &kgo.Record{Value: []byte("r" + strconv.Itoa(j))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func values(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

func wantValues(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "r"+strconv.Itoa(i))
	}
	return out
}

// The single-node broker is the leader (node 1, epoch 0); the follower's log is a real log on
// disk. The follower keeps the leader's offsets and epochs, takes its high watermark, and keeps
// up with appends made while it follows (long-polling fetches).
func TestFollowerReplicatesFromTheBrokerKeepingOffsetsAndEpochs(t *testing.T) {
	tb, cl, id := brokerLeader(t, 50)
	fl := openLog(t, "")
	fp := follower(t, 2, 1, 0, fl, 1, 2)
	m := NewManager(Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, tb.Addr()))
	defer m.Close()
	if err := m.Follow(TopicPartition{Topic: "t", TopicID: id, Partition: 0}, 1, 0, fp, fl); err != nil {
		t.Fatal(err)
	}
	caughtUp := func(n int) func() error {
		return func() error {
			got, err := tryReadLog(t, fl)
			if err != nil {
				return err
			}
			if !slices.Equal(values(got), wantValues(0, n)) {
				return fmt.Errorf("follower has %d records, want %d", len(got), n)
			}
			if hw := fp.Snapshot().HighWatermark; hw != int64(n) {
				return fmt.Errorf("follower high watermark %d, want %d", hw, n)
			}
			return nil
		}
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, caughtUp(50))
	for i, r := range readLog(t, fl) {
		if r.Offset != int64(i) || r.Epoch != 0 {
			t.Fatalf("record %d at offset %d epoch %d, want the leader's offset %d and epoch 0", i, r.Offset, r.Epoch, i)
		}
	}
	produce(t, cl, 50, 120)
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, caughtUp(120))
	if m.Fetchers() != 1 {
		t.Fatalf("%d fetchers for one leader", m.Fetchers())
	}
	m.Unfollow(TopicPartition{Topic: "t", TopicID: id, Partition: 0})
	if m.Fetchers() != 0 {
		t.Fatalf("%d fetchers after the last partition was unfollowed", m.Fetchers())
	}
}

// A follower whose log ends below the leader's log start offset (records deleted on the leader
// while it was away) gets OFFSET_OUT_OF_RANGE, empties its log and starts at the leader's log start.
func TestFollowerBelowTheLeaderLogStartStartsOverThere(t *testing.T) {
	tb, cl, id := brokerLeader(t, 40)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "t", Partition: 0, At: 25})
	if _, err := adm.DeleteRecords(ctx, offs); err != nil {
		t.Fatal(err)
	}
	fl := openLog(t, "")
	appendAt(t, fl, 0, "stale-0", "stale-1", "stale-2") // what it had before: offsets 0..2
	fp := follower(t, 2, 1, 0, fl, 1, 2)
	m := NewManager(Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet()}, dialer(t, tb.Addr()))
	defer m.Close()
	if err := m.Follow(TopicPartition{Topic: "t", TopicID: id, Partition: 0}, 1, 0, fp, fl); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := tryReadLog(t, fl)
		if err != nil {
			return err
		}
		if fl.LogStartOffset() != 25 || !slices.Equal(values(got), wantValues(25, 40)) {
			return fmt.Errorf("follower log start %d, records %v; want start 25 and r25..r39", fl.LogStartOffset(), values(got))
		}
		return nil
	})
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
