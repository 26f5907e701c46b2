package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// TestKRaftImageOpensAssignedPartitions: a topic the controller creates (RF 3, 2 partitions) appears
// on every node of a 3-node cluster as replicas opened from the metadata image: on the image's
// leader the partition is leader at the image's leader epoch, partition epoch, replicas and ISR,
// elsewhere a follower of that leader with one replica fetcher per leader it follows. Deleting the topic through the controller removes every
// replica, its directory and the fetchers.
func TestKRaftImageOpensAssignedPartitions(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	createThroughController(ctx, t, nodes[0], "applied", 2, 3)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			img := b.MetadataImage()
			followed := map[int32]bool{}
			for p := int32(0); p < 2; p++ {
				want := img.Partition("applied", p)
				if want == nil {
					return fmt.Errorf("node %d: no applied-%d in the image", i+1, p)
				}
				snap, ok := broker.HostedReplica(b, "applied", p)
				if !ok {
					return fmt.Errorf("node %d does not host applied-%d", i+1, p)
				}
				role := replication.RoleFollower
				if want.Leader == int32(i+1) {
					role = replication.RoleLeader
				} else {
					followed[want.Leader] = true
				}
				if snap.Role != role || snap.Leader != want.Leader || snap.LeaderEpoch != want.LeaderEpoch ||
					snap.PartitionEpoch != want.PartitionEpoch || !slices.Equal(snap.Replicas, want.Replicas) ||
					!slices.Equal(snap.ISR, want.Isr) {
					return fmt.Errorf("node %d applied-%d: %+v, image %+v", i+1, p, snap, *want)
				}
				if _, err := os.Stat(broker.PartitionDir(b, "applied", p)); err != nil {
					return fmt.Errorf("node %d: %w", i+1, err)
				}
			}
			if got := broker.ReplicaFetchers(b); got != len(followed) {
				return fmt.Errorf("node %d runs %d replica fetchers, follows leaders %v", i+1, got, followed)
			}
		}
		return nil
	})
	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	name := "applied"
	dt.Topic = &name
	del.Topics = append(del.Topics, dt)
	del.TopicNames = append(del.TopicNames, name)
	del.TimeoutMillis = 10000
	dresp, err := broker.SendToController(ctx, nodes[1], del)
	if err != nil {
		t.Fatal(err)
	}
	if code := dresp.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("DeleteTopics: %v", kerr.ErrorForCode(code))
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			for p := int32(0); p < 2; p++ {
				if _, ok := broker.HostedReplica(b, "applied", p); ok {
					return fmt.Errorf("node %d still hosts applied-%d", i+1, p)
				}
				if _, err := os.Stat(broker.PartitionDir(b, "applied", p)); !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("node %d applied-%d directory: %v", i+1, p, err)
				}
			}
			if got := broker.ReplicaFetchers(b); got != 0 {
				return fmt.Errorf("node %d still runs %d replica fetchers", i+1, got)
			}
		}
		return nil
	})
}

// waitUnfenced waits until every node is registered, unfenced, and sees all nodes usable.
func waitUnfenced(t *testing.T, nodes []*broker.Broker) {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			st, ok := b.LifecycleState()
			if !ok || st.BrokerEpoch < 0 || st.Fenced {
				return fmt.Errorf("node %d: %+v", i+1, st)
			}
			if got := b.MetadataImage().UsableBrokers(); len(got) != len(nodes) {
				return fmt.Errorf("node %d sees usable brokers %v", i+1, got)
			}
		}
		return nil
	})
}

// TestKRaftLeaderShrinksTheISRThroughTheController: a follower that stops fetching (its node stays
// registered and unfenced) is proposed out of the ISR by the partition leader once it has not caught
// up for replica.lag.time.max.ms (AlterPartition to the controller); the committed ISR comes back in
// the image and the leader applies it. The follower that keeps fetching stays in the ISR.
func TestKRaftLeaderShrinksTheISRThroughTheController(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "replica.lag.time.max.ms=300")
	waitUnfenced(t, nodes)
	createThroughController(context.Background(), t, nodes[0], "shrink", 1, 3)
	var stalled, leader int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition("shrink", 0)
		if p == nil {
			return fmt.Errorf("no shrink-0 in the image")
		}
		for _, r := range p.Replicas {
			if _, ok := broker.HostedReplica(nodes[r-1], "shrink", 0); !ok {
				return fmt.Errorf("node %d does not host shrink-0 yet", r)
			}
		}
		leader = p.Leader
		return nil
	})
	stalled = leader%3 + 1
	broker.StopReplicaFetching(nodes[stalled-1], "shrink", 0)
	// NB: a follower at the log end stays caught up (Kafka's rule): the leader must append for the
	// stalled one to fall behind.
	cl := newClient(t, nodes[leader-1].Addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "shrink", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition("shrink", 0)
		want := slices.DeleteFunc(slices.Clone(p.Replicas), func(r int32) bool { return r == stalled })
		slices.Sort(want)
		isr := slices.Sorted(slices.Values(p.Isr))
		if !slices.Equal(isr, want) || p.PartitionEpoch == 0 || p.Leader != leader {
			return fmt.Errorf("image: ISR %v, leader %d, partition epoch %d", p.Isr, p.Leader, p.PartitionEpoch)
		}
		snap, ok := broker.HostedReplica(nodes[p.Leader-1], "shrink", 0)
		if !ok || !slices.Equal(snap.ISR, p.Isr) || snap.PartitionEpoch != p.PartitionEpoch {
			return fmt.Errorf("leader %d: %+v, image %+v", p.Leader, snap, *p)
		}
		return nil
	})
}

// createThroughController creates a topic with a CreateTopics sent to the active controller.
func createThroughController(ctx context.Context, t *testing.T, b *broker.Broker, name string, partitions int32, rf int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = name, partitions, rf
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10000
	resp, err := broker.SendToController(ctx, b, create)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("CreateTopics %s: %v", name, kerr.ErrorForCode(code))
	}
}
