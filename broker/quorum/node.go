package quorum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/gregor-streams/gregor/internal/dirlock"
)

// Committed is one step of the replicated log, delivered on Node.Committed in log order, each
// index once per process lifetime.
type Committed struct {
	// Index is the raft index (the batch's offset); Term is the leader epoch that wrote it.
	Index uint64
	Term  uint64
	// Records is the batch proposed in one Propose call, applied atomically. The slices share
	// memory with the log (and ReadCommitted's readers): keep them, never modify them.
	Records [][]byte
	// IsSnapshot means: replace your whole state with Image, which is the state as of Index. It
	// comes first after a restart (the newest checkpoint) and when the leader sends a snapshot to a
	// follower too far behind.
	IsSnapshot bool
	Image      []byte
	// LeaderChange means: not a log entry, but a change of leader, delivered in order with the
	// batches (KRaft's handleLeaderChange). LeaderID is the new leader (NoLeader during an election),
	// Term the current term, Index the last index delivered before it. On the node that became
	// leader, batches committed under earlier leaders may still follow.
	LeaderChange bool
	LeaderID     int32
	// SnapshotDue is set once the bytes (or batches) applied since the last snapshot passed the
	// configured threshold; the applier answers with Snapshot(Index, image) when it can.
	SnapshotDue bool
}

type proposalResult struct {
	index uint64
	err   error
}

type snapshotRequest struct {
	index uint64
	data  []byte
	done  chan error
}

// Node is one voter of the metadata quorum. Its methods are safe for concurrent use.
type Node struct {
	cfg         Config
	id          uint64
	logger      *slog.Logger
	incarnation uint64
	lock        *dirlock.Lock
	storage     *storage
	rn          raft.Node
	transport   *transport

	committed chan Committed
	snapshots chan snapshotRequest
	stop      chan struct{}
	loopDone  chan struct{}
	wg        sync.WaitGroup
	closing   sync.Once
	closeErr  error
	seq       atomic.Uint64

	// Owned by the Ready loop.
	confState     *pb.ConfState
	hardState     *pb.HardState
	bytesSince    int64
	batchesSince  int64
	lastSnapshot  time.Time // when the last snapshot was taken (or the node started)
	appliedIndex  atomic.Uint64
	readSeq       atomic.Uint64 // numbers LeaderCommit's ReadIndex requests
	commitIndex   atomic.Uint64 // the commit index as persisted-or-mirrored by the loop
	snapshotIndex atomic.Uint64

	mu struct {
		sync.Mutex
		leader       uint64
		raftState    raft.StateType // from the last SoftState
		term         uint64
		pending      map[uint64]chan proposalResult
		err          error // the storage failure that stopped the node
		lastContact  map[uint64]time.Time
		lastCaughtUp map[uint64]time.Time
		// commitAdvanced is closed (and replaced) whenever the commit index moves: WaitCommitted.
		commitAdvanced chan struct{}
		// reads are the LeaderCommit calls waiting for their ReadIndex answer, by request context.
		reads map[string]chan uint64
	}
}

