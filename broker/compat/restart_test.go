package compat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// restartGroupCoordinator restarts the broker that holds group's state, the way an operator
// restarts a broker under a running application: on a single node the broker itself; on a cluster
// the node coordinating group (the leader of the group's __consumer_offsets partition), found with
// FindCoordinator as a client finds it. On the cluster the coordination moves to another node while
// it is down, which must serve the group's committed offsets from its replica of the offsets
// partition. It returns once every node is back, unfenced and in sync, so the next check (and the
// next test sharing the cluster) sees the whole cluster.
func (tg *target) restartGroupCoordinator(t *testing.T, group string) {
	t.Helper()
	if !tg.clustered() {
		tg.single.Restart()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	coords := adminClient(t, tg.addr).FindGroupCoordinators(ctx, group)
	if err := coords.Error(); err != nil {
		t.Fatalf("FindCoordinator %s: %v", group, err)
	}
	id := coords[group].NodeID
	if id < 1 || int(id) > tg.cluster.Len() {
		t.Fatalf("FindCoordinator %s: node %d is not one of the cluster's nodes 1..%d", group, id, tg.cluster.Len())
	}
	t.Logf("restarting node %d, the coordinator of group %s", id, group)
	tg.cluster.Node(int(id) - 1).RestartIn(t)
	tg.waitInSync(t)
}

// waitInSync waits until every node is unfenced and every node's Metadata shows every partition
// (internal ones included) with a leader and its full replica set in sync.
func (tg *target) waitInSync(t *testing.T) {
	t.Helper()
	clients := tg.nodeClients(t)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		for i, b := range tg.cluster.Brokers() {
			st, ok := b.LifecycleState()
			if !ok || st.BrokerEpoch < 0 || st.Fenced {
				return fmt.Errorf("node %d: lifecycle %+v", i+1, st)
			}
		}
		for i, cl := range clients {
			md, err := nodeMetadata(cl, kmsg.NewPtrMetadataRequest())
			if err != nil {
				return fmt.Errorf("node %d: Metadata: %w", i+1, err)
			}
			if len(md.Brokers) != tg.brokers {
				return fmt.Errorf("node %d: Metadata lists %d brokers, want %d", i+1, len(md.Brokers), tg.brokers)
			}
			for _, mt := range md.Topics {
				for _, p := range mt.Partitions {
					if p.Leader < 0 || len(p.ISR) != len(p.Replicas) {
						return fmt.Errorf("node %d: %s-%d: leader %d, replicas %v, ISR %v", i+1, deref(mt.Topic), p.Partition, p.Leader, p.Replicas, p.ISR)
					}
				}
			}
		}
		return nil
	})
}

// deref is *s, or "" for nil (a topic name a response may leave null).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
