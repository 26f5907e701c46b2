package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestKRaftHandlersServeImageTopics: a topic created through the controller (3 partitions, RF 1, so
// each node leads some and hosts none of the others) is listed by every node's Metadata with the
// image's leader, replicas, ISR and leader epoch; franz-go, seeded with one node, produces to every
// partition's leader and reads the records back; a node that hosts no replica of a partition
// answers a produce to it NOT_LEADER_OR_FOLLOWER naming the current leader and its endpoint
// (KIP-951), and no node writes gregor-topics.json.
func TestKRaftHandlersServeImageTopics(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic = "served"
	createThroughController(ctx, t, nodes[0], topic, 3, 1)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			img := b.MetadataImage()
			cl := newClient(t, b.Addr())
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			name := topic
			rt.Topic = &name
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return err
			}
			if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
				return fmt.Errorf("node %d Metadata: %+v", i+1, resp.Topics)
			}
			for _, mp := range resp.Topics[0].Partitions {
				want := img.Partition(topic, mp.Partition)
				if want == nil || mp.Leader != want.Leader || mp.LeaderEpoch != want.LeaderEpoch ||
					!slices.Equal(mp.Replicas, want.Replicas) || !slices.Equal(mp.ISR, want.Isr) {
					return fmt.Errorf("node %d partition %d: %+v, image %+v", i+1, mp.Partition, mp, want)
				}
				if _, ok := broker.HostedReplica(nodes[want.Leader-1], topic, mp.Partition); !ok {
					return fmt.Errorf("leader %d does not host %s-%d yet", want.Leader, topic, mp.Partition)
				}
			}
		}
		return nil
	})

	cl := newClient(t, nodes[1].Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 30 {
		r := &kgo.Record{Value: []byte(strconv.Itoa(i)), Partition: int32(i % 3)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
	if got := consumeAll(t, nodes[2].Addr(), topic, 30); len(got) != 30 {
		t.Fatalf("consumed %d records", len(got))
	}

	img := nodes[0].MetadataImage()
	for p := int32(0); p < 3; p++ {
		leader := img.Partition(topic, p).Leader
		other := nodes[leader%3] // a node that hosts no replica (RF 1)
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, img.Topic(topic).ID
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v"))
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, newClient(t, other.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("produce to %s-%d on a node without a replica: %v, want NOT_LEADER_OR_FOLLOWER", topic, p, kerr.ErrorForCode(sp.ErrorCode))
		}
		// KIP-951: the answer names the current leader and its endpoint.
		if sp.CurrentLeader.LeaderID != leader || sp.CurrentLeader.LeaderEpoch != img.Partition(topic, p).LeaderEpoch ||
			len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != leader ||
			fmt.Sprintf("%s:%d", resp.Brokers[0].Host, resp.Brokers[0].Port) != nodes[leader-1].Addr() {
			t.Fatalf("produce v%d to %s-%d: current leader %+v, brokers %+v; want leader %d at %s", req.Version, topic, p,
				sp.CurrentLeader, resp.Brokers, leader, nodes[leader-1].Addr())
		}
	}
	for i, b := range nodes {
		dir := filepath.Dir(broker.PartitionDir(b, topic, 0))
		if _, err := os.Stat(filepath.Join(dir, "gregor-topics.json")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("node %d: gregor-topics.json: %v", i+1, err)
		}
	}
}

// TestKRaftAcksAllReachesEveryReplica: a topic created through the controller with replication
// factor 3 on 3 combined nodes takes franz-go's acks=all (idempotent) produce; when the produce is
// acknowledged, every replica's log already holds the records (the followers fetched them from the
// leader, which advanced the high watermark on their progress), and a consumer reads them back.
func TestKRaftAcksAllReachesEveryReplica(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic = "replicated"
	createThroughController(ctx, t, nodes[0], topic, 1, 3)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			snap, ok := broker.HostedReplica(b, topic, 0)
			if !ok || len(snap.ISR) != 3 {
				return fmt.Errorf("node %d: hosted %v, %+v", i+1, ok, snap)
			}
		}
		return nil
	})
	const n = 20
	cl := newClient(t, nodes[2].Addr(), kgo.DefaultProduceTopic(topic))
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
	// NB: no polling: acks=all means every in-sync replica had the records when the ack was sent.
	for i, b := range nodes {
		snap, _ := broker.HostedReplica(b, topic, 0)
		if snap.LogEndOffset < n {
			t.Fatalf("node %d (%v) log end offset %d after %d acks=all records; ISR %v", i+1, snap.Role, snap.LogEndOffset, n, snap.ISR)
		}
	}
	got := consumeAll(t, nodes[1].Addr(), topic, n)
	for i, r := range got {
		if string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d: %q", i, r.Value)
		}
	}
}
