//go:build unix

package testcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// ErrNoControllers is returned by controller requests on a cluster without controller listeners.
var ErrNoControllers = errors.New("testcluster: the cluster has no controllers (use KRaft)")

// Topic describes a topic to create through the active controller.
type Topic struct {
	Name              string
	Partitions        int32 // -1: num.partitions
	ReplicationFactor int16 // -1: default.replication.factor
	// Assignment, if set, gives each partition's replicas in order (partition i is Assignment[i]);
	// Partitions and ReplicationFactor are then ignored, as in Kafka's CreateTopics.
	Assignment [][]int32
	Configs    map[string]string
}

// CreateTopic creates t with a CreateTopics sent to the active controller (found among the voters
// through their controller proxies, as a broker forwards admin requests). A topic that already
// exists counts as created: a retried request may have been applied by a controller that lost
// leadership before it answered.
func (c *Cluster) CreateTopic(ctx context.Context, t Topic) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = t.Name, t.Partitions, t.ReplicationFactor
	if len(t.Assignment) > 0 {
		ct.NumPartitions, ct.ReplicationFactor = -1, -1
		for i, replicas := range t.Assignment {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(i), slices.Clone(replicas)
			ct.ReplicaAssignment = append(ct.ReplicaAssignment, a)
		}
	}
	for k, v := range t.Configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, &v
		ct.Configs = append(ct.Configs, cfg)
	}
	req.Topics = append(req.Topics, ct)
	req.TimeoutMillis = 10000
	resp, err := c.SendToController(ctx, req)
	if err != nil {
		return fmt.Errorf("testcluster: create topic %s: %w", t.Name, err)
	}
	rt := resp.(*kmsg.CreateTopicsResponse).Topics
	if len(rt) != 1 {
		return fmt.Errorf("testcluster: create topic %s: %d topics in the response", t.Name, len(rt))
	}
	if err := kerr.ErrorForCode(rt[0].ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		msg := ""
		if rt[0].ErrorMessage != nil {
			msg = ": " + *rt[0].ErrorMessage
		}
		return fmt.Errorf("testcluster: create topic %s: %w%s", t.Name, err, msg)
	}
	return nil
}

// SendToController sends req to the active controller, retrying NOT_CONTROLLER and unreachable
// voters until ctx ends (at most a minute).
func (c *Cluster) SendToController(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cl, err := c.controllerClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return cl.Send(ctx, req)
}

// ActiveController returns the node.id of the active controller as a voter that answers
// DescribeQuorum reports it, asking again until one does (bounded by ctx and a minute).
func (c *Cluster) ActiveController(ctx context.Context) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		for _, n := range c.Nodes {
			if n.ControllerProxy == nil || !n.Running() {
				continue
			}
			id, err := describeQuorumLeader(ctx, n.ControllerProxy.Addr())
			if err == nil {
				return id, nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if last == nil {
		last = ErrNoControllers
	}
	return 0, fmt.Errorf("testcluster: no active controller: %w (last: %v)", ctx.Err(), last)
}

// describeQuorumLeader asks the voter at addr who leads the metadata quorum.
func describeQuorumLeader(ctx context.Context, addr string) (int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("testcluster"))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, err
			}
			if p.LeaderID >= 0 {
				return p.LeaderID, nil
			}
		}
	}
	return 0, fmt.Errorf("voter %s knows no quorum leader", addr)
}

func (c *Cluster) controllerClient() (*lifecycle.ControllerClient, error) {
	voters := c.Voters()
	if voters == "" {
		return nil, ErrNoControllers
	}
	vs, err := quorum.ParseVoters(voters)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	return lifecycle.NewControllerClient(vs, "testcluster")
}

// WaitUnfenced waits until every running node answers Metadata listing every running node, i.e.
// each broker is registered and unfenced in the metadata image every node has (bounded by ctx
// and startTimeout).
func (c *Cluster) WaitUnfenced(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return testutil.Poll(startTimeout, 50*time.Millisecond, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var want []int32
		for _, n := range c.Nodes {
			if n.Running() {
				want = append(want, n.ID)
			}
		}
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			got, err := metadataBrokers(ctx, n.Addr())
			if err != nil {
				return fmt.Errorf("node %d: %w", n.ID, err)
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("node %d lists brokers %v, want %v", n.ID, got, want)
			}
		}
		return nil
	})
}

// metadataBrokers asks the node at addr for the brokers its Metadata lists, sorted.
func metadataBrokers(ctx context.Context, addr string) ([]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("testcluster"))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids, nil
}
