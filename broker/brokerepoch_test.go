package broker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// replicaFetch sends leader one Fetch as replica of topic-0 at offset, naming brokerEpoch in
// ReplicaState (KIP-903), and returns the partition's answer.
func replicaFetch(t *testing.T, leader *broker.Broker, topic string, replica int32, brokerEpoch int64, leaderEpoch int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	img := leader.MetadataImage()
	cl := newClient(t, leader.Addr())
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = replica, replica, brokerEpoch
	req.MaxBytes, req.SessionEpoch = 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, img.Topic(topic).ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.FetchOffset, rp.PartitionMaxBytes = leaderEpoch, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version < 15 {
		t.Fatalf("fetch answered at v%d, want v15+ (ReplicaState)", resp.Version)
	}
	return resp.Topics[0].Partitions[0]
}

// stallOneFollower starts a 3-node KRaft cluster (replica.lag.time.max.ms=300), creates topic
// (one partition, RF 3) through the controller, stops one follower's fetching and appends a
// record, so the leader proposes that follower out of the ISR. It returns the nodes, the leader
// and the stalled follower.
func stallOneFollower(t *testing.T, topic string) (nodes []*broker.Broker, leader, stalled int32) {
	t.Helper()
	nodes = startKRaftCluster(t, 3, "replica.lag.time.max.ms=300")
	waitUnfenced(t, nodes)
	createThroughController(context.Background(), t, nodes[0], topic, 1, 3)
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
	stalled = leader%3 + 1
	broker.StopReplicaFetching(nodes[stalled-1], topic, 0)
	// NB: a follower at the log end stays caught up (Kafka's rule): the leader must append for the
	// stalled one to fall behind.
	cl := newClient(t, nodes[leader-1].Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return nodes, leader, stalled
}

// TestFetchWithAStaleBrokerEpochDoesNotBringAReplicaBackIntoTheISR: KIP-903. A follower out of
// the ISR that fetches up to the leader's log end naming a broker epoch that is not its current
// registration (an earlier incarnation's) is served, but the leader does not take it as the
// follower's progress: no ISR expansion is proposed. The same fetch with the follower's current
// broker epoch brings it back.
func TestFetchWithAStaleBrokerEpochDoesNotBringAReplicaBackIntoTheISR(t *testing.T) {
	const topic = "epochs"
	nodes, leader, stalled := stallOneFollower(t, topic)
	var snap replication.Snapshot
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var ok bool
		snap, ok = broker.HostedReplica(nodes[leader-1], topic, 0)
		if !ok || slices.Contains(snap.ISR, stalled) || snap.PendingISR != nil {
			return fmt.Errorf("leader %d: ISR %v, pending %v; waiting for %d to be shrunk away", leader, snap.ISR, snap.PendingISR, stalled)
		}
		return nil
	})

	st, _ := nodes[stalled-1].LifecycleState()
	for _, stale := range []int64{st.BrokerEpoch - 1, st.BrokerEpoch + 100} {
		sp := replicaFetch(t, nodes[leader-1], topic, stalled, stale, snap.LeaderEpoch, snap.LogEndOffset)
		if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
			t.Fatalf("fetch with broker epoch %d: %v", stale, err)
		}
		// NB: the leader proposes an expansion while it handles the fetch, before it answers.
		after, _ := broker.HostedReplica(nodes[leader-1], topic, 0)
		if after.PendingISR != nil || slices.Contains(after.ISR, stalled) {
			t.Fatalf("a fetch with broker epoch %d (registered %d) proposed ISR %v (ISR %v)", stale, st.BrokerEpoch, after.PendingISR, after.ISR)
		}
	}
	sp := replicaFetch(t, nodes[leader-1], topic, stalled, st.BrokerEpoch, snap.LeaderEpoch, snap.LogEndOffset)
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		t.Fatalf("fetch with the current broker epoch: %v", err)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := nodes[0].MetadataImage().Partition(topic, 0); !slices.Contains(p.Isr, stalled) {
			return fmt.Errorf("ISR %v: %d not back after a fetch with its current broker epoch", p.Isr, stalled)
		}
		return nil
	})
}
