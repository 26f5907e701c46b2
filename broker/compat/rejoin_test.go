package compat_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// TestNodeThatLedAnIdleEpochRejoinsTheISR is the smallest case of the restarts the group suites
// run on three nodes. One record is written to an RF=3 partition; its leader restarts, so another
// node leads the next epoch and writes nothing in it (its leader-epoch cache ends with an epoch
// starting at its log end); then that node restarts too. It must come back as a follower, catch up
// and rejoin the ISR, as in Kafka, whose truncation drops such a trailing epoch even when there is
// no record to remove.
func TestNodeThatLedAnIdleEpochRejoinsTheISR(t *testing.T) {
	c := testbroker.StartCluster(t, 3, testbroker.Set("default.replication.factor", "3"),
		testbroker.Set("min.insync.replicas", "2"))
	c.WaitUnfenced(30 * time.Second)
	tg := &target{addr: c.Node(0).Addr(), brokers: c.Len(), all: c.Bootstrap(), cluster: c}
	const topic = "idle-epoch"
	createTopic(t, tg.addr, topic, 1, nil)
	tg.waitTopicEverywhere(t, topic, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tg.all...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatalf("acks=all produce: %v", err)
	}
	tg.waitInSync(t)

	first := partitionLeader(t, tg, topic)
	t.Logf("restarting node %d, the leader", first)
	c.Node(int(first) - 1).Restart()
	tg.waitInSync(t)
	second := partitionLeader(t, tg, topic)
	if second == first {
		t.Fatalf("node %d still leads %s-0 after its restart", first, topic)
	}
	t.Logf("restarting node %d, which led an epoch without writing", second)
	c.Node(int(second) - 1).Restart()
	tg.waitInSync(t)
}

// partitionLeader is the node leading topic's partition 0, from Metadata.
func partitionLeader(t *testing.T, tg *target, topic string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adminClient(t, tg.addr).Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("Metadata %s: %v", topic, err)
	}
	p, ok := md.Topics[topic].Partitions[0]
	if !ok || p.Leader < 1 {
		t.Fatalf("Metadata %s: partition 0 %+v", topic, p)
	}
	return p.Leader
}
