package replica

import (
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/partition"
)

// BenchmarkFollowerCatchUp measures how fast a follower copies a leader's log over the Kafka
// protocol on 127.0.0.1: 32 MiB in 16 KiB batches (64 records of 256 bytes), into a fresh log on
// disk each iteration, through the fetcher, Partition.Follow and AppendAsFollower.
func BenchmarkFollowerCatchUp(b *testing.B) {
	const total = 32 << 20
	leader := openLog(b, "")
	vals := make([]string, 64)
	for i := range vals {
		vals[i] = strings.Repeat("x", 256)
	}
	one := batch(vals...)
	for leader.Size() < total {
		if _, err := leader.Append(append([]byte(nil), one...), 1); err != nil {
			b.Fatal(err)
		}
	}
	lp := partition.New("t", 0, 1, leader, leader.LogEndOffset(), partition.Config{}, partition.Options{Logger: quiet()})
	if _, err := lp.ApplyAssignment(partition.Assignment{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1}}); err != nil {
		b.Fatal(err)
	}
	ls := startLeaderB(b, 1, leader, lp)
	dial := dialerB(b, ls.addr)
	end := leader.LogEndOffset()
	b.SetBytes(leader.Size())
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fl := openLog(b, "")
		fp := follower(b, 2, 1, 1, fl, 1, 2)
		m := NewManager(Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: quiet()}, dial)
		b.StartTimer()
		if err := m.Follow(tp, 1, 1, fp, fl); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for fl.LogEndOffset() < end {
			if time.Now().After(deadline) {
				b.Fatalf("follower at %d of %d after a minute", fl.LogEndOffset(), end)
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
}

// BenchmarkAcksAllRoundTrip measures one acks=all produce of one 16 KiB batch on a leader with a
// follower replicating over 127.0.0.1 (min.insync.replicas=2): append, the follower's long poll
// wakes, fetches, appends, fetches again, and the leader's high watermark completes the waiter.
func BenchmarkAcksAllRoundTrip(b *testing.B) {
	la, lb := openLog(b, ""), openLog(b, "")
	pa := partition.New("t", 0, 1, la, 0, partition.Config{MinInsyncReplicas: 2}, partition.Options{Logger: quiet()})
	if _, err := pa.ApplyAssignment(partition.Assignment{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}); err != nil {
		b.Fatal(err)
	}
	ls := startLeaderB(b, 1, la, pa)
	pb := follower(b, 2, 1, 1, lb, 1, 2)
	m := NewManager(Config{ReplicaID: 2, MaxWait: 500 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: quiet()}, dialerB(b, ls.addr))
	defer m.Close()
	if err := m.Follow(tp, 1, 1, pb, lb); err != nil {
		b.Fatal(err)
	}
	vals := make([]string, 64)
	for i := range vals {
		vals[i] = strings.Repeat("x", 256)
	}
	one := batch(vals...)
	b.SetBytes(int64(len(one)))
	b.ResetTimer()
	for range b.N {
		ack, err := pa.AppendAsLeader(-1, func(epoch int32) (int64, error) {
			res, err := la.Append(append([]byte(nil), one...), epoch)
			return res.LastOffset + 1, err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := ack.Wait(10*time.Second, nil); err != nil {
			b.Fatal(err)
		}
	}
}
