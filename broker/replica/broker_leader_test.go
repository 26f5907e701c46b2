package replica_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/replica"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// NB: these tests use the single-node broker as the leader; package broker imports this one, so
// they live in the external test package.

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
	fl := replica.OpenLog(t, "")
	fp := replica.Follower(t, 2, 1, 0, fl, 1, 2)
	m := replica.NewManager(replica.Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: replica.Quiet()}, replica.Dialer(t, tb.Addr()))
	defer m.Close()
	if err := m.Follow(replica.TopicPartition{Topic: "t", TopicID: id, Partition: 0}, 1, 0, fp, fl); err != nil {
		t.Fatal(err)
	}
	caughtUp := func(n int) func() error {
		return func() error {
			got, err := replica.TryReadLog(t, fl)
			if err != nil {
				return err
			}
			if !slices.Equal(replica.Values(got), wantValues(0, n)) {
				return fmt.Errorf("follower has %d records, want %d", len(got), n)
			}
			if hw := fp.Snapshot().HighWatermark; hw != int64(n) {
				return fmt.Errorf("follower high watermark %d, want %d", hw, n)
			}
			return nil
		}
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, caughtUp(50))
	for i, r := range replica.ReadLog(t, fl) {
		if r.Offset != int64(i) || r.Epoch != 0 {
			t.Fatalf("record %d at offset %d epoch %d, want the leader's offset %d and epoch 0", i, r.Offset, r.Epoch, i)
		}
	}
	produce(t, cl, 50, 120)
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, caughtUp(120))
	if m.Fetchers() != 1 {
		t.Fatalf("%d fetchers for one leader", m.Fetchers())
	}
	m.Unfollow(replica.TopicPartition{Topic: "t", TopicID: id, Partition: 0})
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
	fl := replica.OpenLog(t, "")
	replica.AppendAt(t, fl, 0, "stale-0", "stale-1", "stale-2") // what it had before: offsets 0..2
	fp := replica.Follower(t, 2, 1, 0, fl, 1, 2)
	m := replica.NewManager(replica.Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: replica.Quiet()}, replica.Dialer(t, tb.Addr()))
	defer m.Close()
	if err := m.Follow(replica.TopicPartition{Topic: "t", TopicID: id, Partition: 0}, 1, 0, fp, fl); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		got, err := replica.TryReadLog(t, fl)
		if err != nil {
			return err
		}
		if fl.LogStartOffset() != 25 || !slices.Equal(replica.Values(got), wantValues(25, 40)) {
			return fmt.Errorf("follower log start %d, records %v; want start 25 and r25..r39", fl.LogStartOffset(), replica.Values(got))
		}
		return nil
	})
}

// num.replica.fetchers=2: a follower of four partitions of one leader runs two fetchers, each
// with its own client (dialed per fetcher id), the partitions spread by FetcherID; every
// partition replicates, and unfollowing them all closes both fetchers.
func TestSeveralFetchersPerLeaderSplitItsPartitions(t *testing.T) {
	tb := testbroker.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 4), Value: []byte("r" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	td, err := adm.ListTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var dialed []int
	m := replica.NewManagerPerFetcher(replica.Config{ReplicaID: 2, MaxWait: 100 * time.Millisecond, Backoff: 20 * time.Millisecond, NumFetchers: 2, Logger: replica.Quiet()},
		func(leader int32, fetcher int) (replica.Client, error) {
			dialed = append(dialed, fetcher) // called under the manager's lock
			return replica.Dialer(t, tb.Addr())(leader)
		})
	defer m.Close()
	logs := make([]*plog.Log, 4)
	for p := range int32(4) {
		logs[p] = replica.OpenLog(t, "")
		fp := partition.New("t", p, 2, logs[p], 0, partition.Config{}, partition.Options{Logger: replica.Quiet()})
		if _, err := fp.ApplyAssignment(partition.Assignment{Leader: 1, LeaderEpoch: 0, PartitionEpoch: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}); err != nil {
			t.Fatal(err)
		}
		if err := m.Follow(replica.TopicPartition{Topic: "t", TopicID: td["t"].ID, Partition: p}, 1, 0, fp, logs[p]); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(dialed)
	if !slices.Equal(dialed, []int{0, 1}) || m.Fetchers() != 2 {
		t.Fatalf("dialed fetchers %v, %d running; want [0 1], 2", dialed, m.Fetchers())
	}
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		for p, l := range logs {
			got, err := replica.TryReadLog(t, l)
			if err != nil {
				return err
			}
			var want []string
			for i := p; i < 40; i += 4 {
				want = append(want, "r"+strconv.Itoa(i))
			}
			if !slices.Equal(replica.Values(got), want) {
				return fmt.Errorf("partition %d has %v, want %v", p, replica.Values(got), want)
			}
		}
		return nil
	})
	for p := range int32(4) {
		m.Unfollow(replica.TopicPartition{Topic: "t", TopicID: td["t"].ID, Partition: p})
		if want := []int{2, 2, 1, 0}[p]; m.Fetchers() != want { // t-0,t-2 on fetcher 0; t-1,t-3 on 1
			t.Fatalf("%d fetchers after unfollowing t-0..t-%d, want %d", m.Fetchers(), p, want)
		}
	}
}
