package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestReplicaFetchersUseFetchSessionsAndCatchUpAfterALeaderChange: on three nodes, followers
// replicate six 3-replica partitions through KIP-227 sessions (the leaders cache replica sessions
// and leave idle partitions out of their answers); when a leader node stops, the followers of its
// partitions open sessions with the new leaders and every surviving replica ends with the same log.
func TestReplicaFetchersUseFetchSessionsAndCatchUpAfterALeaderChange(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "replica.fetch.wait.max.ms=200")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, parts = "sessioned", 6
	createThroughController(ctx, t, nodes[0], topic, parts, 3)
	hosted := func(alive []*broker.Broker) error {
		for p := range int32(parts) {
			for i, b := range alive {
				if _, ok := broker.HostedReplica(b, topic, p); !ok {
					return fmt.Errorf("node %d does not host %s-%d yet", i+1, topic, p)
				}
			}
		}
		return nil
	}
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return hosted(nodes) })
	// caughtUp checks that every replica of every partition on alive has the log end offset want
	// in total, and that one node holds it as leader.
	caughtUp := func(alive []*broker.Broker, want int64) error {
		for i, b := range alive {
			var total int64
			for p := range int32(parts) {
				snap, ok := broker.HostedReplica(b, topic, p)
				if !ok {
					return fmt.Errorf("node %v does not host %s-%d", i, topic, p)
				}
				if snap.HighWatermark != snap.LogEndOffset {
					return fmt.Errorf("node %v %s-%d: high watermark %d, log end %d", i, topic, p, snap.HighWatermark, snap.LogEndOffset)
				}
				total += snap.LogEndOffset
			}
			if total != want {
				return fmt.Errorf("node %v holds %d records, want %d", i, total, want)
			}
		}
		return nil
	}
	produce := func(bootstrap *broker.Broker, n int) {
		t.Helper()
		cl := newClient(t, bootstrap.Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		defer cl.Close()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(nodes[0], 120)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return caughtUp(nodes, 120) })
	// Idle followers keep polling: their sessions' answers leave the partitions out.
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			st := broker.FetchSessionStats(b)
			if st.Replicas != 2 || st.Omitted == 0 {
				return fmt.Errorf("node %d: session cache %+v, want the two other nodes' replica sessions, with partitions omitted", i+1, st)
			}
		}
		return nil
	})
	leader := int32(-1)
	if p := nodes[0].MetadataImage().Partition(topic, 0); p != nil {
		leader = p.Leader
	}
	if leader < 1 {
		t.Fatalf("no leader for %s-0", topic)
	}
	before := make([]int64, len(nodes))
	for i, b := range nodes {
		before[i] = broker.FetchSessionStats(b).Omitted
	}
	if err := nodes[leader-1].Close(); err != nil {
		t.Fatal(err)
	}
	var alive []*broker.Broker
	var aliveIdx []int
	for i, b := range nodes {
		if int32(i+1) != leader {
			alive, aliveIdx = append(alive, b), append(aliveIdx, i)
		}
	}
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for p := range int32(parts) {
			img := alive[0].MetadataImage().Partition(topic, p)
			if img == nil || img.Leader == leader || img.Leader < 0 {
				return fmt.Errorf("%s-%d: %+v, want a leader other than %d", topic, p, img, leader)
			}
		}
		return nil
	})
	produce(alive[0], 60)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return caughtUp(alive, 180) })
	// The new leaders answer their followers through sessions too.
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for j, b := range alive {
			st := broker.FetchSessionStats(b)
			if st.Replicas < 1 || st.Omitted <= before[aliveIdx[j]] {
				return fmt.Errorf("node %d: session cache %+v (omitted %d before the change)", aliveIdx[j]+1, st, before[aliveIdx[j]])
			}
		}
		return nil
	})
}
