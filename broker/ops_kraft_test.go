package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// opsCluster is an in-process KRaft cluster of combined nodes whose nodes can be stopped and started
// again on their directories (a broker returning).
type opsCluster struct {
	t         *testing.T
	voters    string // controller.quorum.voters
	clusterID string
	cfgs      []*config.Broker
	nodes     []*broker.Broker // nil while stopped
}

// startOpsCluster starts n combined nodes with fast heartbeats; extra are more key=value settings.
func startOpsCluster(t *testing.T, n int, extra ...string) *opsCluster {
	t.Helper()
	ports := freePorts(t, n)
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	clusterID := config.RandomClusterID()
	c := &opsCluster{t: t, voters: strings.Join(voters, ","), clusterID: clusterID, nodes: make([]*broker.Broker, n)}
	for i := range n {
		dir := t.TempDir()
		cfg, _, err := config.Load("", append([]string{
			"process.roles=broker,controller", fmt.Sprintf("node.id=%d", i+1), "log.dirs=" + dir,
			"controller.quorum.voters=" + strings.Join(voters, ","),
			fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", ports[i]),
			"controller.listener.names=CONTROLLER",
			"broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1500", "replica.fetch.backoff.ms=50",
		}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		if err := config.WriteMetaProperties(dir, config.MetaProperties{ClusterID: clusterID, NodeID: cfg.NodeID}); err != nil {
			t.Fatal(err)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	for i := range n {
		c.start(int32(i + 1))
	}
	// NB: closed together, so each controlled shutdown still finds a quorum.
	t.Cleanup(func() {
		done := make(chan struct{}, len(c.nodes))
		for _, b := range c.nodes {
			go func() {
				if b != nil {
					b.Close()
				}
				done <- struct{}{}
			}()
		}
		for range c.nodes {
			<-done
		}
	})
	return c
}

// addBroker formats and starts a broker-only node (process.roles=broker: a KRaft observer that
// follows the metadata log from the controllers) with the next node ID, and returns the ID.
func (c *opsCluster) addBroker() int32 {
	c.t.Helper()
	id := int32(len(c.cfgs) + 1)
	dir := c.t.TempDir()
	cfg, _, err := config.Load("", []string{
		"process.roles=broker", fmt.Sprintf("node.id=%d", id), "log.dirs=" + dir,
		"controller.quorum.voters=" + c.voters, "listeners=PLAINTEXT://127.0.0.1:0", "controller.listener.names=CONTROLLER",
		"broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1500", "replica.fetch.backoff.ms=50",
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := config.WriteMetaProperties(dir, config.MetaProperties{ClusterID: c.clusterID, NodeID: id}); err != nil {
		c.t.Fatal(err)
	}
	c.cfgs = append(c.cfgs, cfg)
	c.nodes = append(c.nodes, nil)
	c.start(id)
	return id
}

// start starts node id on its directory.
func (c *opsCluster) start(id int32) {
	c.t.Helper()
	b, err := broker.New(c.cfgs[id-1], broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		b.Close()
		c.t.Fatal(err)
	}
	c.nodes[id-1] = b
}

// stop closes node id (a controlled shutdown).
func (c *opsCluster) stop(id int32) {
	c.t.Helper()
	if err := c.nodes[id-1].Close(); err != nil {
		c.t.Logf("closing node %d: %v", id, err)
	}
	c.nodes[id-1] = nil
}

// running returns the nodes that are up.
func (c *opsCluster) running() []*broker.Broker {
	var out []*broker.Broker
	for _, b := range c.nodes {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// seeds is a bootstrap list of every running node.
func (c *opsCluster) seeds() kgo.Opt {
	var addrs []string
	for _, b := range c.running() {
		addrs = append(addrs, b.Addr())
	}
	return kgo.SeedBrokers(addrs...)
}

// createOnePartition creates topic with one partition of rf replicas and returns its replicas once
// they are all in the ISR.
func (c *opsCluster) createOnePartition(ctx context.Context, t *testing.T, topic string, rf int16) []int32 {
	t.Helper()
	createThroughController(ctx, t, c.nodes[0], topic, 1, rf)
	var replicas []int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := c.nodes[0].MetadataImage().Partition(topic, 0)
		if p == nil || len(p.Isr) != int(rf) {
			return fmt.Errorf("partition %+v", p)
		}
		replicas = slices.Clone(p.Replicas)
		return nil
	})
	return replicas
}

// produceRange writes values from..to-1 with acks=all.
func produceRange(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
}

// checkReadable consumes the topic's n records from the start and checks they are 0..n-1 in order.
func (c *opsCluster) checkReadable(t *testing.T, topic string, n int) {
	t.Helper()
	got := consumeAll(t, c.running()[0].Addr(), topic, n, c.seeds())
	for i, r := range got {
		if string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d of %s: %q", i, topic, r.Value)
		}
	}
}

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
