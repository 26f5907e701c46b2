package lifecycle_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// TestAStartingFollowerPublishesOnlyTheImageItCaughtUpTo: a broker that starts (or restarts) with
// a metadata log behind it publishes nothing until it has applied the log up to what the quorum
// had committed when it started, then that image whole: never the states on the way (a replayed
// leadership long since moved would make it act as a leader for a moment). Both followers: a
// combined node's (reading its own voter) and a broker-only node's (reading over the network, in
// small answers).
func TestAStartingFollowerPublishesOnlyTheImageItCaughtUpTo(t *testing.T) {
	c := startCluster(t, 1)
	c.waitUnfenced()
	const topics = 8
	for i := range topics {
		c.createTopic(fmt.Sprintf("t%d", i), 1, 1)
	}
	q := c.nodes[1].ctl.Quorum()
	committed := q.CommitIndex()
	check := func(name string, start func(pub *metadata.Publisher) *lifecycle.Follower) {
		t.Helper()
		pub := metadata.NewPublisher(metadata.Empty())
		var mu sync.Mutex
		var seen []int // topics in each published image
		pub.Subscribe("test", func(u metadata.Update) {
			mu.Lock()
			seen = append(seen, u.Image.NumTopics())
			mu.Unlock()
		})
		f := start(pub)
		defer f.Close()
		testutil.CheckFor(t, waitLong, poll, func() error {
			if n := pub.Current().NumTopics(); n != topics {
				return fmt.Errorf("%s: image has %d topics", name, n)
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		if seen[0] != topics {
			t.Errorf("%s: images published while catching up to commit index %d: topics per image %v", name, committed, seen)
		}
	}
	check("local", func(pub *metadata.Publisher) *lifecycle.Follower {
		return lifecycle.FollowLocal(q, pub, quietLogger())
	})
	check("remote", func(pub *metadata.Publisher) *lifecycle.Follower {
		f, err := lifecycle.FollowRemote(lifecycle.RemoteConfig{
			NodeID: 9, ClusterID: "test-cluster", Voters: c.voters, MaxWait: 200 * time.Millisecond,
			MaxBytes: 64, RetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond, Logger: quietLogger(),
		}, pub)
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}
