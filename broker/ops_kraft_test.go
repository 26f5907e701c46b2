package broker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestKRaftReassignmentMovesDataAndKeepsRecordsReadable: AlterPartitionReassignments sent to a broker
// (kadm, as kafka-reassign-partitions.sh does) is forwarded to the controller. Adding the third broker
// to an RF=2 partition copies the log to it: it catches up, joins the ISR, and the reassignment
// completes (ListPartitionReassignments is empty again). Removing the original first replica (the
// leader) then moves leadership to a remaining replica and deletes the removed replica's log. Every
// acknowledged record stays readable after each step, and producing carries on.
func TestKRaftReassignmentMovesDataAndKeepsRecordsReadable(t *testing.T) {
	c := startOpsCluster(t, 3)
	waitUnfenced(t, c.nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "moving"
	orig := c.createOnePartition(ctx, t, topic, 2)
	var newcomer int32
	for id := int32(1); id <= 3; id++ {
		if !slices.Contains(orig, id) {
			newcomer = id
		}
	}
	cl := newClient(t, c.nodes[0].Addr(), c.seeds())
	produceRange(ctx, t, cl, topic, 0, 50)

	adm := kadm.NewClient(newClient(t, c.nodes[0].Addr(), c.seeds()))
	reassign := func(replicas []int32) {
		t.Helper()
		var req kadm.AlterPartitionAssignmentsReq
		req.Assign(topic, 0, replicas)
		resp, err := adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Error(); err != nil {
			t.Fatalf("reassign to %v: %v", replicas, err)
		}
	}
	waitAssignment := func(replicas []int32) {
		t.Helper()
		testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			for i, b := range c.running() {
				p := b.MetadataImage().Partition(topic, 0)
				if !slices.Equal(p.Replicas, replicas) || p.Reassigning() || len(p.Isr) != len(replicas) {
					return fmt.Errorf("node %d: replicas %v, ISR %v, adding %v, removing %v", i+1, p.Replicas, p.Isr, p.AddingReplicas, p.RemovingReplicas)
				}
			}
			listed, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}}})
			if err != nil || len(listed) != 0 {
				return fmt.Errorf("reassignments in progress: %v %v", listed, err)
			}
			return nil
		})
	}

	grown := append(slices.Clone(orig), newcomer)
	reassign(grown)
	waitAssignment(grown)
	snap, ok := broker.HostedReplica(c.nodes[newcomer-1], topic, 0)
	if !ok || snap.LogEndOffset < 50 {
		t.Fatalf("new replica %d: hosted %v, log end offset %d, want ≥ 50", newcomer, ok, snap.LogEndOffset)
	}
	c.checkReadable(t, topic, 50)
	produceRange(ctx, t, cl, topic, 50, 100)

	removed := orig[0]
	shrunk := []int32{orig[1], newcomer}
	reassign(shrunk)
	waitAssignment(shrunk)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, ok := broker.HostedReplica(c.nodes[removed-1], topic, 0); ok {
			return fmt.Errorf("removed replica %d still hosts %s-0", removed, topic)
		}
		if p := c.nodes[0].MetadataImage().Partition(topic, 0); !slices.Contains(shrunk, p.Leader) {
			return fmt.Errorf("leader %d is not one of %v", p.Leader, shrunk)
		}
		return nil
	})
	produceRange(ctx, t, cl, topic, 100, 150)
	c.checkReadable(t, topic, 150)
}

// TestKRaftPreferredLeadershipReturnsWithAutoRebalance: with auto.leader.rebalance.enable and a short
// leader.imbalance.check.interval.seconds, a partition whose preferred leader stopped (leadership moved
// to another replica; DescribeCluster v2 lists the broker as fenced) gets it back once that broker
// returns and rejoins the ISR.
func TestKRaftPreferredLeadershipReturnsWithAutoRebalance(t *testing.T) {
	c := startOpsCluster(t, 3, "leader.imbalance.check.interval.seconds=1", "replica.lag.time.max.ms=1000")
	waitUnfenced(t, c.nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "balanced"
	createThroughController(ctx, t, c.nodes[0], topic, 1, 3)
	var preferred int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := c.nodes[0].MetadataImage().Partition(topic, 0)
		if p == nil || p.Leader != p.Replicas[0] {
			return fmt.Errorf("partition %+v", p)
		}
		preferred = p.Leader
		return nil
	})
	c.stop(preferred)
	other := c.running()[0]
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if p := other.MetadataImage().Partition(topic, 0); p.Leader == preferred || p.Leader < 0 {
			return fmt.Errorf("leader %d", p.Leader)
		}
		return nil
	})
	// DescribeCluster v2 with IncludeFencedBrokers (KIP-1073) lists the stopped broker as fenced.
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = true
		resp, err := req.RequestWith(ctx, newClient(t, other.Addr()))
		if err != nil {
			return err
		}
		var fenced []int32
		for _, br := range resp.Brokers {
			if br.IsFenced {
				fenced = append(fenced, br.NodeID)
			}
		}
		if len(resp.Brokers) != 3 || !slices.Equal(fenced, []int32{preferred}) {
			return fmt.Errorf("DescribeCluster lists %d brokers, fenced %v; stopped %d", len(resp.Brokers), fenced, preferred)
		}
		return nil
	})
	cl := newClient(t, other.Addr(), c.seeds())
	produceRange(ctx, t, cl, topic, 0, 10)

	c.start(preferred)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		p := other.MetadataImage().Partition(topic, 0)
		if p.Leader != preferred {
			return fmt.Errorf("leader %d, ISR %v; preferred %d", p.Leader, p.Isr, preferred)
		}
		return nil
	})
	produceRange(ctx, t, cl, topic, 10, 20)
	c.checkReadable(t, topic, 20)
}

