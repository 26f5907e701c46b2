package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestLeadershipTransferMovesTheActiveController: moving quorum leadership away (as a controller's
// controlled shutdown does) resigns the active controller and activates the new leader, which serves.
func TestLeadershipTransferMovesTheActiveController(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	old := c.active()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := old.ctl.Quorum().TransferLeadership(ctx, quorum.NoLeader); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, waitLong, poll, func() error {
		if old.ctl.Node().Active() {
			return fmt.Errorf("node %d still active after giving up quorum leadership", old.id)
		}
		if c.active().id == old.id {
			return fmt.Errorf("node %d still the active one", old.id)
		}
		return nil
	})
	c.createTopic("after-transfer", 3, 3)
	c.waitTopic("after-transfer", 3)
}

// TestAcknowledgedTopicsSurviveControllerFailover counts lost writes the Jepsen way: clients create
// topics continuously through whichever controller is active while the active controller's node is
// killed; every CreateTopics that was acknowledged must be in every surviving node's image (lost
// writes: 0). Unacknowledged ones may or may not be there (indeterminate).
func TestAcknowledgedTopicsSurviveControllerFailover(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	var (
		mu    sync.Mutex
		acked []string
		tried int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				req := kmsg.NewPtrCreateTopicsRequest()
				tp := kmsg.NewCreateTopicsRequestTopic()
				tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, 1, 2
				req.Topics = append(req.Topics, tp)
				var target *node
				for _, nd := range c.live() {
					if nd.ctl.Node().Active() {
						target = nd
					}
				}
				if target == nil {
					time.Sleep(5 * time.Millisecond) // no active controller right now: the election is under way
					continue
				}
				mu.Lock()
				tried++
				mu.Unlock()
				resp, err := request(t, target, req)
				if err != nil {
					continue
				}
				if resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode == 0 {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				} else if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != kerr.NotController.Code && code != kerr.RequestTimedOut.Code {
					t.Errorf("%s: unexpected error %v", name, kerr.ErrorForCode(code))
				}
			}
		})
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	testutil.CheckFor(t, waitLong, poll, func() error {
		if n := ackedCount(); n < 20 {
			return fmt.Errorf("%d topics acknowledged", n)
		}
		return nil
	})
	killed := c.active().id
	c.kill(killed)
	before := ackedCount()
	testutil.CheckFor(t, waitLong, poll, func() error {
		if n := ackedCount(); n < before+20 {
			return fmt.Errorf("%d topics acknowledged since controller %d was killed", n-before, killed)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	var lost []string
	testutil.CheckFor(t, waitLong, 50*time.Millisecond, func() error {
		lost = lost[:0]
		for _, nd := range c.live() {
			img := nd.pub.Current()
			for _, name := range acked {
				if img.Topic(name) == nil {
					lost = append(lost, fmt.Sprintf("%s on node %d", name, nd.id))
				}
			}
		}
		if len(lost) > 0 {
			return fmt.Errorf("%d acknowledged topics missing: %v", len(lost), lost[:min(5, len(lost))])
		}
		return nil
	})
	present := c.live()[0].pub.Current().NumTopics()
	t.Logf("tried %d, acknowledged %d, present %d (indeterminate %d), lost-write 0", tried, len(acked), present, present-len(acked))
}

// TestARestartedNodeRebuildsItsImageAndRegistersAgain: a killed node restarts from its snapshot and
// log, its broker registers as a new incarnation (with a new broker epoch), is unfenced once caught
// up, and its image holds the topics created while it was down.
func TestARestartedNodeRebuildsItsImageAndRegistersAgain(t *testing.T) {
	c := startCluster(t, 3, func(cfg *quorum.Config) { cfg.SnapshotAfterBatches = 5 })
	c.waitUnfenced()
	c.createTopic("before", 2, 3)
	c.waitTopic("before", 2)
	victim := c.live()[0].id
	oldEpoch := c.nodes[victim].mgr.State().BrokerEpoch
	c.kill(victim)
	for i := range 6 {
		c.createTopic(fmt.Sprintf("while-down-%d", i), 1, 2)
	}
	c.restart(victim)
	c.waitUnfenced()
	c.waitTopic("while-down-5", 1)
	c.waitTopic("before", 2)
	if epoch := c.nodes[victim].mgr.State().BrokerEpoch; epoch <= oldEpoch {
		t.Errorf("restarted broker %d has epoch %d, not newer than %d", victim, epoch, oldEpoch)
	}
}
