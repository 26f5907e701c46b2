package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// errStopping ends the Ready loop on Close while it waits on the applier.
var errStopping = errors.New("quorum: stopping")

// run is the Ready loop, the one goroutine that owns the node's storage and raft's output.
func (n *Node) run() {
	defer close(n.loopDone)
	defer close(n.committed)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	if meta := n.storage.snapshotMeta; meta != nil {
		image := n.storage.snapshotData
		n.storage.snapshotData = nil
		if !n.deliver(Committed{Index: meta.GetIndex(), Term: meta.GetTerm(), IsSnapshot: true, Image: image}) {
			return
		}
	}
	n.campaignAsSoleVoter()
	for {
		select {
		case <-n.stop:
			return
		case <-ticker.C:
			n.rn.Tick()
			n.trackCaughtUp()
			n.campaignAsSoleVoter()
		case req := <-n.snapshots:
			n.handleSnapshot(req)
		case rd := <-n.rn.Ready():
			if err := n.handleReady(&rd); err != nil {
				if !errors.Is(err, errStopping) {
					n.fail(err)
				}
				return
			}
			n.campaignAsSoleVoter()
		}
	}
}

// campaignAsSoleVoter makes a node that is the only voter elect itself at once instead of after an
// election timeout (1 to 2 s by default): the single node's start time is every test's. Run by the
// Ready loop.
//
// NB: only once the conf state (applied, from the snapshot or the bootstrap entries) names this node
// alone: raft refuses to campaign with conf changes still unapplied, and a node of a larger quorum
// must never skip the election. A campaign while already leader is ignored by raft.
func (n *Node) campaignAsSoleVoter() {
	if v := n.confState.GetVoters(); len(v) != 1 || v[0] != n.id || len(n.confState.GetLearners()) > 0 {
		return
	}
	n.mu.Lock()
	leader, state := n.mu.leader, n.mu.raftState
	n.mu.Unlock()
	if leader != raft.None || state != raft.StateFollower {
		return // NB: a (pre-)candidate is waiting for its own vote: campaigning again restarts it
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := n.rn.Campaign(ctx); err != nil && !errors.Is(err, context.Canceled) {
		n.logger.Warn("sole voter could not start its election", "err", err)
	}
}

// handleReady is the etcd raft contract, in order: persist the snapshot, entries and HardState
// durably; only then send the messages; then apply committed entries; then Advance.
func (n *Node) handleReady(rd *raft.Ready) error {
	if err := n.storage.saveReady(rd); err != nil {
		return err
	}
	if err := n.storage.mirror(rd); err != nil {
		return fmt.Errorf("metadata log mirror: %w", err)
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		n.hardState = rd.HardState
		if commit := rd.HardState.GetCommit(); commit > n.commitIndex.Load() {
			n.commitIndex.Store(commit)
			n.mu.Lock()
			close(n.mu.commitAdvanced)
			n.mu.commitAdvanced = make(chan struct{})
			n.mu.Unlock()
		}
	}
	leaderChanged := n.noteState(rd)
	n.transport.send(rd.Messages)
	n.answerReads(rd.ReadStates)
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		md := rd.Snapshot.GetMetadata()
		n.confState = proto.Clone(md.GetConfState()).(*pb.ConfState)
		n.snapshotIndex.Store(md.GetIndex())
		n.appliedIndex.Store(md.GetIndex())
		n.bytesSince, n.batchesSince, n.lastSnapshot = 0, 0, time.Now()
		if !n.deliver(Committed{Index: md.GetIndex(), Term: md.GetTerm(), IsSnapshot: true, Image: rd.Snapshot.GetData()}) {
			return errStopping
		}
	}
	for _, e := range rd.CommittedEntries {
		if err := n.apply(e); err != nil {
			return err
		}
	}
	if leaderChanged {
		n.mu.Lock()
		c := Committed{LeaderChange: true, LeaderID: nodeID(n.mu.leader), Term: n.mu.term, Index: n.appliedIndex.Load()}
		n.mu.Unlock()
		if !n.deliver(c) {
			return errStopping
		}
	}
	n.rn.Advance()
	return nil
}

