package quorum

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestFaultLoopLosesNoAcknowledgedProposal writes continuously while a fault loop kills and
// restarts the leader and a follower, cuts the leader off and heals it, and transfers leadership.
// Afterwards it counts Jepsen's anomalies over the acknowledged proposals: lost (acked, absent),
// duplicate, inconsistent offset (applied at another offset than Propose returned), and divergence
// between voters. Every count must be 0.
func TestFaultLoopLosesNoAcknowledgedProposal(t *testing.T) {
	c := startCluster(t, 3, true, func(cfg *Config) {
		cfg.SnapshotAfterBatches = 25
		cfg.SegmentBytes = 2048
		cfg.SnapshotCatchUpEntries = 10
	})
	c.waitLeader()

	var mu sync.Mutex
	acked := map[string]uint64{}
	attempts, failures := 0, map[string]int{}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := c.leaderNode()
			if n == nil {
				time.Sleep(testTick)
				continue
			}
			rec := fmt.Sprintf("w-%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			off, err := n.Propose(ctx, [][]byte{[]byte(rec)})
			cancel()
			mu.Lock()
			attempts++
			if err == nil {
				acked[rec] = off
			} else {
				failures[errorKind(err)]++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(testTick) // NB: back off as a client would; a closed node fails at once.
			}
		}
	}()
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	progress := func(fault string) {
		base := ackedCount()
		testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
			if got := ackedCount(); got < base+10 {
				return fmt.Errorf("after %s: %d proposals acknowledged, want %d", fault, got, base+10)
			}
			return nil
		})
	}

	faults := 0
	for round := range 2 {
		leader := c.waitLeader()
		c.stopNode(leader)
		progress("leader kill")
		c.startNode(leader, nil)
		faults++

		follower := c.waitLeader()%3 + 1
		c.stopNode(follower)
		progress("follower kill")
		c.startNode(follower, nil)
		faults++

		leader = c.waitLeader()
		c.nodes[leader].sw.Cut()
		progress("leader cut off")
		c.nodes[leader].sw.Heal()
		faults++

		leader = c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.nodes[leader].node.TransferLeadership(ctx, NoLeader); err != nil {
			t.Logf("round %d: transfer: %v", round, err)
		}
		cancel()
		progress("leadership transfer")
		faults++
	}
	close(stop)
	<-writerDone

	c.propose("final")
	// NB: Propose returns once the batch is handed to the applier, which may not have taken it yet.
	var final []string
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		final = c.nodes[c.waitLeader()].applier.State()
		if len(final) == 0 || final[len(final)-1] != "final" {
			return fmt.Errorf("leader's applier has not applied the final proposal")
		}
		return nil
	})
	c.waitConverged(final)

	lost, inconsistent := 0, 0
	for rec, off := range acked {
		// NB: a node that restarted holds records from before its snapshot without their index.
		for _, tn := range c.running() {
			tn.applier.mu.Lock()
			if at, ok := tn.applier.indexOf[rec]; ok {
				if at != off {
					inconsistent++
				}
			}
			tn.applier.mu.Unlock()
		}
		inState := false
		for _, r := range final {
			if r == rec {
				inState = true
				break
			}
		}
		if !inState {
			lost++
		}
	}
	duplicates := countDuplicates(final)
	t.Logf("faults=%d attempts=%d acked=%d failed=%v applied=%d | lost-write=%d duplicate=%d inconsistent-offset=%d",
		faults, attempts, len(acked), failures, len(final), lost, duplicates, inconsistent)
	if lost != 0 || duplicates != 0 || inconsistent != 0 {
		t.Fatalf("anomalies: lost-write=%d duplicate=%d inconsistent-offset=%d", lost, duplicates, inconsistent)
	}
}

func errorKind(err error) string {
	var nl *NotLeaderError
	switch {
	case errors.As(err, &nl) && nl.Unknown:
		return "leadership-lost"
	case errors.As(err, &nl):
		return "not-leader"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrProposalDropped):
		return "dropped-during-transfer"
	}
	return err.Error()
}
