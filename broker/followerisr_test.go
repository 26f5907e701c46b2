package broker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestFollowersApplyACommittedISRChange: when the leader shrinks the ISR through the controller
// (a follower stopped fetching), every replica — the followers too, not only the leader — applies
// the committed ISR and partition epoch from the image, as Kafka's makeFollower does.
func TestFollowersApplyACommittedISRChange(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "replica.lag.time.max.ms=300")
	waitUnfenced(t, nodes)
	const topic = "followerisr"
	createThroughController(context.Background(), t, nodes[0], topic, 1, 3)
	var leader int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition(topic, 0)
		if p == nil {
			return fmt.Errorf("no %s-0 in the image", topic)
		}
		for _, r := range p.Replicas {
			if _, ok := broker.HostedReplica(nodes[r-1], topic, 0); !ok {
				return fmt.Errorf("node %d does not host %s-0 yet", r, topic)
			}
		}
		leader = p.Leader
		return nil
	})
	stalled := leader%3 + 1
	broker.StopReplicaFetching(nodes[stalled-1], topic, 0)
	cl := newClient(t, nodes[leader-1].Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition(topic, 0)
		if slices.Contains(p.Isr, stalled) {
			return fmt.Errorf("image ISR %v still holds %d", p.Isr, stalled)
		}
		for _, r := range p.Replicas {
			snap, ok := broker.HostedReplica(nodes[r-1], topic, 0)
			if !ok || !slices.Equal(snap.ISR, p.Isr) || snap.PartitionEpoch != p.PartitionEpoch {
				return fmt.Errorf("node %d (%v): ISR %v at partition epoch %d; image ISR %v at %d",
					r, snap.Role, snap.ISR, snap.PartitionEpoch, p.Isr, p.PartitionEpoch)
			}
		}
		return nil
	})
}
