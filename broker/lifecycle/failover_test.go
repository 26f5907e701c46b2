package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestLeadershipTransferMovesTheActiveController: moving quorum leadership away (as a controller's
// controlled shutdown does) resigns the active controller and activates the new leader, which serves.
func TestLeadershipTransferMovesTheActiveController(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	old := c.active()
	c.transferLeadership(old)
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

// creators create topics continuously through whichever controller is active, recording which
// CreateTopics were acknowledged: the history a lost-write check runs on.
type creators struct {
	c    *cluster
	stop chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	acked []string
	tried int
	// unexpected counts replies other than success, NOT_CONTROLLER and REQUEST_TIMED_OUT.
	unexpected []string
}

func startCreators(c *cluster, workers int) *creators {
	cr := &creators{c: c, stop: make(chan struct{})}
	for w := range workers {
		cr.wg.Go(func() { cr.run(w) })
	}
	return cr
}

func (cr *creators) run(w int) {
	for i := 0; ; i++ {
		select {
		case <-cr.stop:
			return
		default:
		}
		var target *node
		for _, nd := range cr.c.live() {
			if nd.ctl.Node().Active() {
				target = nd
			}
		}
		if target == nil {
			time.Sleep(5 * time.Millisecond) // no active controller right now: an election is under way
			continue
		}
		name := fmt.Sprintf("w%d-%d", w, i)
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, 1, 2
		req.Topics = append(req.Topics, tp)
		resp, err := request(cr.c.t, target, req)
		cr.mu.Lock()
		cr.tried++
		switch {
		case err != nil:
		case resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode == 0:
			cr.acked = append(cr.acked, name)
		default:
			if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != kerr.NotController.Code && code != kerr.RequestTimedOut.Code {
				cr.unexpected = append(cr.unexpected, fmt.Sprintf("%s: %v", name, kerr.ErrorForCode(code)))
			}
		}
		cr.mu.Unlock()
	}
}

func (cr *creators) ackedCount() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return len(cr.acked)
}

// waitAcked waits until n more creations were acknowledged.
func (cr *creators) waitAcked(n int) {
	cr.c.t.Helper()
	before := cr.ackedCount()
	testutil.CheckFor(cr.c.t, waitLong, poll, func() error {
		if got := cr.ackedCount() - before; got < n {
			return fmt.Errorf("%d of %d topic creations acknowledged", got, n)
		}
		return nil
	})
}

// finish stops the creators and checks every acknowledged topic is in every live node's image
// (lost-write: 0), logging the counts.
func (cr *creators) finish() {
	t := cr.c.t
	t.Helper()
	close(cr.stop)
	cr.wg.Wait()
	for _, u := range cr.unexpected {
		t.Errorf("unexpected reply: %s", u)
	}
	var lost []string
	testutil.CheckFor(t, waitLong, 50*time.Millisecond, func() error {
		lost = lost[:0]
		for _, nd := range cr.c.live() {
			img := nd.pub.Current()
			for _, name := range cr.acked {
				if img.Topic(name) == nil {
					lost = append(lost, fmt.Sprintf("%s on node %d", name, nd.id))
				}
			}
		}
		if len(lost) > 0 {
			return fmt.Errorf("lost-write %d: %v", len(lost), lost[:min(5, len(lost))])
		}
		return nil
	})
	present := cr.c.live()[0].pub.Current().NumTopics()
	t.Logf("tried %d, acknowledged %d, present %d (indeterminate %d), unexpected %d, lost-write 0",
		cr.tried, len(cr.acked), present, present-len(cr.acked), len(cr.unexpected))
}

// TestAcknowledgedTopicsSurviveControllerFailover counts lost writes the Jepsen way: clients create
// topics continuously through whichever controller is active while the active controller's node is
// killed; every CreateTopics that was acknowledged must be in every surviving node's image (lost
// writes: 0). Unacknowledged ones may or may not be there (indeterminate).
func TestAcknowledgedTopicsSurviveControllerFailover(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	cr := startCreators(c, 4)
	cr.waitAcked(20)
	c.kill(c.active().id)
	cr.waitAcked(20)
	cr.finish()
}

// TestRepeatedLeaderBouncesLoseNoAcknowledgedWrites moves quorum leadership five times (a
// controller's controlled shutdown, as Kafka's system tests bounce the controller) under a steady
// stream of CreateTopics: the old active controller resigns with requests in flight, the new one
// activates after its NoOp, and no acknowledged creation is lost.
func TestRepeatedLeaderBouncesLoseNoAcknowledgedWrites(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	cr := startCreators(c, 4)
	for range 5 {
		cr.waitAcked(10)
		c.transferLeadership(c.active())
	}
	cr.waitAcked(10)
	cr.finish()
}

// TestARestartedNodeRebuildsItsImageAndRegistersAgain: a killed node restarts from its snapshot and
// log, its broker registers as a new incarnation (with a new broker epoch), is unfenced once caught
// up, and its image holds the topics created while it was down.
func TestARestartedNodeRebuildsItsImageAndRegistersAgain(t *testing.T) {
	c := startCluster(t, 3, withQuorum(func(cfg *quorum.Config) { cfg.SnapshotAfterBatches = 5 }))
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

// TestAForwardedRequestFindsTheNewActiveController: a broker's ControllerClient (Kafka's forwarding
// of admin requests) reaches the active controller, and after that controller's node is killed, the
// next request finds the new one by itself.
func TestAForwardedRequestFindsTheNewActiveController(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	cl, err := lifecycle.NewControllerClient(c.voters, "forwarding-test")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	create := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, 2, 2
		req.Topics = append(req.Topics, tp)
		resp, err := cl.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
			t.Fatalf("create %s: %v", name, kerr.ErrorForCode(code))
		}
	}
	create("first")
	active := c.active().id
	if cl.Active() != active {
		t.Errorf("client believes %d active, the cluster says %d", cl.Active(), active)
	}
	c.kill(active)
	start := time.Now()
	create("second")
	t.Logf("forwarded CreateTopics answered %v after the active controller was killed", time.Since(start))
	c.waitTopic("second", 2)
	if cl.Active() == active {
		t.Errorf("client still believes the killed node %d active", active)
	}
}

// TestACleanRestartNamingItsPreviousEpochRegistersAtOnce (KIP-966): a broker restarting with the
// epoch it had is accepted as a new incarnation at once; without it the controller would refuse
// (DUPLICATE_BROKER_REGISTRATION) until the old incarnation's session expired — 30 s here, longer
// than the test waits.
func TestACleanRestartNamingItsPreviousEpochRegistersAtOnce(t *testing.T) {
	c := startCluster(t, 1, withSession(30*time.Second))
	c.waitUnfenced()
	nd := c.nodes[1]
	previous := nd.mgr.State().BrokerEpoch
	nd.mgr.Close()
	nd.mgr = c.startManager(1, nd.pub, previous)
	c.waitUnfenced()
	if epoch := nd.mgr.State().BrokerEpoch; epoch <= previous {
		t.Fatalf("re-registered with epoch %d, not newer than %d", epoch, previous)
	}
}
