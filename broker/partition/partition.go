package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Log is what a Partition needs of its local log (*broker/log.Log implements it). All methods are
// safe for concurrent use.
type Log interface {
	LogStartOffset() int64
	LogEndOffset() int64
	// SetHighWatermark publishes the high watermark to readers; the log clamps it to its ends and
	// never moves it back.
	SetHighWatermark(hw int64)
	// AssignEpochStartOffset records in the leader-epoch checkpoint that epoch starts at offset.
	AssignEpochStartOffset(epoch int32, offset int64) error
}

// latestEpocher is a Log that knows the newest leader epoch its batches or its leader-epoch
// checkpoint hold (*broker/log.Log implements it).
type latestEpocher interface {
	LatestEpoch() int32
}

// highWatermarkRestorer is a Log that can set its high watermark below the current one, once,
// when the partition is created (*broker/log.Log implements it).
type highWatermarkRestorer interface {
	RestoreHighWatermark(hw int64)
}

// Options are a Partition's dependencies besides its log.
type Options struct {
	// Propose sends an AlterPartition proposal to the controller. It is called without any lock
	// held and must not block (the broker queues it); nil drops proposals.
	Propose func(topic string, partition int32, p Proposal)
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger     // nil: slog.Default()
}

// ErrNotFollowing is returned by Follow and SetFollowerHighWatermark when the partition no longer
// follows at the fetcher's leader epoch: the fetcher drops the partition.
var ErrNotFollowing = errors.New("partition: not following at this leader epoch")

// Partition owns one partition's replica state and drives State: it applies Actions (publishes
// the high watermark, completes acks=all waiters, wakes fetch waiters, sends proposals). All
// methods are safe for concurrent use. See the package doc for the lock order.
type Partition struct {
	topic   string
	index   int32
	log     Log
	propose func(string, int32, Proposal)
	now     func() time.Time
	logger  *slog.Logger

	// roleMu fences appends against role changes, as Kafka's leaderIsrUpdateLock: appends (leader
	// or follower) hold it shared across the log write, ApplyAssignment holds it exclusively. It
	// is never held while waiting on anything but a log write.
	roleMu sync.RWMutex

	mu struct {
		sync.Mutex
		state     *State
		nextAckID uint64
		acks      map[uint64]*Ack
		watchers  []*FetchWaiter
	}
}

// New returns the partition topic-index whose local log is log, on broker localID, before any
// assignment (RoleNone), with the high watermark the broker recovered (Kafka's
// replication-offset-checkpoint), published to the log.
func New(topic string, index int32, localID int32, log Log, highWatermark int64, cfg Config, opts Options) *Partition {
	p := &Partition{topic: topic, index: index, log: log, propose: opts.Propose, now: opts.Now, logger: opts.Logger}
	if p.now == nil {
		p.now = time.Now
	}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	p.logger = p.logger.With("component", "partition", "topic", topic, "partition", index)
	p.mu.state = NewState(localID, cfg, log.LogStartOffset(), log.LogEndOffset(), highWatermark)
	p.mu.acks = map[uint64]*Ack{}
	// NB: broker/log starts its high watermark at the log end on Open, which may include records
	// no quorum has; a log that can take it back gets the recovered one.
	if r, ok := log.(highWatermarkRestorer); ok {
		r.RestoreHighWatermark(p.mu.state.highWatermark)
	} else {
		log.SetHighWatermark(p.mu.state.highWatermark)
	}
	return p
}

func (p *Partition) nowMs() int64 { return p.now().UnixMilli() }

// Transition tells the caller of ApplyAssignment what changed, so it starts or stops fetchers.
type Transition struct {
	From, To    Role
	Leader      int32
	LeaderEpoch int32
	NewEpoch    bool // a new leader epoch began (a follower refetches from its new leader)
}

