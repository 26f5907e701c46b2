//go:build unix

package compat_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testcluster"
)

// The failover tests run a client against three KRaft nodes started as subprocesses
// (internal/testcluster), kill -9 the node the client depends on, and check that the client
// carries on and that nothing it was told is durable went missing.

// startFailoverCluster starts three combined broker+controller nodes with fast fencing.
func startFailoverCluster(t *testing.T) *testcluster.Cluster { return testcluster.StartFailover(t) }

// failoverAdminClient is a franz-go client of the cluster for setup and checks.
func failoverAdminClient(t *testing.T, c *testcluster.Cluster) *kgo.Client { return c.Client(t) }

// createReplicatedTopic creates topic on the active controller, replicated rf times.
func createReplicatedTopic(t *testing.T, c *testcluster.Cluster, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	c.MustCreateTopic(t, topic, partitions, rf, configs)
}

// leaderNode returns the node leading topic-partition.
func leaderNode(t *testing.T, c *testcluster.Cluster, topic string, partition int32) *testcluster.Node {
	t.Helper()
	return c.Leader(t, topic, partition)
}

// groupCoordinatorNode returns the node coordinating groupID.
func groupCoordinatorNode(t *testing.T, c *testcluster.Cluster, groupID string) *testcluster.Node {
	t.Helper()
	return c.GroupCoordinator(t, groupID)
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
