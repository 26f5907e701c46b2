package broker_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestFollowersApplyACommittedISRChange: when the leader shrinks the ISR through the controller
// (a follower stopped fetching), every replica — the followers too, not only the leader — applies
// the committed ISR and partition epoch from the image, as Kafka's makeFollower does.
func TestFollowersApplyACommittedISRChange(t *testing.T) {
	const topic = "followerisr"
	nodes, _, stalled := stallOneFollower(t, topic)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := nodes[0].MetadataImage().Partition(topic, 0)
		if slices.Contains(p.Isr, stalled) {
			return fmt.Errorf("image ISR %v still holds %d", p.Isr, stalled)
		}
		for _, r := range p.Replicas {
			snap, ok := broker.HostedReplica(nodes[r-1], topic, 0)
			if !ok || !slices.Equal(snap.ISR, p.Isr) || snap.PartitionEpoch != p.PartitionEpoch {
				return fmt.Errorf("node %d (%v): ISR %v at partition epoch %d; image ISR %v at %d",
					r, snap.Role, snap.ISR, snap.PartitionEpoch, p.Isr, p.PartitionEpoch)
			}
		}
		return nil
	})
}
