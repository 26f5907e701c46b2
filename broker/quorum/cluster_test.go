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

func TestThreeVotersElectALeaderAndApplyProposalsInOrderExactlyOnce(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	leader := c.waitLeader()

	// Concurrent proposers on the leader: each Propose returns the batch's offset once committed.
	const proposers, perProposer = 4, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	offsets := map[uint64]string{}
	for p := range proposers {
		wg.Go(func() {
			for i := range perProposer {
				rec := fmt.Sprintf("p%d-%d", p, i)
				off, err := c.nodes[leader].node.Propose(context.Background(), [][]byte{[]byte(rec), []byte(rec + "-b")})
				if err != nil {
					t.Errorf("propose %s: %v", rec, err)
					return
				}
				mu.Lock()
				if prev, dup := offsets[off]; dup {
					t.Errorf("offset %d returned for %s and %s", off, prev, rec)
				}
				offsets[off] = rec
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	// Propose returns once the batch is handed to the applier; the applier takes it just after.
	var want []string
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if want = c.nodes[leader].applier.State(); len(want) != 2*proposers*perProposer {
			return fmt.Errorf("leader applied %d records, want %d", len(want), 2*proposers*perProposer)
		}
		return nil
	})
	if d := countDuplicates(want); d != 0 {
		t.Fatalf("%d duplicates on the leader", d)
	}
	// A batch is applied whole: each record is followed by its "-b" sibling.
	for i := 0; i < len(want); i += 2 {
		if want[i+1] != want[i]+"-b" {
			t.Fatalf("batch split at %d: %q then %q", i, want[i], want[i+1])
		}
	}
	c.waitConverged(want)

	st := c.nodes[leader].node.Status()
	if st.LeaderID != leader || st.LeaderEpoch == 0 || st.HighWatermark < int64(len(offsets))+1 {
		t.Fatalf("leader status %+v", st)
	}
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		st := c.nodes[leader].node.Status()
		for _, v := range st.Voters {
			if v.LogEndOffset != st.HighWatermark || v.LastFetchTimestamp.IsZero() || v.LastCaughtUpTimestamp.IsZero() {
				return fmt.Errorf("voter %+v not caught up to high watermark %d", v, st.HighWatermark)
			}
		}
		return nil
	})
	follower := c.nodes[leader%3+1].node
	if _, err := follower.Propose(context.Background(), [][]byte{[]byte("x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on a follower: %v, want ErrNotLeader", err)
	} else if nl := (*NotLeaderError)(nil); !errors.As(err, &nl) || nl.LeaderID != leader {
		t.Fatalf("propose on a follower: %v, want the leader %d as a hint", err, leader)
	}
}

func TestLeaderKilledNewLeaderIsElectedAndProposalsContinue(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	var want []string
	for i := range 10 {
		r := fmt.Sprintf("before-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	old := c.waitLeader()
	killed := time.Now()
	c.stopNode(old)
	newLeader := c.waitLeader()
	took := time.Since(killed)
	if newLeader == old {
		t.Fatalf("killed leader %d still leads", old)
	}
	t.Logf("leader %d killed; node %d leads after %v (election timeout %v)", old, newLeader, took, 20*testTick)
	for i := range 10 {
		r := fmt.Sprintf("after-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	c.waitConverged(want)

	// The killed node comes back on its directory, replays its log and catches up.
	c.startNode(old, nil)
	c.waitConverged(want)
	c.propose("rejoined")
	c.waitConverged(append(want, "rejoined"))
}

func TestRestartedNodeReplaysSnapshotAndLogAndCatchesUp(t *testing.T) {
	c := startCluster(t, 3, true, func(cfg *Config) {
		cfg.SnapshotAfterBatches = 10
		cfg.SegmentBytes = 512
		cfg.SnapshotCatchUpEntries = 5
	})
	var want []string
	for i := range 35 {
		r := fmt.Sprintf("r-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	c.waitConverged(want)
	leader := c.waitLeader()
	follower := leader%3 + 1
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s := c.nodes[follower].node.Status().SnapshotIndex; s < 30 {
			return fmt.Errorf("follower snapshot at %d", s)
		}
		return nil
	})
	c.stopNode(follower)
	segs, cps := countFiles(t, c.nodes[follower].dir)
	if cps != 1 {
		t.Fatalf("%d checkpoint files after snapshots, want 1 (older ones deleted)", cps)
	}
	for i := range 20 {
		r := fmt.Sprintf("while-down-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	c.startNode(follower, nil)
	c.waitConverged(want)
	a := c.nodes[follower].applier
	a.mu.Lock()
	restored := a.restored
	a.mu.Unlock()
	// One snapshot from its own checkpoint at start, one from the leader, which compacted the
	// entries the node missed while down.
	if restored < 2 {
		t.Fatalf("restarted node restored %d snapshots, want its own and the leader's", restored)
	}
	t.Logf("follower had %d segments and %d checkpoint on disk; restored %d snapshot(s)", segs, cps, restored)
	if segs > 10 {
		t.Fatalf("%d segments left: the log is not truncated after snapshots", segs)
	}
}

func TestCutOffLeaderCannotCommitAndRejoinsWithoutDivergence(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	var want []string
	for i := range 5 {
		r := fmt.Sprintf("a-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	old := c.waitLeader()
	c.nodes[old].sw.Cut()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := c.nodes[old].node.Propose(ctx, [][]byte{[]byte("cut-off")})
	cancel()
	if err == nil {
		t.Fatalf("a leader cut off from the quorum committed a proposal")
	}
	t.Logf("cut-off leader's proposal: %v", err)

	newLeader := c.waitLeader(c.othersThan(old)...)
	for i := range 5 {
		r := fmt.Sprintf("b-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.nodes[newLeader].node.Propose(ctx, [][]byte{[]byte(r)}); err != nil {
			t.Fatalf("majority side: %v", err)
		}
		cancel()
		want = append(want, r)
	}
	c.nodes[old].sw.Heal()
	c.waitLeader()
	c.propose("healed")
	want = append(want, "healed")
	c.waitConverged(want)
}

func TestSingleVoterQuorumCommitsAndReplaysAfterRestart(t *testing.T) {
	c := startCluster(t, 1, false, nil)
	var want []string
	for i := range 5 {
		r := fmt.Sprintf("s-%d", i)
		if off := c.propose(r); off == 0 {
			t.Fatalf("offset 0")
		}
		want = append(want, r)
	}
	c.waitConverged(want)
	c.stopNode(1)
	c.startNode(1, nil)
	c.waitConverged(want)
	c.propose("after-restart")
	c.waitConverged(append(want, "after-restart"))

	n := c.nodes[1].node
	if _, err := n.Propose(context.Background(), [][]byte{make([]byte, DefaultMaxBatchBytes)}); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("propose over the batch limit: %v, want ErrBatchTooLarge", err)
	}
	first, second := n.Close(), n.Close()
	if first != nil || second != nil {
		t.Fatalf("Close twice = %v, %v", first, second)
	}
	if _, err := n.Propose(context.Background(), [][]byte{[]byte("closed")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose after Close: %v, want ErrClosed", err)
	}
}

func TestLeadershipTransferMovesTheLeaderAndRedirectsProposals(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	c.propose("x")
	old := c.waitLeader()
	target := old%3 + 1
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.nodes[old].node.TransferLeadership(ctx, target); err != nil {
		t.Fatal(err)
	}
	if l := c.waitLeader(); l != target {
		t.Fatalf("leader %d after transfer to %d", l, target)
	}
	// Every applier hears of the change on Committed, in order with the batches.
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		for _, tn := range c.running() {
			tn.applier.mu.Lock()
			leaders := append([]int32(nil), tn.applier.leaders...)
			tn.applier.mu.Unlock()
			if len(leaders) == 0 || leaders[len(leaders)-1] != target {
				return fmt.Errorf("node %d saw leader changes %v, want the last to be %d", tn.id, leaders, target)
			}
		}
		return nil
	})
	_, err := c.nodes[old].node.Propose(ctx, [][]byte{[]byte("on-old")})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != target {
		t.Fatalf("propose on the old leader: %v, want NotLeaderError naming %d", err, target)
	}
	if _, err := c.nodes[target].node.Propose(ctx, [][]byte{[]byte("on-new")}); err != nil {
		t.Fatal(err)
	}
	// Transfer to "any": controlled shutdown of the new leader.
	if err := c.nodes[target].node.TransferLeadership(ctx, NoLeader); err != nil {
		t.Fatal(err)
	}
	if l := c.waitLeader(); l == target {
		t.Fatalf("node %d still leads after transferring to any voter", l)
	}
	c.waitConverged([]string{"x", "on-new"})
}

func TestAReaderRebuildsTheStateFromTheSnapshotAndTheCommittedLog(t *testing.T) {
	c := startCluster(t, 3, true, func(cfg *Config) {
		cfg.SnapshotAfterBatches = 10
		cfg.SnapshotCatchUpEntries = 3
	})
	var want []string
	for i := range 4 {
		r := fmt.Sprintf("early-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	leader := c.nodes[c.waitLeader()].node
	got, err := leader.ReadCommitted(0, 1<<20)
	if err != nil || len(got) != 4 || string(got[3].Records[0]) != "early-3" {
		t.Fatalf("ReadCommitted before any snapshot = %d batches, %v", len(got), err)
	}
	for i := range 30 {
		r := fmt.Sprintf("late-%d", i)
		c.propose(r)
		want = append(want, r)
	}
	c.waitConverged(want)
	leaderID := c.waitLeader()
	leader = c.nodes[leaderID].node
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, err := leader.ReadCommitted(1, 1<<20); !errors.Is(err, ErrOffsetCompacted) {
			return fmt.Errorf("ReadCommitted from 1 after compaction: %v, want ErrOffsetCompacted", err)
		}
		return nil
	})

	// A long-polling reader wakes up when the next batch commits, and times out when none does.
	hw := uint64(leader.Status().HighWatermark)
	if ci := leader.CommitIndex(); ci+1 != hw {
		t.Fatalf("CommitIndex = %d with the high watermark at %d", ci, hw)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := leader.WaitCommitted(short, hw); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommitted past the high watermark with nothing proposed: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- leader.WaitCommitted(context.Background(), hw) }()
	c.propose("last")
	want = append(want, "last")
	if err := <-waited; err != nil {
		t.Fatal(err)
	}

	// A reader that is not a voter: snapshot, then the log after it, in small reads.
	snap, ok := leader.LatestSnapshot()
	if !ok {
		t.Fatal("no snapshot")
	}
	state := decodeImage(snap.Image)
	next := snap.Index + 1
	for range 100 {
		batches, err := leader.ReadCommitted(next, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			for _, r := range b.Records {
				state = append(state, string(r))
			}
			next = b.Index + 1
		}
	}
	if !equalStrings(state, want) {
		t.Fatalf("reader rebuilt %d records, want %d (first difference at %d)", len(state), len(want), firstDiff(state, want))
	}
}

// With PreVote, a follower cut off for several election timeouts does not bump the term, so on
// rejoining it does not depose the healthy leader (KIP-996's point).
func TestACutOffFollowerRejoinsWithoutDeposingTheLeader(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	c.propose("a")
	leader := c.waitLeader()
	term := c.nodes[leader].node.Term()
	follower := leader%3 + 1
	c.nodes[follower].sw.Cut()
	// Long enough for several elections on the cut-off follower: it hears no leader.
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		if l := c.nodes[follower].node.Leader(); l != NoLeader {
			return fmt.Errorf("cut-off follower still follows %d", l)
		}
		return nil
	})
	time.Sleep(3 * 40 * testTick) // NB: let it try (and fail) to campaign for three election timeouts.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.nodes[leader].node.Propose(ctx, [][]byte{[]byte("b")}); err != nil {
		t.Fatalf("the majority side: %v", err)
	}
	c.nodes[follower].sw.Heal()
	c.waitConverged([]string{"a", "b"})
	if l := c.waitLeader(); l != leader {
		t.Fatalf("leader changed from %d to %d when the follower rejoined", leader, l)
	}
	if got := c.nodes[leader].node.Term(); got != term {
		t.Fatalf("term moved from %d to %d when the follower rejoined", term, got)
	}
}

// TestARestartedVoterLearnsTheLeadersCommitIndex: a voter that was down while the others
// committed more restarts with its own old commit index; LeaderCommit (raft's ReadIndex) tells it
// the leader's, which is what it must apply before it knows the current metadata.
func TestARestartedVoterLearnsTheLeadersCommitIndex(t *testing.T) {
	c := startCluster(t, 3, false, nil)
	leader := c.waitLeader()
	c.propose("before")
	down := c.othersThan(leader)[0]
	c.stopNode(down)
	var last uint64
	for i := range 20 {
		last = c.propose(fmt.Sprintf("while-down-%d", i))
	}
	c.startNode(down, nil)
	n := c.nodes[down].node
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got uint64
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer rcancel()
		var err error
		got, err = n.LeaderCommit(rctx)
		return err
	})
	if got < last {
		t.Fatalf("restarted voter: LeaderCommit %d, want at least %d (the last batch committed while it was down)", got, last)
	}
}
