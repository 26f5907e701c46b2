package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/replica"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestKRaftNumReplicaFetchersSplitsALeadersPartitions: with num.replica.fetchers=2 a node runs a
// fetcher per (leader, Kafka fetcher id) among the partitions it follows — up to two per leader —
// and acks=all produces to six RF=3 partitions complete, every replica ending at the leader's
// log end offset.
func TestKRaftNumReplicaFetchersSplitsALeadersPartitions(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "num.replica.fetchers=2")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createThroughController(ctx, t, nodes[0], "spread", 6, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 60 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "spread", Partition: int32(i % 6), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("acks=all produce %d: %v", i, err)
		}
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			fetchers := map[[2]int]bool{}
			for p := int32(0); p < 6; p++ {
				snap, ok := broker.HostedReplica(b, "spread", p)
				if !ok {
					return fmt.Errorf("node %d does not host spread-%d", i+1, p)
				}
				if snap.LogEndOffset != 10 {
					return fmt.Errorf("node %d spread-%d ends at %d, want 10", i+1, p, snap.LogEndOffset)
				}
				if snap.Leader != int32(i+1) {
					fetchers[[2]int{int(snap.Leader), replica.FetcherID(replica.TopicPartition{Topic: "spread", Partition: p}, 2)}] = true
				}
			}
			if got := broker.ReplicaFetchers(b); got != len(fetchers) || got < 3 {
				return fmt.Errorf("node %d runs %d replica fetchers, want %d (%v), at least 3", i+1, got, len(fetchers), fetchers)
			}
		}
		return nil
	})
}