// Start opens (or creates) the metadata directory, recovers the log, and starts the voter. A node
// whose directory is empty bootstraps the quorum with Voters; one with state restarts from it.
// The node owns cfg.Listener from here on, also when Start fails.
func Start(c Config) (_ *Node, err error) {
	defer func() {
		if err != nil && c.Listener != nil {
			c.Listener.Close()
		}
	}()
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	lock, err := dirlock.Acquire(cfg.Dir)
	if err != nil {
		return nil, err
	}
	st, err := openStorage(cfg.FS, cfg.Dir, cfg.SegmentBytes)
	if err != nil {
		lock.Release()
		return nil, err
	}
	n := &Node{
		cfg:          cfg,
		id:           raftID(cfg.NodeID),
		logger:       cfg.Logger,
		incarnation:  rand.Uint64(),
		lock:         lock,
		storage:      st,
		committed:    make(chan Committed, cfg.CommittedBuffer),
		snapshots:    make(chan snapshotRequest),
		stop:         make(chan struct{}),
		loopDone:     make(chan struct{}),
		confState:    &pb.ConfState{},
		hardState:    st.hardState,
		lastSnapshot: time.Now(),
	}
	n.mu.pending = map[uint64]chan proposalResult{}
	n.mu.lastContact = map[uint64]time.Time{}
	n.mu.lastCaughtUp = map[uint64]time.Time{}
	n.mu.commitAdvanced = make(chan struct{})
	if n.hardState != nil {
		n.mu.term = n.hardState.GetTerm()
		n.commitIndex.Store(n.hardState.GetCommit())
	}
	var applied uint64
	if meta := st.snapshotMeta; meta != nil {
		applied = meta.GetIndex()
		n.confState = proto.Clone(meta.GetConfState()).(*pb.ConfState)
		n.snapshotIndex.Store(applied)
		n.appliedIndex.Store(applied)
	}
	rc := &raft.Config{
		ID:            n.id,
		ElectionTick:  cfg.ElectionTicks,
		HeartbeatTick: cfg.HeartbeatTicks,
		Storage:       st.mem,
		Applied:       applied,
		// NB: with the peer queue these bound what waits in memory for one peer: at most 64
		// appends and 16 MiB of entries in flight, however slow the peer.
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           64,
		MaxInflightBytes:          16 << 20,
		MaxCommittedSizePerReady:  8 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		// NB: only the leader appends (KRaft's active controller); a follower refuses a proposal
		// and Propose names the leader, instead of forwarding it behind the caller's back.
		DisableProposalForwarding: true,
		Logger:                    raftLogger{cfg.Logger},
	}
	n.transport = newTransport(n.id, cfg.Voters, cfg.Dial, cfg.MaxMessageBytes, cfg.Logger)
	n.transport.step = n.receive
	n.transport.unreachable = func(id uint64) { n.rn.ReportUnreachable(id) }
	n.transport.snapshotStatus = func(id uint64, s raft.SnapshotStatus) { n.rn.ReportSnapshot(id, s) }
	if st.fresh {
		peers := make([]raft.Peer, len(cfg.Voters))
		for i, v := range cfg.Voters {
			peers[i] = raft.Peer{ID: raftID(v.ID)}
		}
		// NB: every voter bootstraps with the same conf-change entries (Voters sorted by ID), so
		// their logs agree on indexes 1..len(Voters).
		n.rn = raft.StartNode(rc, peers)
	} else {
		n.rn = raft.RestartNode(rc)
	}
	n.transport.start(cfg.Listener)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.run()
	}()
	return n, nil
}

// ID is this node's node.id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Committed delivers the log to the applier: first the newest snapshot (if any), then every
// committed batch in order, with leader changes in between. It must be drained: the node does not
// run ahead of its applier (a full channel stalls the Ready loop, heartbeats included). It is
// closed when the node stops.
func (n *Node) Committed() <-chan Committed { return n.committed }

// Leader is the current leader's node.id, or NoLeader.
func (n *Node) Leader() int32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return nodeID(n.mu.leader)
}

// Term is the current raft term (Kafka's leader epoch).
func (n *Node) Term() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.term
}

// Err is the failure that stopped the node (a storage error), or nil.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.err
}

// Propose appends records as one batch and returns its offset (raft index) once it is committed
// and delivered on Committed. It fails with a *NotLeaderError on a follower, with the context's
// error wrapped if ctx ends first (the batch may still commit), with the storage failure if the node
// stopped on one, or with ErrClosed.
//
// Propose must not be called from the goroutine that drains Committed: it waits for that.
func (n *Node) Propose(ctx context.Context, records [][]byte) (uint64, error) {
	if err := n.stoppedErr(); err != nil {
		return 0, err
	}
	seq := n.seq.Add(1)
	done := make(chan proposalResult, 1)
	n.mu.Lock()
	if n.mu.leader != n.id {
		leader := nodeID(n.mu.leader)
		n.mu.Unlock()
		return 0, &NotLeaderError{LeaderID: leader}
	}
	n.mu.pending[seq] = done
	n.mu.Unlock()
	unregister := func() {
		n.mu.Lock()
		delete(n.mu.pending, seq)
		n.mu.Unlock()
	}
	data := encodeBatch(proposalID{n.incarnation, seq}, records)
	if len(data) > n.cfg.MaxBatchBytes {
		unregister()
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrBatchTooLarge, len(data), n.cfg.MaxBatchBytes)
	}
	if err := n.rn.Propose(ctx, data); err != nil {
		unregister()
		switch {
		case errors.Is(err, raft.ErrProposalDropped):
			if leader := n.Leader(); leader != n.cfg.NodeID {
				return 0, &NotLeaderError{LeaderID: leader}
			}
			return 0, ErrProposalDropped
		case errors.Is(err, raft.ErrStopped):
			return 0, n.stoppedOr(ErrClosed)
		}
		return 0, fmt.Errorf("quorum: propose: %w", err)
	}
	select {
	case r := <-done:
		return r.index, r.err
	case <-ctx.Done():
		unregister()
		return 0, fmt.Errorf("quorum: proposal not committed (it may still commit): %w", ctx.Err())
	case <-n.loopDone:
		unregister()
		select {
		case r := <-done:
			return r.index, r.err
		default:
		}
		return 0, n.stoppedOr(ErrClosed)
	}
}

