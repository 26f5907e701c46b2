//go:build unix

package compat_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testcluster"
)

// BenchmarkOffsetCommitOnThreeNodes is broker's BenchmarkOffsetCommit on three KRaft nodes
// (subprocesses): one OffsetCommit of 6 partitions per round trip, sent to the group's
// coordinator, answered once the records are in every in-sync replica of the group's
// __consumer_offsets partition (RF 3, acks=all).
func BenchmarkOffsetCommitOnThreeNodes(b *testing.B) {
	c := testcluster.StartFailover(b)
	c.MustCreateTopic(b, "bench", 6, 3, nil)
	const groupID = "bench-group"
	coordinator := c.GroupCoordinator(b, groupID)
	c.WaitReplicated(b, "__consumer_offsets", 4, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(coordinator.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	broker := cl.SeedBrokers()[0]
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, groupID, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "bench"
	for p := int32(0); p < 6; p++ {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := range req.Topics[0].Partitions {
			req.Topics[0].Partitions[p].Offset = int64(i)
		}
		resp, err := broker.Request(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if code := resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
			b.Fatalf("commit %d: error %d", i, code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(b.N*6)/b.Elapsed().Seconds(), "partition-offsets/s")
}
