package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// createWithConfigs creates topic (partitions, rf, configs) through node b's CreateTopics (forwarded
// to the controller).
func createWithConfigs(ctx context.Context, t *testing.T, b *broker.Broker, topic string, partitions int32, rf int16, configs map[string]*string) {
	t.Helper()
	resp, err := kadm.NewClient(newClient(t, b.Addr())).CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// TestKRaftReplicaRestartsAtItsCheckpointedHighWatermark: every replica of an image partition is in
// its node's replication-offset-checkpoint, and a node restarted after a clean stop reopens its
// replica at the checkpointed high watermark, not at 0.
func TestKRaftReplicaRestartsAtItsCheckpointedHighWatermark(t *testing.T) {
	c := testbroker.StartCluster(t, 3, testbroker.Set("replica.high.watermark.checkpoint.interval.ms", "50"))
	c.WaitUnfenced(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := c.Brokers()
	createWithConfigs(ctx, t, nodes[0], "hw", 1, 3, nil)
	cl := newClient(t, nodes[0].Addr(), kgo.DefaultProduceTopic("hw"), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i := range 3 {
			data, err := os.ReadFile(filepath.Join(c.Node(i).Dir(), "replication-offset-checkpoint"))
			if err != nil {
				return err
			}
			if !strings.Contains(string(data), "\nhw 0 10\n") {
				return fmt.Errorf("node %d checkpoint:\n%s", i+1, data)
			}
		}
		return nil
	})
	leader := nodes[0].MetadataImage().Partition("hw", 0).Leader
	restarted := 0
	if leader == 1 {
		restarted = 1
	}
	c.Node(restarted).Restart()
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		hw, ok := broker.OpenedHighWatermark(c.Node(restarted).Broker(), "hw", 0)
		if !ok {
			return fmt.Errorf("node %d has not reopened hw-0", restarted+1)
		}
		if hw != 10 {
			t.Fatalf("node %d reopened hw-0 at high watermark %d, want the checkpointed 10", restarted+1, hw)
		}
		return nil
	})
}

// TestKRaftRetentionAndCompactionRunOnEveryReplica: the log manager's loops include image partitions
// on leaders and followers alike: retention.bytes moves every replica's log start offset past the
// deleted segments, and a compacted topic's replicas shrink once the cleaner ran.
func TestKRaftRetentionAndCompactionRunOnEveryReplica(t *testing.T) {
	c := testbroker.StartCluster(t, 3, testbroker.Set("log.retention.check.interval.ms", "50"),
		testbroker.Set("log.cleaner.backoff.ms", "50"))
	c.WaitUnfenced(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := c.Brokers()
	createWithConfigs(ctx, t, nodes[0], "retained", 1, 3, map[string]*string{
		"segment.bytes": kadm.StringPtr("1024"), "retention.bytes": kadm.StringPtr("2048")})
	createWithConfigs(ctx, t, nodes[0], "compacted", 1, 3, map[string]*string{
		"segment.bytes": kadm.StringPtr("1024"), "cleanup.policy": kadm.StringPtr("compact"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01")})
	cl := newClient(t, nodes[0].Addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 60 {
		recs := []*kgo.Record{
			{Topic: "retained", Value: randomBytes(200)},
			{Topic: "compacted", Key: []byte("k"), Value: randomBytes(200)},
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		for i, b := range nodes {
			snap, ok := broker.HostedReplica(b, "retained", 0)
			if !ok || snap.LogStartOffset == 0 {
				return fmt.Errorf("node %d: retained-0 log start offset %d (hosted %v)", i+1, snap.LogStartOffset, ok)
			}
			size, ok := broker.ReplicaLogSize(b, "compacted", 0)
			if !ok || size > 4*1024 {
				return fmt.Errorf("node %d: compacted-0 holds %d bytes (hosted %v), 60 records of one key", i+1, size, ok)
			}
		}
		return nil
	})
}
