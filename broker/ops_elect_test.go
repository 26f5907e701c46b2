package broker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestKRaftElectLeadersAndDescribeAPIs: through a broker, a preferred election where the preferred
// replica leads answers ELECTION_NOT_NEEDED and an unclean one on a led partition too; DescribeQuorum
// (forwarded) names the quorum leader and three voters; DescribeCluster lists the three unfenced
// brokers; DescribeLogDirs on each broker lists its replicas of the
// image's partitions with their size.
func TestKRaftElectLeadersAndDescribeAPIs(t *testing.T) {
	c := startOpsCluster(t, 3)
	waitUnfenced(t, c.nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "described"
	createThroughController(ctx, t, c.nodes[0], topic, 3, 2)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for pid := range int32(3) {
			if p := c.nodes[0].MetadataImage().Partition(topic, pid); p == nil || p.Leader != p.Replicas[0] {
				return fmt.Errorf("partition %d: %+v", pid, p)
			}
		}
		return nil
	})
	cl := newClient(t, c.nodes[0].Addr(), c.seeds(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for pid := range int32(3) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: pid, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", pid, err)
		}
	}
	adm := kadm.NewClient(cl)

	for _, typ := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := adm.ElectLeaders(ctx, typ, kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
		if err != nil {
			t.Fatal(err)
		}
		for pid, r := range res[topic] {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "ELECTION_NOT_NEEDED") {
				t.Fatalf("election %v of partition %d: %v", typ, pid, r.Err)
			}
		}
	}

	dq := kmsg.NewPtrDescribeQuorumRequest()
	qt := kmsg.NewDescribeQuorumRequestTopic()
	qt.Topic = "__cluster_metadata"
	qt.Partitions = append(qt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	dq.Topics = append(dq.Topics, qt)
	for i, b := range c.nodes {
		resp, err := dq.RequestWith(ctx, newClient(t, b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderID < 1 || len(p.CurrentVoters) != 3 {
			t.Fatalf("DescribeQuorum through node %d: %+v", i+1, p)
		}
	}

	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, newClient(t, c.nodes[2].Addr()))
		if err != nil {
			return err
		}
		if len(resp.Brokers) != 3 {
			return fmt.Errorf("DescribeCluster: %d brokers", len(resp.Brokers))
		}
		return nil
	})

	for i, b := range c.nodes {
		// NB: a kgo client shards DescribeLogDirs over every broker; ask this one alone.
		raw, err := newClient(t, b.Addr()).SeedBrokers()[0].Request(ctx, kmsg.NewPtrDescribeLogDirsRequest())
		if err != nil {
			t.Fatal(err)
		}
		resp := raw.(*kmsg.DescribeLogDirsResponse)
		var hosted, listed []int32
		for pid := range int32(3) {
			if slices.Contains(b.MetadataImage().Partition(topic, pid).Replicas, int32(i+1)) {
				hosted = append(hosted, pid)
			}
		}
		var size int64
		for _, d := range resp.Dirs {
			for _, dt := range d.Topics {
				if dt.Topic != topic {
					continue
				}
				for _, p := range dt.Partitions {
					listed = append(listed, p.Partition)
					size += p.Size
				}
			}
		}
		if !slices.Equal(hosted, listed) || (len(hosted) > 0 && size == 0) {
			t.Fatalf("node %d: DescribeLogDirs lists partitions %v (%d bytes), it hosts %v", i+1, listed, size, hosted)
		}
	}
}

// TestKRaftUncleanElectionThroughABrokerRevivesAnOfflinePartition: a partition on brokers 4 and 5
// whose ISR shrank to 4 (5 stopped) goes offline when 4 stops too; 5 returning does not lead (it is
// not in the ISR, unclean.leader.election.enable is false), and a preferred election cannot help. An
// unclean ElectLeaders sent to a broker elects 5, and the partition serves again.
func TestKRaftUncleanElectionThroughABrokerRevivesAnOfflinePartition(t *testing.T) {
	c := startOpsCluster(t, 3)
	b4, b5 := c.addBroker(), c.addBroker()
	waitUnfenced(t, c.running())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "unclean"
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Replicas = []int32{b4, b5}
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, a)
	create.Topics, create.TimeoutMillis = append(create.Topics, ct), 10000
	if resp, err := broker.SendToController(ctx, c.nodes[0], create); err != nil || resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s on brokers %d, %d: %v %+v", topic, b4, b5, err, resp)
	}
	partition := func() *metadata.Partition { return c.nodes[0].MetadataImage().Partition(topic, 0) }
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := partition(); p == nil || p.Leader != b4 || len(p.Isr) != 2 {
			return fmt.Errorf("partition %+v", p)
		}
		return nil
	})
	c.stop(b5)
	c.stop(b4)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := partition(); p.Leader != metadata.NoLeader || !slices.Equal(p.Isr, []int32{b4}) {
			return fmt.Errorf("leader %d, ISR %v; want offline with ISR [%d]", p.Leader, p.Isr, b4)
		}
		return nil
	})
	c.start(b5)
	adm := kadm.NewClient(newClient(t, c.nodes[0].Addr(), c.seeds()))
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if !c.nodes[0].MetadataImage().IsUsable(b5) {
			return fmt.Errorf("broker %d not unfenced yet", b5)
		}
		res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
		if err != nil {
			return err
		}
		if r := res[topic][0]; r.Err == nil || partition().Leader != metadata.NoLeader {
			return fmt.Errorf("a preferred election of an offline partition: %v, leader %d", r.Err, partition().Leader)
		}
		return nil
	})
	res, err := adm.ElectLeaders(ctx, kadm.ElectLiveReplica, kadm.TopicsSet{topic: {0: {}}})
	if err != nil || res[topic][0].Err != nil {
		t.Fatalf("unclean election: %v %+v", err, res)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := partition(); p.Leader != b5 || !slices.Equal(p.Isr, []int32{b5}) {
			return fmt.Errorf("leader %d, ISR %v; want %d alone", p.Leader, p.Isr, b5)
		}
		return nil
	})
	cl := newClient(t, c.nodes[0].Addr(), c.seeds())
	produceRange(ctx, t, cl, topic, 0, 5)
	c.checkReadable(t, topic, 5)
}
