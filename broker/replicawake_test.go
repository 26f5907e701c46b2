package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// createAssigned creates topic with one partition on replicas (the first leads) through the controller
// and waits until every replica holds it with a full ISR.
func createAssigned(ctx context.Context, t *testing.T, nodes []*broker.Broker, topic string, replicas []int32) {
	t.Helper()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	ct.Configs = append(ct.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "min.insync.replicas", Value: kmsg.StringPtr("3")})
	create.Topics = append(create.Topics, ct)
	create.TimeoutMillis = 10000
	resp, err := broker.SendToController(ctx, nodes[0], create)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("CreateTopics %s: %v", topic, kerr.ErrorForCode(code))
	}
}

// TestReplicasFetchANewlyLedPartitionWithoutWaitingForTheirLongPoll: followers long-poll their
// leader (replica.fetch.wait.max.ms, 5 s here) on the partitions they already follow; a partition
// that broker then begins to lead must not wait for those polls to end before its followers fetch
// it — after a failover, acks=all on the new leader waits for exactly them.
func TestReplicasFetchANewlyLedPartitionWithoutWaitingForTheirLongPoll(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "replica.fetch.wait.max.ms=5000")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Parked replica fetches from nodes 2 and 3 to node 1.
	createAssigned(ctx, t, nodes, "steady", []int32{1, 2, 3})
	cl := newClient(t, nodes[0].Addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "steady", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		topic := fmt.Sprintf("fresh-%d", i)
		createAssigned(ctx, t, nodes, topic, []int32{1, 2, 3})
		// The first acks=all record on node 1 needs both followers' fetches of the new partition
		// (min.insync.replicas=3); the metadata of the new topic reaches the client first.
		testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			snap, ok := broker.HostedReplica(nodes[0], topic, 0)
			if !ok || len(snap.ISR) != 3 {
				return fmt.Errorf("node 1: hosted %v, %+v", ok, snap)
			}
			return nil
		})
		start := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("first")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("%s: the first acks=all record took %v; its followers waited for their 5 s long poll on another partition", topic, took)
		}
	}
}