// ApplyAssignment applies the metadata image's assignment (see State.ApplyAssignment). On becoming
// leader it records the epoch's start offset in the log's leader-epoch checkpoint.
func (p *Partition) ApplyAssignment(a Assignment) (Transition, error) {
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	if le, ok := p.log.(latestEpocher); ok && a.Leader == p.mu.state.localID {
		// NB: an assignment making us leader in an epoch older than one our own log holds is
		// history: a restarted broker replays the metadata log image by image. Leading in it,
		// even for a moment, would take appends at a stale epoch, in offsets the current leader
		// may have filled differently. Such an assignment is applied without a leader; the
		// newer ones follow.
		if latest := le.LatestEpoch(); a.LeaderEpoch < latest {
			p.logger.Debug("not leading in a leader epoch older than the log's", "leaderEpoch", a.LeaderEpoch, "logLatestEpoch", latest)
			a.Leader = -1
		}
	}
	p.mu.Lock()
	st := p.mu.state
	tr := Transition{From: st.role}
	oldEpoch := st.leaderEpoch
	st.observeLog(p.log.LogStartOffset(), p.log.LogEndOffset())
	act, err := st.ApplyAssignment(a, p.nowMs())
	tr.To, tr.Leader, tr.LeaderEpoch, tr.NewEpoch = st.role, st.leader, st.leaderEpoch, st.leaderEpoch != oldEpoch
	p.applyLocked(act)
	startOffset := st.epochStartOffset
	p.mu.Unlock()
	if err != nil {
		return tr, err
	}
	if tr.To == RoleLeader && tr.NewEpoch {
		// NB: under roleMu, so no append of the new epoch can precede the checkpoint entry.
		if err := p.log.AssignEpochStartOffset(tr.LeaderEpoch, startOffset); err != nil {
			return tr, fmt.Errorf("partition %s-%d: leader epoch %d start: %w", p.topic, p.index, tr.LeaderEpoch, err)
		}
	}
	if tr.From != tr.To || tr.NewEpoch {
		p.logger.Info("replica role changed", "from", tr.From.String(), "to", tr.To.String(), "leader", tr.Leader,
			"leaderEpoch", tr.LeaderEpoch, "epochStartOffset", startOffset)
	}
	p.sendProposal(act.Propose)
	return tr, nil
}

// SetConfig replaces the partition's replication configuration (min.insync.replicas changed).
func (p *Partition) SetConfig(cfg Config) {
	p.mu.Lock()
	act := p.mu.state.SetConfig(cfg, p.nowMs())
	p.applyLocked(act)
	p.mu.Unlock()
}

// CheckEpoch validates a request's current leader epoch (see State.CheckEpoch) and returns the
// current leader and epoch for KIP-951 replies (CurrentLeader in Produce and Fetch responses).
func (p *Partition) CheckEpoch(currentLeaderEpoch int32, requireLeader bool) (leaderID, leaderEpoch int32, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.mu.state
	return st.leader, st.leaderEpoch, st.CheckEpoch(currentLeaderEpoch, requireLeader)
}

// Leader returns the current leader (-1 if none) and leader epoch (-1 before any assignment), for
// Metadata, ListOffsets and OffsetForLeaderEpoch answers.
func (p *Partition) Leader() (id, epoch int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.state.Leader()
}

// AppendAsLeader appends a produce through fn, which writes to the log at the given leader epoch
// and returns the offset after its last record. It refuses with NOT_LEADER_OR_FOLLOWER unless
// leader, and acks=all with NOT_ENOUGH_REPLICAS while the ISR is below min.insync.replicas. For
// acks=all it returns an Ack to wait on; otherwise the Ack is nil.
func (p *Partition) AppendAsLeader(requiredAcks int16, fn func(leaderEpoch int32) (endOffset int64, err error)) (*Ack, error) {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	st := p.mu.state
	epoch := st.leaderEpoch
	err := st.CheckProduce(requiredAcks)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	endOffset, err := fn(epoch)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	// NB: concurrent appends may finish out of order; the log's end offset covers them all.
	act := st.LeaderAppended(max(endOffset, p.log.LogEndOffset()), p.nowMs())
	var ack *Ack
	switch {
	case requiredAcks != -1:
	case endOffset <= st.highWatermark && st.role == RoleLeader:
		// NB: the common single-replica case: complete now, without registering a waiter.
		ack = &Ack{p: p, done: closedChan, err: st.ackResult()}
	default:
		p.mu.nextAckID++
		ack = &Ack{p: p, id: p.mu.nextAckID, done: make(chan struct{})}
		p.mu.acks[ack.id] = ack
		act.merge(st.AddAckWaiter(ack.id, endOffset))
	}
	p.applyLocked(act)
	p.mu.Unlock()
	p.sendProposal(act.Propose)
	return ack, nil
}

// FollowerView is what the leader answers a follower's fetch with.
type FollowerView struct {
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
}

// FollowerFetch records follower replicaID's fetch at fetchOffset (Fetch with ReplicaID or
// ReplicaState) after checking its current leader epoch, and returns the offsets to answer with.
// Errors: FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE.
func (p *Partition) FollowerFetch(replicaID int32, fetchOffset int64, currentLeaderEpoch int32) (FollowerView, error) {
	return p.followerFetch(replicaID, fetchOffset, currentLeaderEpoch, true)
}

