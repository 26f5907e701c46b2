package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestABrokerOnlyNodeFollowsTheMetadataLogOverTheNetwork: a broker-only node (process.roles=broker)
// joins a three-voter quorum whose log was already compacted behind a snapshot: it fetches the
// snapshot with FetchSnapshot (in 64-byte chunks), then the log with Fetch on __cluster_metadata-0,
// registers, is unfenced once caught up, sees every topic, and keeps following across a controller
// failover.
func TestABrokerOnlyNodeFollowsTheMetadataLogOverTheNetwork(t *testing.T) {
	c := startCluster(t, 3, withQuorum(func(cfg *quorum.Config) {
		cfg.SnapshotAfterBatches = 4
		cfg.SnapshotCatchUpEntries = 1
	}))
	c.waitUnfenced()
	for i := range 6 {
		c.createTopic(fmt.Sprintf("early-%d", i), 1, 3)
	}
	c.waitTopic("early-5", 1)
	testutil.CheckFor(t, waitLong, poll, func() error {
		if _, err := c.active().ctl.Quorum().ReadCommitted(1, 1<<20); err == nil {
			return fmt.Errorf("the leader's log is not compacted yet")
		}
		return nil
	})

	broker := c.startBrokerOnly(4)
	c.waitUnfenced()
	// Loaded from the snapshot: the first image it published already held several topics, where
	// reading the log batch by batch would have published one topic at a time.
	if first := broker.first.Load(); first == nil || first.NumTopics() < 2 {
		t.Fatalf("the broker-only node's first image did not come from a snapshot: %v", first)
	}
	for i := range 6 {
		c.waitTopic(fmt.Sprintf("early-%d", i), 1)
	}
	// The quorum leader lists the broker-only node as an observer, caught up.
	testutil.CheckFor(t, waitLong, poll, func() error {
		dq, err := describeQuorum(t, c.active())
		if err != nil {
			return err
		}
		p := dq.Topics[0].Partitions[0]
		if len(p.Observers) != 1 || p.Observers[0].ReplicaID != 4 || p.Observers[0].LogEndOffset != p.HighWatermark {
			return fmt.Errorf("DescribeQuorum observers %+v, high watermark %d", p.Observers, p.HighWatermark)
		}
		return nil
	})
	c.createTopic("wide", 4, 4)
	tp := c.waitTopic("wide", 4)
	if !tp.Partition(0).HasReplica(4) {
		t.Errorf("wide-0 replicas %v lack the broker-only node", tp.Partition(0).Replicas)
	}

	killed := c.active().id
	c.kill(killed)
	c.createTopic("after-failover", 1, 2)
	testutil.CheckFor(t, waitLong, poll, func() error {
		if broker.pub.Current().Topic("after-failover") == nil {
			return fmt.Errorf("broker-only node lacks the topic created after controller %d was killed", killed)
		}
		return nil
	})
	if err := broker.follower.Err(); err != nil {
		t.Fatal(err)
	}
}
