package partition

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Role is what this broker is for a partition.
type Role int8

// The roles. A replica not in the assignment (or not yet assigned) has RoleNone.
const (
	RoleNone Role = iota
	RoleLeader
	RoleFollower
)

func (r Role) String() string {
	switch r {
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	}
	return "none"
}

// Config is the replication configuration of one partition, in Kafka's terms.
type Config struct {
	MinInsyncReplicas   int   // min.insync.replicas (topic level; 1 if <= 0)
	ReplicaLagTimeMaxMs int64 // replica.lag.time.max.ms (broker level; 30000 if <= 0)
}

func (c Config) normalized() Config {
	if c.MinInsyncReplicas <= 0 {
		c.MinInsyncReplicas = 1
	}
	if c.ReplicaLagTimeMaxMs <= 0 {
		c.ReplicaLagTimeMaxMs = 30000
	}
	return c
}

// Assignment is the metadata image's view of one partition: a PartitionRecord with its
// PartitionChangeRecords applied.
type Assignment struct {
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
}

// Proposal is an AlterPartition request this leader wants the controller to decide: replace the
// ISR as of PartitionEpoch by NewISR. The partition keeps it in flight (one at a time) until the
// metadata image carries a newer partition epoch or the controller refuses it (ProposalFailed).
type Proposal struct {
	LeaderEpoch    int32
	PartitionEpoch int32 // the partition epoch the change is based on
	NewISR         []int32
}

// Completion finishes one acks=all waiter: Err nil is success, else the Kafka error to answer.
type Completion struct {
	ID  uint64
	Err error
}

// Actions are what one event on the State asks its driver to do.
type Actions struct {
	// HighWatermarkChanged: publish HighWatermark (to the log, and answer it in fetches).
	HighWatermarkChanged bool
	HighWatermark        int64
	// Completed acks=all waiters.
	Completed []Completion
	// Propose, if not nil, is an AlterPartition proposal to send to the controller.
	Propose *Proposal
	// Wake: the log end offset or the high watermark moved; wake this partition's fetch waiters.
	Wake bool
}

func (a *Actions) merge(b Actions) {
	if b.HighWatermarkChanged {
		a.HighWatermarkChanged, a.HighWatermark = true, b.HighWatermark
	}
	a.Completed = append(a.Completed, b.Completed...)
	if b.Propose != nil {
		a.Propose = b.Propose
	}
	a.Wake = a.Wake || b.Wake
}

// ErrStaleAssignment is returned by ApplyAssignment for an assignment older than the one applied.
var ErrStaleAssignment = errors.New("partition: stale assignment")

// follower is the leader's view of one remote replica (Kafka's Replica state).
type follower struct {
	logEndOffset       int64 // -1: unknown since this broker became leader
	lastFetchMs        int64
	lastFetchLeaderLEO int64 // the leader's log end offset at the last fetch; -1 unknown
	lastCaughtUpMs     int64
}

type ackWaiter struct {
	id        uint64
	endOffset int64 // complete once the high watermark reaches it
}

// State is the replica state of one partition as a pure state machine: events (metadata
// assignments, local appends, follower fetches, time) go in, Actions come out. It does no I/O,
// reads no clock and is not safe for concurrent use: Partition is its driver.
type State struct {
	cfg     Config
	localID int32

	role           Role
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32   // the committed ISR, as the metadata image says
	pending        *Proposal // the AlterPartition in flight, if any

	logStartOffset   int64
	logEndOffset     int64
	highWatermark    int64
	epochStartOffset int64 // the log end offset when this leader epoch began; -1 if not leader

	followers map[int32]*follower // leader only: every replica but this one
	acks      []ackWaiter         // ascending endOffset (appends are ordered)
}

// NewState returns the state of a partition whose log this broker holds, before any assignment.
func NewState(localID int32, cfg Config, logStartOffset, logEndOffset, highWatermark int64) *State {
	return &State{
		cfg: cfg.normalized(), localID: localID, leader: -1, leaderEpoch: -1, partitionEpoch: -1,
		logStartOffset: logStartOffset, logEndOffset: logEndOffset,
		highWatermark: min(highWatermark, logEndOffset), epochStartOffset: -1,
	}
}

// SetConfig replaces the configuration (a topic config change). The high watermark may advance if
// min.insync.replicas went down.
func (s *State) SetConfig(cfg Config, nowMs int64) Actions {
	s.cfg = cfg.normalized()
	return s.leaderProgress(nowMs)
}

// Role returns this broker's role.
func (s *State) Role() Role { return s.role }

// Leader returns the leader's broker id (-1 if none) and the leader epoch (-1 before any).
func (s *State) Leader() (id, epoch int32) { return s.leader, s.leaderEpoch }

// HighWatermark returns the high watermark.
func (s *State) HighWatermark() int64 { return s.highWatermark }

// LogEndOffset returns the log end offset the state knows of.
func (s *State) LogEndOffset() int64 { return s.logEndOffset }

// ISR returns the committed ISR (the caller must not modify it).
func (s *State) ISR() []int32 { return s.isr }

// MaximalISR is the committed ISR plus any replica a proposal in flight adds: what the high
// watermark waits for, as Kafka's maximalIsr.
func (s *State) MaximalISR() []int32 {
	if s.pending == nil {
		return s.isr
	}
	out := slices.Clone(s.isr)
	for _, id := range s.pending.NewISR {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Pending returns the AlterPartition proposal in flight, nil if none.
func (s *State) Pending() *Proposal { return s.pending }

// PartitionEpoch returns the partition epoch of the applied assignment (-1 before any).
func (s *State) PartitionEpoch() int32 { return s.partitionEpoch }

// EpochStartOffset returns the log end offset when this broker's leader epoch began; -1 if not leader.
func (s *State) EpochStartOffset() int64 { return s.epochStartOffset }

// FollowerLogEndOffset returns the leader's view of replica id's log end offset; -1 if unknown.
func (s *State) FollowerLogEndOffset(id int32) int64 {
	if f := s.followers[id]; f != nil {
		return f.logEndOffset
	}
	return -1
}

// CheckEpoch validates a request's current leader epoch (-1: no check), in Kafka's order: an
// older epoch is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH, then, if requireLeader, a
// broker that is not the leader answers NOT_LEADER_OR_FOLLOWER. A follower that is not
// requireLeader answers only if it follows.
func (s *State) CheckEpoch(currentLeaderEpoch int32, requireLeader bool) error {
	switch {
	case currentLeaderEpoch >= 0 && currentLeaderEpoch < s.leaderEpoch:
		return kerr.FencedLeaderEpoch
	case currentLeaderEpoch > s.leaderEpoch:
		return kerr.UnknownLeaderEpoch
	case s.role == RoleNone, requireLeader && s.role != RoleLeader:
		return kerr.NotLeaderForPartition
	}
	return nil
}

// CheckProduce validates a produce before it is appended: only the leader appends, and acks=all
// is refused with NOT_ENOUGH_REPLICAS while the committed ISR is below min.insync.replicas.
func (s *State) CheckProduce(requiredAcks int16) error {
	if s.role != RoleLeader {
		return kerr.NotLeaderForPartition
	}
	if requiredAcks == -1 && len(s.isr) < s.cfg.MinInsyncReplicas {
		return kerr.NotEnoughReplicas
	}
	return nil
}

func (s *State) String() string {
	return fmt.Sprintf("role=%s leader=%d epoch=%d pepoch=%d replicas=%v isr=%v hw=%d leo=%d",
		s.role, s.leader, s.leaderEpoch, s.partitionEpoch, s.replicas, s.isr, s.highWatermark, s.logEndOffset)
}