// FollowerFetchIneligible is FollowerFetch from a replica that may not join the ISR now (its
// broker is fenced or shutting down): see State.FollowerFetchedIneligible.
func (p *Partition) FollowerFetchIneligible(replicaID int32, fetchOffset int64, currentLeaderEpoch int32) (FollowerView, error) {
	return p.followerFetch(replicaID, fetchOffset, currentLeaderEpoch, false)
}

func (p *Partition) followerFetch(replicaID int32, fetchOffset int64, currentLeaderEpoch int32, isrEligible bool) (FollowerView, error) {
	p.mu.Lock()
	st := p.mu.state
	if err := st.CheckEpoch(currentLeaderEpoch, true); err != nil {
		p.mu.Unlock()
		return FollowerView{}, err
	}
	st.LogStartOffsetMoved(p.log.LogStartOffset())
	act, err := st.followerFetched(replicaID, fetchOffset, p.nowMs(), isrEligible)
	p.applyLocked(act)
	v := FollowerView{HighWatermark: st.highWatermark, LogStartOffset: st.logStartOffset, LogEndOffset: st.logEndOffset}
	p.mu.Unlock()
	p.sendProposal(act.Propose)
	return v, err
}

// MaybeShrinkISR proposes dropping ISR members that fell behind (the broker calls it for every
// led partition each replica.lag.time.max.ms / 2).
func (p *Partition) MaybeShrinkISR() {
	p.mu.Lock()
	act := p.mu.state.MaybeShrinkISR(p.nowMs())
	p.applyLocked(act)
	p.mu.Unlock()
	p.sendProposal(act.Propose)
}

// ProposalFailed tells the partition the controller refused proposal pr (or it was not sent).
func (p *Partition) ProposalFailed(pr Proposal) {
	p.mu.Lock()
	p.mu.state.ProposalFailed(pr)
	p.mu.Unlock()
}

// Follow runs fn — a follower's append of fetched batches or a truncation — if the partition
// still follows at leaderEpoch, with role changes held off, then takes the log end offset fn
// returns. Otherwise it returns ErrNotFollowing without calling fn.
func (p *Partition) Follow(leaderEpoch int32, fn func() (logEndOffset int64, err error)) error {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	ok := p.mu.state.role == RoleFollower && p.mu.state.leaderEpoch == leaderEpoch
	p.mu.Unlock()
	if !ok {
		return ErrNotFollowing
	}
	leo, err := fn()
	p.mu.Lock()
	// NB: after a failed fn the log may still have moved (a partial truncation); take its end.
	if err != nil {
		leo = p.log.LogEndOffset()
	}
	p.mu.state.LogStartOffsetMoved(p.log.LogStartOffset())
	p.applyLocked(p.mu.state.FollowerAppended(leo))
	p.mu.Unlock()
	return err
}

// SetFollowerHighWatermark takes the leader's high watermark from a fetch response made at
// leaderEpoch.
func (p *Partition) SetFollowerHighWatermark(leaderEpoch int32, leaderHighWatermark int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.mu.state
	if st.role != RoleFollower || st.leaderEpoch != leaderEpoch {
		return ErrNotFollowing
	}
	p.applyLocked(st.FollowerHighWatermark(leaderHighWatermark))
	return nil
}

// Snapshot is a copy of a partition's replica state, for DescribeLogDirs, metrics and tests.
type Snapshot struct {
	Role             Role
	Leader           int32
	LeaderEpoch      int32
	PartitionEpoch   int32
	Replicas, ISR    []int32
	MaximalISR       []int32
	PendingISR       []int32 // the proposal in flight, nil if none
	HighWatermark    int64
	LogStartOffset   int64
	LogEndOffset     int64
	EpochStartOffset int64
	Followers        []FollowerProgress // leader only, by replica id
	AckWaiters       int
	FetchWaiters     int
}

// FollowerProgress is the leader's view of one follower (times in Unix ms, 0 if never).
type FollowerProgress struct {
	ReplicaID      int32
	LogEndOffset   int64 // -1 until it fetched in this leader epoch
	LastFetchMs    int64
	LastCaughtUpMs int64
}