// TestKRaftAddedBrokerTakesOverReplicasAndLeavesAfterReassignment is docs/operations.md's "adding and
// removing a broker": a broker-only node joins a running three-node cluster (registers, is unfenced,
// follows the metadata log as an observer, which DescribeQuorum through it lists) and hosts nothing until a reassignment moves a replica to
// it; it then copies the log, joins the ISR and, made the preferred replica, leads after a preferred
// election. Reassigning the partition away again lets it be stopped with nothing lost.
func TestKRaftAddedBrokerTakesOverReplicasAndLeavesAfterReassignment(t *testing.T) {
	c := startOpsCluster(t, 3)
	waitUnfenced(t, c.nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "grow"
	orig := c.createOnePartition(ctx, t, topic, 3)
	cl := newClient(t, c.nodes[0].Addr(), c.seeds())
	produceRange(ctx, t, cl, topic, 0, 30)

	added := c.addBroker()
	waitUnfenced(t, c.running())
	if _, ok := broker.HostedReplica(c.nodes[added-1], topic, 0); ok {
		t.Fatalf("the new broker %d hosts %s-0 before any reassignment", added, topic)
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		dq := kmsg.NewPtrDescribeQuorumRequest()
		qt := kmsg.NewDescribeQuorumRequestTopic()
		qt.Topic = "__cluster_metadata"
		qt.Partitions = append(qt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		dq.Topics = append(dq.Topics, qt)
		resp, err := dq.RequestWith(ctx, newClient(t, c.nodes[added-1].Addr()))
		if err != nil {
			return err
		}
		p := resp.Topics[0].Partitions[0]
		if len(p.CurrentVoters) != 3 || len(p.Observers) != 1 || p.Observers[0].ReplicaID != added {
			return fmt.Errorf("DescribeQuorum through broker %d: voters %d, observers %+v", added, len(p.CurrentVoters), p.Observers)
		}
		return nil
	})
	adm := kadm.NewClient(newClient(t, c.nodes[0].Addr(), c.seeds()))
	target := []int32{added, orig[1], orig[2]}
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign(topic, 0, target)
	if resp, err := adm.AlterPartitionAssignments(ctx, req); err != nil || resp.Error() != nil {
		t.Fatalf("reassign to %v: %v %v", target, err, resp.Error())
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		p := c.nodes[0].MetadataImage().Partition(topic, 0)
		if !slices.Equal(p.Replicas, target) || p.Reassigning() || !p.InIsr(added) {
			return fmt.Errorf("replicas %v, ISR %v, adding %v", p.Replicas, p.Isr, p.AddingReplicas)
		}
		if _, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}}); err != nil {
			return err
		}
		if p.Leader != added {
			return fmt.Errorf("leader %d, want the new preferred replica %d", p.Leader, added)
		}
		return nil
	})
	snap, _ := broker.HostedReplica(c.nodes[added-1], topic, 0)
	if snap.LogEndOffset < 30 {
		t.Fatalf("the new broker's replica ends at %d, want ≥ 30", snap.LogEndOffset)
	}
	produceRange(ctx, t, cl, topic, 30, 60)
	c.checkReadable(t, topic, 60)

	// Removing the broker: move its replica back, then stop it.
	req = nil
	req.Assign(topic, 0, orig)
	if resp, err := adm.AlterPartitionAssignments(ctx, req); err != nil || resp.Error() != nil {
		t.Fatalf("reassign back to %v: %v %v", orig, err, resp.Error())
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		p := c.nodes[0].MetadataImage().Partition(topic, 0)
		if !slices.Equal(p.Replicas, orig) || p.Reassigning() || len(p.Isr) != 3 {
			return fmt.Errorf("replicas %v, ISR %v", p.Replicas, p.Isr)
		}
		if _, ok := broker.HostedReplica(c.nodes[added-1], topic, 0); ok {
			return fmt.Errorf("broker %d still hosts %s-0", added, topic)
		}
		return nil
	})
	c.stop(added)
	produceRange(ctx, t, cl, topic, 60, 90)
	c.checkReadable(t, topic, 90)
}
