package lifecycle_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// fenceWatch records every image, on any node, that shows a broker fenced that the test expects
// to stay unfenced.
type fenceWatch struct {
	mu     sync.Mutex
	fenced []string
}

// watch subscribes to nd's images: a fenced broker among live is recorded.
func (w *fenceWatch) watch(t *testing.T, nd *node, live []int32) {
	_, cancel := nd.pub.Subscribe("fence-watch", func(u metadata.Update) {
		for _, id := range live {
			if b := u.Image.Broker(id); b != nil && b.Fenced {
				w.mu.Lock()
				w.fenced = append(w.fenced, fmt.Sprintf("broker %d fenced in node %d's image at offset %d", id, nd.id, u.Image.Offset()))
				w.mu.Unlock()
			}
		}
	})
	t.Cleanup(cancel)
}

func (w *fenceWatch) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.fenced...)
}

// TestKillingTheActiveControllerFencesNoLiveBroker: the node that is the active controller is
// killed; the new active controller gives every broker a fresh session and the surviving brokers
// find it and heartbeat to it well within broker.session.timeout.ms, so it fences the dead broker
// only: no live broker is fenced, not even for a moment. Timing as Kafka's ratio with the
// lifecycle's default retry backoff (heartbeats every 200 ms, a 2 s session, as the failover
// clusters run): brokers that backed off for seconds while the quorum elected a new leader were
// all fenced at once (the failover bug of TestKillingTheLeaderAndTheActiveControllerTogether).
// Two rounds, so that the kill lands at different points of the brokers' heartbeat cycles.
func TestKillingTheActiveControllerFencesNoLiveBroker(t *testing.T) {
	const session = 2 * time.Second
	c := startCluster(t, 3, withSession(session), withManager(func(cfg *lifecycle.Config) {
		cfg.HeartbeatInterval = 200 * time.Millisecond
		cfg.RetryBackoff, cfg.MaxRetryBackoff = lifecycle.DefaultRetryBackoff, lifecycle.DefaultMaxRetryBackoff
	}))
	c.waitUnfenced()
	for round := range 2 {
		old := c.active()
		var live []int32
		var w fenceWatch
		for _, nd := range c.live() {
			if nd.id != old.id {
				live = append(live, nd.id)
			}
		}
		for _, nd := range c.live() {
			if nd.id != old.id {
				w.watch(t, nd, live)
			}
		}
		c.kill(old.id)
		killed := time.Now()
		nw := c.active()
		activated := time.Now()
		// The dead broker is fenced once its session (fresh at activation) expires: the new
		// controller's session checks run.
		testutil.CheckFor(t, waitLong, poll, func() error {
			for _, nd := range c.live() {
				if b := nd.pub.Current().Broker(old.id); b == nil || !b.Fenced {
					return fmt.Errorf("round %d: killed broker %d not fenced yet in node %d's image", round, old.id, nd.id)
				}
			}
			return nil
		})
		// ...and for as long again, the live brokers stay unfenced.
		testutil.CheckFor(t, waitLong, poll, func() error {
			if f := w.seen(); len(f) > 0 {
				t.Fatalf("round %d: a live broker was fenced after the active controller %d was killed: %v", round, old.id, f)
			}
			if time.Since(activated) < 2*session {
				return fmt.Errorf("round %d: watching for fences", round)
			}
			return nil
		})
		for _, nd := range c.live() {
			if st := nd.mgr.State(); st.Fenced || st.Controller != nw.id {
				t.Errorf("round %d: broker %d: %+v, want unfenced with controller %d", round, nd.id, st, nw.id)
			}
		}
		t.Logf("round %d: node %d killed, node %d active %v later; no live broker fenced", round, old.id, nw.id, activated.Sub(killed).Round(time.Millisecond))
		c.restart(old.id)
		c.waitUnfenced()
	}
}
