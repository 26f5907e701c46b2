//go:build unix

package testcluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// Helpers for failover tests on a KRaft cluster (issue 10): a three-node quorum with fast fencing,
// topics created on the active controller, and who leads what.

// FailoverSessionTimeout is broker.session.timeout.ms of StartFailover's clusters: how long the
// controller waits before it fences a killed node and moves its leaderships.
const FailoverSessionTimeout = 2 * time.Second

// StartFailover starts three combined broker+controller nodes (KRaft) with fast fencing
// (FailoverSessionTimeout, heartbeats every 200 ms), offsets.topic.replication.factor=3 and
// unclean leader election off, and waits until every broker is registered; opts add to them.
func StartFailover(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c := Start(t, append([]Option{Nodes(3), KRaft(),
		Set("broker.session.timeout.ms", fmt.Sprint(FailoverSessionTimeout.Milliseconds())),
		Set("broker.heartbeat.interval.ms", "200"),
		Set("offsets.topic.replication.factor", "3"),
		Set("unclean.leader.election.enable", "false"),
	}, opts...)...)
	c.WaitBrokers(t, 3)
	return c
}

// Client returns a franz-go client of the cluster with a short metadata max age, closed when the
// test ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...),
		kgo.MetadataMinAge(250 * time.Millisecond), kgo.MetadataMaxAge(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// WaitBrokers waits until Metadata from the cluster lists n brokers.
func (c *Cluster) WaitBrokers(t testing.TB, n int) {
	t.Helper()
	cl := c.Client(t)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Brokers) != n {
			return fmt.Errorf("%d brokers in Metadata, want %d", len(resp.Brokers), n)
		}
		return nil
	})
}

// MustCreateTopic creates topic on the active controller and waits until Metadata shows every
// partition with a leader and an ISR of rf.
//
// NB: sent to the controller listeners directly, so it works while any one broker is down.
func (c *Cluster) MustCreateTopic(t testing.TB, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	c.createTopic(t, topic, partitions, rf, nil, configs)
}

// CreateTopicAssigned is MustCreateTopic with an explicit replica assignment (node IDs per partition,
// the preferred leader first).
func (c *Cluster) CreateTopicAssigned(t testing.TB, topic string, assignment [][]int32, configs map[string]string) {
	t.Helper()
	c.createTopic(t, topic, -1, -1, assignment, configs)
}

// controllerKgo is a franz-go client of the controller listeners; the caller closes it.
func (c *Cluster) controllerKgo(t testing.TB) *kgo.Client {
	t.Helper()
	var voters []string
	for _, n := range c.Nodes {
		voters = append(voters, n.ControllerProxy.Addr())
	}
	ctl, err := kgo.NewClient(kgo.SeedBrokers(voters...))
	if err != nil {
		t.Fatal(err)
	}
	return ctl
}

func (c *Cluster) createTopic(t testing.TB, topic string, partitions int32, rf int16, assignment [][]int32, configs map[string]string) {
	t.Helper()
	ctl := c.controllerKgo(t)
	defer ctl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	for i, replicas := range assignment {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(i), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	if assignment != nil {
		partitions, rf = int32(len(assignment)), int16(len(assignment[0]))
	}
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var last error
		for _, b := range ctl.SeedBrokers() {
			ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
			resp, err := b.Request(ctx, req)
			cancel()
			if err != nil {
				last = err
				continue
			}
			code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
			if code == 0 || code == kerr.TopicAlreadyExists.Code {
				return nil
			}
			last = kerr.ErrorForCode(code)
		}
		return fmt.Errorf("CreateTopics %s: %w", topic, last)
	})
	c.WaitReplicated(t, topic, partitions, int(rf))
}

// WaitReplicated waits until Metadata shows every partition of topic with a leader and isr in-sync
// replicas.
func (c *Cluster) WaitReplicated(t testing.TB, topic string, partitions int32, isr int) {
	t.Helper()
	cl := c.Client(t)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		ps, err := TopicPartitions(cl, topic)
		if err != nil {
			return err
		}
		if len(ps) != int(partitions) {
			return fmt.Errorf("%s has %d partitions, want %d", topic, len(ps), partitions)
		}
		for _, p := range ps {
			if p.Leader < 0 || len(p.ISR) != isr {
				return fmt.Errorf("%s-%d: leader %d, isr %v", topic, p.Partition, p.Leader, p.ISR)
			}
		}
		return nil
	})
}

// TopicPartitions returns topic's partitions as Metadata through cl shows them.
func TopicPartitions(cl *kgo.Client, topic string) ([]kmsg.MetadataResponseTopicPartition, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata of %s: %d topics", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	return resp.Topics[0].Partitions, nil
}