// Snapshot records image as the applier's state as of index (an index it has received on
// Committed), writes it as a checkpoint file and drops the log it covers. It fails with
// ErrSnapshotStale if a snapshot at or past index exists.
func (n *Node) Snapshot(index uint64, image []byte) error {
	req := snapshotRequest{index: index, data: image, done: make(chan error, 1)}
	select {
	case n.snapshots <- req:
	case <-n.loopDone:
		return n.stoppedOr(ErrClosed)
	}
	select {
	case err := <-req.done:
		return err
	case <-n.loopDone:
		return n.stoppedOr(ErrClosed)
	}
}

// TransferLeadership moves leadership to voter to (or, if to is NoLeader, to the most caught-up
// other voter) and waits until that voter leads, as controlled shutdown does. It fails with a
// *NotLeaderError if this node does not lead, and with ErrTransferFailed when the leader did not
// change within two election timeouts or ctx.
func (n *Node) TransferLeadership(ctx context.Context, to int32) error {
	if err := n.stoppedErr(); err != nil {
		return err
	}
	if leader := n.Leader(); leader != n.cfg.NodeID {
		return &NotLeaderError{LeaderID: leader}
	}
	if to == n.cfg.NodeID {
		return nil
	}
	st := n.rn.Status()
	if to == NoLeader {
		var best uint64
		for id, pr := range st.Progress {
			if id != n.id && (to == NoLeader || pr.Match > best) {
				to, best = nodeID(id), pr.Match
			}
		}
		if to == NoLeader {
			return fmt.Errorf("%w: no other voter", ErrTransferFailed)
		}
	} else if _, ok := st.Progress[raftID(to)]; !ok {
		return fmt.Errorf("%w: node %d is not a voter", ErrTransferFailed, to)
	}
	electionTimeout := time.Duration(n.cfg.ElectionTicks) * n.cfg.TickInterval
	ctx, cancel := context.WithTimeout(ctx, 2*electionTimeout)
	defer cancel()
	n.rn.TransferLeadership(ctx, n.id, raftID(to))
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	for {
		if leader := n.Leader(); leader == to {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: node %d does not lead (leader %d): %v", ErrTransferFailed, to, n.Leader(), ctx.Err())
		case <-n.loopDone:
			return n.stoppedOr(ErrClosed)
		case <-tick.C:
		}
	}
}

// Close stops the node: the listener and connections close, the Ready loop ends, pending
// proposals fail with ErrClosed, the commit index is written and the directory unlocked.
// Idempotent; it returns the first call's result.
func (n *Node) Close() error {
	n.closing.Do(func() {
		close(n.stop)
		n.transport.close()
		n.wg.Wait()
		n.rn.Stop()
		var errs []error
		if n.Err() == nil && n.hardState != nil {
			errs = append(errs, n.storage.saveState(n.hardState, true))
		}
		errs = append(errs, n.storage.close(), n.lock.Release())
		n.failPending(ErrClosed)
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) stoppedErr() error {
	if err := n.Err(); err != nil {
		return err
	}
	select {
	case <-n.loopDone:
		return n.stoppedOr(ErrClosed)
	default:
		return nil
	}
}

func (n *Node) stoppedOr(fallback error) error {
	if err := n.Err(); err != nil {
		return err
	}
	return fallback
}

// receive steps a peer's message into raft and notes the contact (DescribeQuorum's last fetch).
func (n *Node) receive(m *pb.Message) {
	n.mu.Lock()
	n.mu.lastContact[m.GetFrom()] = time.Now()
	n.mu.Unlock()
	// NB: an error here is raft.ErrStopped during shutdown; a dropped message is retried by raft.
	_ = n.rn.Step(context.Background(), m)
}

func (n *Node) failPending(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failPendingLocked(err)
}

func (n *Node) failPendingLocked(err error) {
	for seq, ch := range n.mu.pending {
		ch <- proposalResult{err: err}
		delete(n.mu.pending, seq)
	}
}
