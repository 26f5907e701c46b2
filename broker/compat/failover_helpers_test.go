//go:build unix

package compat_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// The failover tests run a client against three KRaft nodes started as subprocesses
// (internal/testcluster), kill -9 the node the client depends on, and check that the client
// carries on and that nothing it was told is durable went missing.

// failoverSessionTimeout is broker.session.timeout.ms of the failover clusters: how long the
// controller waits before it fences a killed node and moves its leaderships.
const failoverSessionTimeout = 2 * time.Second

// startFailoverCluster starts three combined broker+controller nodes with fast fencing.
func startFailoverCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	c := testcluster.Start(t, testcluster.Nodes(3), testcluster.KRaft(),
		testcluster.Set("broker.session.timeout.ms", fmt.Sprint(failoverSessionTimeout.Milliseconds())),
		testcluster.Set("broker.heartbeat.interval.ms", "200"),
		testcluster.Set("offsets.topic.replication.factor", "3"),
		testcluster.Set("unclean.leader.election.enable", "false"),
	)
	waitBrokers(t, c, 3)
	return c
}

// waitBrokers waits until Metadata from the cluster lists n brokers.
func waitBrokers(t *testing.T, c *testcluster.Cluster, n int) {
	t.Helper()
	cl := failoverAdminClient(t, c)
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

// failoverAdminClient is a franz-go client of the cluster for setup and checks, closed when the
// test ends.
func failoverAdminClient(t *testing.T, c *testcluster.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createReplicatedTopic creates topic on the cluster's active controller and waits until Metadata
// shows every partition with a leader and an ISR of rf.
//
// NB: sent to the controller listeners: a KRaft broker does not forward CreateTopics yet.
func createReplicatedTopic(t *testing.T, c *testcluster.Cluster, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	var voters []string
	for _, n := range c.Nodes {
		voters = append(voters, n.ControllerProxy.Addr())
	}
	ctl, err := kgo.NewClient(kgo.SeedBrokers(voters...))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
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
	waitReplicated(t, c, topic, partitions, int(rf))
}

// waitReplicated waits until Metadata shows every partition of topic with a leader and isr in-sync
// replicas.
func waitReplicated(t *testing.T, c *testcluster.Cluster, topic string, partitions int32, isr int) {
	t.Helper()
	cl := failoverAdminClient(t, c)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		ps, err := topicPartitions(cl, topic)
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

// topicPartitions returns topic's partitions as Metadata shows them.
func topicPartitions(cl *kgo.Client, topic string) ([]kmsg.MetadataResponseTopicPartition, error) {
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

// leaderNode returns the node leading topic-partition according to Metadata.
func leaderNode(t *testing.T, c *testcluster.Cluster, topic string, partition int32) *testcluster.Node {
	t.Helper()
	cl := failoverAdminClient(t, c)
	var node *testcluster.Node
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ps, err := topicPartitions(cl, topic)
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

// groupCoordinatorNode returns the node FindCoordinator names for groupID.
func groupCoordinatorNode(t *testing.T, c *testcluster.Cluster, groupID string) *testcluster.Node {
	t.Helper()
	cl := failoverAdminClient(t, c)
	var node *testcluster.Node
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

// killNode kills n with SIGKILL, failing the test if it cannot.
func killNode(t *testing.T, n *testcluster.Node) {
	t.Helper()
	if err := n.Kill(); err != nil && !errors.Is(err, testcluster.ErrNotRunning) {
		t.Fatal(err)
	}
	t.Logf("killed node %d (kill -9)", n.ID)
}

// failoverKafkajsModules returns .ci/node_modules, skipping (or failing in CI) without kafkajs.
func failoverKafkajsModules(t *testing.T) string {
	t.Helper()
	modules := filepath.Join(repoRoot(t), ".ci", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		missing(t, "kafkajs not installed under "+modules)
	}
	return modules
}