// Leader returns the node leading topic-partition according to Metadata.
func (c *Cluster) Leader(t testing.TB, topic string, partition int32) *Node {
	t.Helper()
	cl := c.Client(t)
	var node *Node
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ps, err := TopicPartitions(cl, topic)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Partition == partition && p.Leader >= 1 && int(p.Leader) <= len(c.Nodes) {
				node = c.Nodes[p.Leader-1]
				return nil
			}
		}
		return fmt.Errorf("%s-%d has no leader", topic, partition)
	})
	return node
}

// GroupCoordinator returns the node FindCoordinator names for groupID.
func (c *Cluster) GroupCoordinator(t testing.TB, groupID string) *Node {
	t.Helper()
	cl := c.Client(t)
	var node *Node
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorKeys = groupID, []string{groupID}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		id, code := resp.NodeID, resp.ErrorCode
		if len(resp.Coordinators) == 1 {
			id, code = resp.Coordinators[0].NodeID, resp.Coordinators[0].ErrorCode
		}
		if err := kerr.ErrorForCode(code); err != nil {
			return err
		}
		if id < 1 || int(id) > len(c.Nodes) {
			return fmt.Errorf("coordinator %d", id)
		}
		node = c.Nodes[id-1]
		return nil
	})
	return node
}

// ActiveControllerNode returns the node whose controller leads the metadata quorum (DescribeQuorum).
func (c *Cluster) ActiveControllerNode(t testing.TB) *Node {
	t.Helper()
	ctl := c.controllerKgo(t)
	defer ctl.Close()
	var node *Node
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		var last error = fmt.Errorf("no controller answered")
		for _, b := range ctl.SeedBrokers() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			resp, err := b.Request(ctx, req)
			cancel()
			if err != nil {
				last = err
				continue
			}
			dq := resp.(*kmsg.DescribeQuorumResponse)
			if len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
				last = fmt.Errorf("DescribeQuorum: %+v", dq)
				continue
			}
			id := dq.Topics[0].Partitions[0].LeaderID
			if id < 1 || int(id) > len(c.Nodes) {
				last = fmt.Errorf("quorum leader %d", id)
				continue
			}
			node = c.Nodes[id-1]
			return nil
		}
		return last
	})
	return node
}

// GroupAwayFromController returns a group ID, prefix or prefix-<n>, whose coordinator is not the
// active controller's node, so that killing the coordinator leaves the controller running.
//
// NB: the failover tests that are about one role stay clear of the active controller, so that a
// kill takes one role away; killing both together is its own test
// (TestKillingTheLeaderAndTheActiveControllerTogether in broker/compat).
func (c *Cluster) GroupAwayFromController(t testing.TB, prefix string) string {
	t.Helper()
	active := c.ActiveControllerNode(t)
	for i := range 64 {
		g := prefix
		if i > 0 {
			g = fmt.Sprintf("%s-%d", prefix, i)
		}
		if c.GroupCoordinator(t, g) != active {
			return g
		}
	}
	t.Fatalf("every group %s-<n> is coordinated by node %d, the active controller", prefix, active.ID)
	return ""
}

// AssignmentAwayFromController returns a one-partition replica assignment over every node whose
// preferred leader is not the active controller's node.
func (c *Cluster) AssignmentAwayFromController(t testing.TB) [][]int32 {
	t.Helper()
	active := c.ActiveControllerNode(t)
	var replicas []int32
	for _, n := range c.Nodes {
		if n != active {
			replicas = append(replicas, n.ID)
		}
	}
	return [][]int32{append(replicas, active.ID)}
}

// FencedBrokers returns the brokers the cluster reports fenced (DescribeCluster v2 with
// IncludeFencedBrokers, KIP-1073), asking through r (a *kgo.Client, or one *kgo.Broker).
func FencedBrokers(ctx context.Context, r kmsg.Requestor) ([]int32, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeCluster: %w", err)
	}
	var fenced []int32
	for _, b := range resp.Brokers {
		if b.IsFenced {
			fenced = append(fenced, b.NodeID)
		}
	}
	return fenced, nil
}

// LogSince returns what n logged from offset from of its log file on (Node.LogSize gives an offset).
func (n *Node) LogSince(from int64) (string, error) {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "", err
	}
	if from > int64(len(b)) {
		from = 0
	}
	return string(b[from:]), nil
}

// LogSize is the size of n's log file now (0 if it has none yet).
func (n *Node) LogSize() int64 {
	fi, err := os.Stat(n.LogPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}
