package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testmetrics"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// gathered sums the samples of name in reg whose labels include every "key=value" of want.
func gathered(t *testing.T, reg *prometheus.Registry, name string, want ...string) (float64, bool) {
	t.Helper()
	fs, err := testmetrics.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	return fs.Value(name, want...)
}

// TestKRaftMetricsShowAnISRShrinkAndTheUnderReplicatedPartition: when a follower of a 3-replica
// partition stops fetching and its leader shrinks the ISR through the controller, the leader's
// metrics count one ISR shrink and one under-replicated partition, every replica reports the
// partition's log, and no partition is offline.
func TestKRaftMetricsShowAnISRShrinkAndTheUnderReplicatedPartition(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "replica.lag.time.max.ms=300")
	waitUnfenced(t, nodes)
	createThroughController(context.Background(), t, nodes[0], "watched", 1, 3)
	var leader int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition("watched", 0)
		if p == nil {
			return fmt.Errorf("no watched-0 in the image")
		}
		for _, r := range p.Replicas {
			if _, ok := broker.HostedReplica(nodes[r-1], "watched", 0); !ok {
				return fmt.Errorf("node %d does not host watched-0 yet", r)
			}
		}
		leader = p.Leader
		return nil
	})
	lreg := nodes[leader-1].MetricsRegistry()
	for i, b := range nodes {
		if _, ok := gathered(t, b.MetricsRegistry(), "gregor_broker_log_end_offset", "topic=watched", "partition=0"); !ok {
			t.Errorf("node %d reports no log end offset for watched-0, a replica it hosts", i+1)
		}
	}
	if n, _ := gathered(t, lreg, "gregor_broker_under_replicated_partitions"); n != 0 {
		t.Fatalf("under-replicated partitions = %v with a full ISR", n)
	}

	stalled := leader%3 + 1
	broker.StopReplicaFetching(nodes[stalled-1], "watched", 0)
	cl := newClient(t, nodes[leader-1].Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "watched", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n, _ := gathered(t, lreg, "gregor_broker_isr_shrinks_total"); n != 1 {
			return fmt.Errorf("leader %d: ISR shrinks = %v, want 1", leader, n)
		}
		if n, _ := gathered(t, lreg, "gregor_broker_under_replicated_partitions"); n != 1 {
			return fmt.Errorf("leader %d: under-replicated partitions = %v, want 1", leader, n)
		}
		return nil
	})
	for i, b := range nodes {
		if n, ok := gathered(t, b.MetricsRegistry(), "gregor_broker_offline_partitions"); !ok || n != 0 {
			t.Errorf("node %d: offline partitions = %v (reported %v), want 0", i+1, n, ok)
		}
		if int32(i+1) != leader {
			if n, _ := gathered(t, b.MetricsRegistry(), "gregor_broker_isr_shrinks_total"); n != 0 {
				t.Errorf("node %d, not the leader, counted %v ISR shrinks", i+1, n)
			}
		}
	}
}