// noteState publishes leader and term changes and reports whether the leader changed; proposals
// in flight on a leader that lost leadership fail with NotLeaderError{Unknown: true}.
func (n *Node) noteState(rd *raft.Ready) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		n.mu.term = rd.HardState.GetTerm()
	}
	if rd.SoftState == nil {
		return false
	}
	n.mu.raftState = rd.SoftState.RaftState
	was := n.mu.leader
	lead := rd.SoftState.Lead
	if rd.SoftState.RaftState == raft.StateLeader {
		lead = n.id
	}
	n.mu.leader = lead
	if was == n.id && lead != n.id {
		n.logger.Info("quorum leadership lost", "leader", nodeID(lead), "term", n.mu.term)
		n.failPendingLocked(&NotLeaderError{LeaderID: nodeID(lead), Unknown: true})
	}
	if was != lead && lead == n.id {
		n.logger.Info("quorum leader elected: this node", "term", n.mu.term)
		clear(n.mu.lastCaughtUp)
	}
	return was != lead
}

func (n *Node) apply(e *pb.Entry) error {
	switch e.GetType() {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return fmt.Errorf("metadata log entry %d: conf change: %w", e.GetIndex(), err)
		}
		n.confState = n.rn.ApplyConfChange(&cc)
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return fmt.Errorf("metadata log entry %d: conf change: %w", e.GetIndex(), err)
		}
		n.confState = n.rn.ApplyConfChange(&cc)
	case pb.EntryNormal:
		if len(e.GetData()) == 0 {
			break // the empty entry a new leader appends
		}
		id, records, err := decodeBatch(e.GetData())
		if err != nil {
			return fmt.Errorf("metadata log entry %d: %w", e.GetIndex(), err)
		}
		n.bytesSince += int64(len(e.GetData()))
		n.batchesSince++
		due := n.bytesSince >= n.cfg.SnapshotAfterBytes ||
			n.cfg.SnapshotAfterBatches > 0 && n.batchesSince >= n.cfg.SnapshotAfterBatches ||
			time.Since(n.lastSnapshot) >= n.cfg.SnapshotInterval
		n.appliedIndex.Store(e.GetIndex())
		if !n.deliver(Committed{Index: e.GetIndex(), Term: e.GetTerm(), Records: records, SnapshotDue: due}) {
			return errStopping
		}
		if id.incarnation == n.incarnation {
			n.mu.Lock()
			if ch, ok := n.mu.pending[id.seq]; ok {
				ch <- proposalResult{index: e.GetIndex()}
				delete(n.mu.pending, id.seq)
			}
			n.mu.Unlock()
		}
	}
	n.appliedIndex.Store(e.GetIndex())
	return nil
}

// deliver hands c to the applier, serving snapshot requests while it waits (the applier may be
// taking one). It returns false if the node is stopping.
func (n *Node) deliver(c Committed) bool {
	for {
		select {
		case n.committed <- c:
			return true
		case req := <-n.snapshots:
			n.handleSnapshot(req)
		case <-n.stop:
			return false
		}
	}
}

func (n *Node) handleSnapshot(req snapshotRequest) {
	applied, last := n.appliedIndex.Load(), n.snapshotIndex.Load()
	switch {
	case req.index > applied:
		req.done <- fmt.Errorf("quorum: snapshot at index %d, but only %d has been delivered", req.index, applied)
		return
	case req.index <= last:
		req.done <- fmt.Errorf("%w: index %d, last snapshot at %d", ErrSnapshotStale, req.index, last)
		return
	}
	// NB: the checkpoint is written on this goroutine, so a large image delays ticks and messages
	// for as long as its fsync takes; metadata images are megabytes, well inside an election timeout.
	// NB: the voter set is static (bootstrapped, never changed), so the current ConfState is the
	// one as of any applied index.
	md, err := n.storage.snapshot(req.index, n.confState, req.data, n.cfg.SnapshotCatchUpEntries)
	if md != nil {
		n.snapshotIndex.Store(md.GetIndex())
		n.bytesSince, n.batchesSince, n.lastSnapshot = 0, 0, time.Now()
		n.logger.Info("quorum snapshot written", "index", md.GetIndex(), "term", md.GetTerm(), "bytes", len(req.data))
	}
	req.done <- err
}

// trackCaughtUp notes, on the leader, when each voter last had every committed entry
// (DescribeQuorum's LastCaughtUpTimestamp).
func (n *Node) trackCaughtUp() {
	if n.Leader() != n.cfg.NodeID {
		return
	}
	st := n.rn.Status()
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, pr := range st.Progress {
		if pr.Match >= st.GetCommit() {
			n.mu.lastCaughtUp[id] = now
		}
	}
}

// fail stops the node on a storage error: nothing unpersisted is applied or sent, waiters get err,
// and peers see the node go away.
func (n *Node) fail(err error) {
	n.logger.Error("quorum node stopped: metadata storage failed", "err", err)
	n.mu.Lock()
	n.mu.err = err
	n.failPendingLocked(err)
	n.mu.leader = 0
	n.mu.Unlock()
	n.transport.close()
	n.rn.Stop()
}
