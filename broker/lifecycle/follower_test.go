package lifecycle_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestALocalFollowerStartsFromTheSnapshotWhenTheLogIsCompacted: a combined node's follower started
// after the voter compacted its log loads the snapshot first (its first image already holds several
// topics), then follows the batches after it.
func TestALocalFollowerStartsFromTheSnapshotWhenTheLogIsCompacted(t *testing.T) {
	c := startCluster(t, 1, withQuorum(func(cfg *quorum.Config) {
		cfg.SnapshotAfterBatches = 3
		cfg.SnapshotCatchUpEntries = 1
	}))
	c.waitUnfenced()
	for i := range 6 {
		c.createTopic(fmt.Sprintf("t%d", i), 1, 1)
	}
	q := c.nodes[1].ctl.Quorum()
	testutil.CheckFor(t, waitLong, poll, func() error {
		if _, err := q.ReadCommitted(1, 1<<20); err == nil {
			return fmt.Errorf("the log is not compacted yet")
		}
		return nil
	})
	pub := metadata.NewPublisher(metadata.Empty())
	var first atomic.Pointer[metadata.Image]
	pub.Subscribe("test", func(u metadata.Update) { first.CompareAndSwap(nil, u.Image) })
	f := lifecycle.FollowLocal(q, pub, quietLogger())
	defer f.Close()
	c.createTopic("after", 1, 1)
	testutil.CheckFor(t, waitLong, poll, func() error {
		if pub.Current().Topic("after") == nil || pub.Current().NumTopics() != 7 {
			return fmt.Errorf("follower image has %d topics", pub.Current().NumTopics())
		}
		return nil
	})
	if img := first.Load(); img == nil || img.NumTopics() < 2 {
		t.Fatalf("the first image did not come from a snapshot: %v", img)
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
}