// Snapshot returns a copy of the partition's state.
func (p *Partition) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.mu.state
	s := Snapshot{
		Role: st.role, Leader: st.leader, LeaderEpoch: st.leaderEpoch, PartitionEpoch: st.partitionEpoch,
		Replicas: slices.Clone(st.replicas), ISR: slices.Clone(st.isr), MaximalISR: slices.Clone(st.MaximalISR()),
		HighWatermark: st.highWatermark, LogStartOffset: st.logStartOffset, LogEndOffset: st.logEndOffset,
		EpochStartOffset: st.epochStartOffset, AckWaiters: len(st.acks), FetchWaiters: len(p.mu.watchers),
	}
	for _, id := range st.replicas {
		if f := st.followers[id]; f != nil {
			s.Followers = append(s.Followers, FollowerProgress{ReplicaID: id, LogEndOffset: f.logEndOffset,
				LastFetchMs: f.lastFetchMs, LastCaughtUpMs: f.lastCaughtUpMs})
		}
	}
	if st.pending != nil {
		s.PendingISR = slices.Clone(st.pending.NewISR)
	}
	return s
}

// applyLocked carries out act except the proposal (sent after unlocking). Caller holds mu.
func (p *Partition) applyLocked(act Actions) {
	if act.HighWatermarkChanged {
		p.log.SetHighWatermark(act.HighWatermark)
	}
	for _, c := range act.Completed {
		if a := p.mu.acks[c.ID]; a != nil {
			delete(p.mu.acks, c.ID)
			a.err = c.Err
			close(a.done)
		}
	}
	if act.Wake {
		for _, w := range p.mu.watchers {
			w.wake()
		}
	}
}

func (p *Partition) sendProposal(pr *Proposal) {
	if pr != nil && p.propose != nil {
		p.propose(p.topic, p.index, *pr)
	}
}

// Ack is an acks=all produce waiting for the ISR.
type Ack struct {
	p    *Partition
	id   uint64
	done chan struct{}
	err  error // set before done is closed
}

// closedChan is the Done of an Ack completed when it was created.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done is closed once the produce is complete.
func (a *Ack) Done() <-chan struct{} { return a.done }

// Err is the produce's result once Done is closed: nil, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
// NOT_LEADER_OR_FOLLOWER or REQUEST_TIMED_OUT.
func (a *Ack) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// Wait waits for the ISR up to timeout (the produce's timeout.ms) or until cancel is closed (the
// connection went away), and returns the produce's result: REQUEST_TIMED_OUT on timeout or cancel.
func (a *Ack) Wait(timeout time.Duration, cancel <-chan struct{}) error {
	select {
	case <-a.done:
		return a.err
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-a.done:
		return a.err
	case <-t.C:
	case <-cancel:
	}
	a.p.mu.Lock()
	a.p.applyLocked(a.p.mu.state.AckTimedOut(a.id))
	a.p.mu.Unlock()
	<-a.done // completed now, by the timeout or just before it
	return a.err
}

// FetchWaiter is one long-polling fetch: it watches the partitions it reads and is woken by an
// append or a high watermark advance on any of them. Its channel holds at most one wake-up.
type FetchWaiter struct {
	c chan struct{}
}

// NewFetchWaiter returns a waiter watching nothing yet.
func NewFetchWaiter() *FetchWaiter { return &FetchWaiter{c: make(chan struct{}, 1)} }

// C receives after a watched partition moved.
func (w *FetchWaiter) C() <-chan struct{} { return w.c }

// Wake wakes w as an append on a watched partition would (a leader wakes replicas' fetches when
// it begins to lead a partition they follow).
func (w *FetchWaiter) Wake() { w.wake() }

func (w *FetchWaiter) wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// Watch registers w on this partition. seenHighWatermark and seenLogEndOffset are what the fetch
// saw when it read: if either moved since, w is woken at once, so no append between the read and
// the registration is missed.
func (p *Partition) Watch(w *FetchWaiter, seenHighWatermark, seenLogEndOffset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.watchers = append(p.mu.watchers, w)
	if st := p.mu.state; st.highWatermark != seenHighWatermark || st.logEndOffset != seenLogEndOffset {
		w.wake()
	}
}

// Unwatch removes w (the fetch answered). It is a no-op if w is not registered.
func (p *Partition) Unwatch(w *FetchWaiter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.mu.watchers, w); i >= 0 {
		p.mu.watchers = slices.Delete(p.mu.watchers, i, i+1)
	}
}

// Offsets returns the high watermark and log end offset a fetch reads against (pass them to Watch).
func (p *Partition) Offsets() (highWatermark, logEndOffset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.state.highWatermark, p.mu.state.logEndOffset
}
