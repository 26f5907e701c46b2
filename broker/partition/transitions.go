package partition

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ApplyAssignment applies the metadata image's assignment of this partition. It makes this broker
// leader, follower or neither, or (same leader epoch, newer partition epoch) applies a committed
// ISR change. An assignment with an older leader epoch, or the same leader epoch and a partition
// epoch not newer than the applied one, changes nothing and returns ErrStaleAssignment.
//
// Becoming leader starts a leader epoch at the current log end offset (EpochStartOffset): the
// driver records it in the log's leader-epoch checkpoint. Leaving leadership fails every acks=all
// waiter with NOT_LEADER_OR_FOLLOWER.
func (s *State) ApplyAssignment(a Assignment, nowMs int64) (Actions, error) {
	if a.LeaderEpoch < s.leaderEpoch || (a.LeaderEpoch == s.leaderEpoch && a.PartitionEpoch <= s.partitionEpoch) {
		return Actions{}, fmt.Errorf("%w: leader epoch %d partition epoch %d, have %d/%d",
			ErrStaleAssignment, a.LeaderEpoch, a.PartitionEpoch, s.leaderEpoch, s.partitionEpoch)
	}
	newEpoch := a.LeaderEpoch != s.leaderEpoch
	wasLeader := s.role == RoleLeader
	s.leader, s.leaderEpoch, s.partitionEpoch = a.Leader, a.LeaderEpoch, a.PartitionEpoch
	s.replicas, s.isr = slices.Clone(a.Replicas), slices.Clone(a.ISR)
	// NB: any newer partition epoch settles the proposal in flight: the controller either applied
	// it or moved on, and a still-needed change is proposed again from the new state.
	s.pending = nil

	var act Actions
	switch {
	case !slices.Contains(a.Replicas, s.localID):
		act.Completed = s.failAcks(kerr.NotLeaderForPartition)
		s.role, s.followers, s.epochStartOffset = RoleNone, nil, -1
	case a.Leader == s.localID:
		switch {
		case !wasLeader:
			s.becomeLeader(nowMs)
		case newEpoch:
			// Still the leader, in a new epoch: the followers' progress stands (Kafka's
			// resetReplicaState for a leader that was already leader); the epoch starts here.
			s.epochStartOffset = s.logEndOffset
			s.syncFollowers(nowMs)
		default:
			s.syncFollowers(nowMs)
		}
		act.merge(s.leaderProgress(nowMs))
		if len(s.isr) < s.cfg.MinInsyncReplicas {
			// NB: Kafka lets such waiters time out (the high watermark cannot pass them while the
			// ISR is short); answering at once tells the producer now, and it retries idempotently.
			act.Completed = append(act.Completed, s.failAcks(kerr.NotEnoughReplicasAfterAppend)...)
		}
	default:
		act.Completed = s.failAcks(kerr.NotLeaderForPartition)
		s.role, s.followers, s.epochStartOffset = RoleFollower, nil, -1
	}
	act.Wake = true // fetch waiters re-check their epochs and roles
	return act, nil
}

func (s *State) becomeLeader(nowMs int64) {
	s.role = RoleLeader
	s.epochStartOffset = s.logEndOffset
	s.followers = map[int32]*follower{}
	// Kafka's resetReplicaState for a new leader: the followers' log end offsets are unknown until
	// they fetch, and ISR members count as caught up now (they have replica.lag.time.max.ms to
	// fetch before they are shrunk away).
	s.syncFollowers(nowMs)
	for id, f := range s.followers {
		f.logEndOffset, f.lastFetchLeaderLEO, f.lastFetchMs = -1, -1, 0
		f.lastCaughtUpMs = 0
		if slices.Contains(s.isr, id) {
			f.lastCaughtUpMs = nowMs
		}
	}
}

// syncFollowers makes followers hold exactly the remote replicas of the assignment.
func (s *State) syncFollowers(nowMs int64) {
	for id := range s.followers {
		if !slices.Contains(s.replicas, id) {
			delete(s.followers, id)
		}
	}
	for _, id := range s.replicas {
		if id != s.localID && s.followers[id] == nil {
			f := &follower{logEndOffset: -1, lastFetchLeaderLEO: -1}
			if slices.Contains(s.isr, id) {
				f.lastCaughtUpMs = nowMs
			}
			s.followers[id] = f
		}
	}
}

func (s *State) failAcks(err error) []Completion {
	out := make([]Completion, 0, len(s.acks))
	for _, w := range s.acks {
		out = append(out, Completion{ID: w.id, Err: err})
	}
	s.acks = s.acks[:0]
	return out
}

// LeaderAppended records that the leader's log end offset is now logEndOffset (after a local
// append). With an ISR of the leader alone, the high watermark follows at once.
func (s *State) LeaderAppended(logEndOffset int64, nowMs int64) Actions {
	if logEndOffset <= s.logEndOffset {
		return Actions{}
	}
	s.logEndOffset = logEndOffset
	act := Actions{Wake: true}
	act.merge(s.leaderProgress(nowMs))
	return act
}

// AddAckWaiter registers an acks=all produce whose batches end before endOffset (last offset + 1).
// It completes once the high watermark reaches endOffset, at once if it already has.
func (s *State) AddAckWaiter(id uint64, endOffset int64) Actions {
	if s.role != RoleLeader {
		return Actions{Completed: []Completion{{ID: id, Err: kerr.NotLeaderForPartition}}}
	}
	if endOffset <= s.highWatermark {
		return Actions{Completed: []Completion{{ID: id, Err: s.ackResult()}}}
	}
	i, _ := slices.BinarySearchFunc(s.acks, endOffset, func(w ackWaiter, end int64) int {
		if w.endOffset <= end {
			return -1
		}
		return 1
	})
	s.acks = slices.Insert(s.acks, i, ackWaiter{id: id, endOffset: endOffset})
	return Actions{}
}

// ackResult is what a waiter the high watermark has reached answers (Kafka's
// checkEnoughReplicasReachOffset).
func (s *State) ackResult() error {
	if len(s.isr) < s.cfg.MinInsyncReplicas {
		return kerr.NotEnoughReplicasAfterAppend
	}
	return nil
}

// AckTimedOut completes waiter id with REQUEST_TIMED_OUT if it is still waiting.
func (s *State) AckTimedOut(id uint64) Actions {
	for i, w := range s.acks {
		if w.id == id {
			s.acks = slices.Delete(s.acks, i, i+1)
			return Actions{Completed: []Completion{{ID: id, Err: kerr.RequestTimedOut}}}
		}
	}
	return Actions{}
}

// FollowerFetched records a follower's fetch at fetchOffset (its log end offset) at nowMs, as
// Kafka's Replica.updateFetchState, then advances the high watermark and proposes an ISR
// expansion if the follower is now in sync. Only the leader takes follower fetches, and only from
// a replica of the assignment (NOT_LEADER_OR_FOLLOWER otherwise); an offset beyond the leader's
// log end is OFFSET_OUT_OF_RANGE.
func (s *State) FollowerFetched(id int32, fetchOffset int64, nowMs int64) (Actions, error) {
	return s.followerFetched(id, fetchOffset, nowMs, true)
}

// FollowerFetchedIneligible is FollowerFetched from a follower that may not join the ISR now
// (Kafka's isReplicaIsrEligible: its broker is fenced or shutting down in the metadata image):
// its progress counts, but no ISR expansion is proposed for it. The controller would refuse one
// (INELIGIBLE_REPLICA), and the next fetch would propose it again.
func (s *State) FollowerFetchedIneligible(id int32, fetchOffset int64, nowMs int64) (Actions, error) {
	return s.followerFetched(id, fetchOffset, nowMs, false)
}

func (s *State) followerFetched(id int32, fetchOffset int64, nowMs int64, isrEligible bool) (Actions, error) {
	if s.role != RoleLeader {
		return Actions{}, kerr.NotLeaderForPartition
	}
	f := s.followers[id]
	if f == nil {
		return Actions{}, kerr.NotLeaderForPartition
	}
	if fetchOffset > s.logEndOffset || fetchOffset < 0 {
		return Actions{}, kerr.OffsetOutOfRange
	}
	switch {
	case fetchOffset >= s.logEndOffset:
		f.lastCaughtUpMs = max(f.lastCaughtUpMs, nowMs)
	case f.lastFetchLeaderLEO >= 0 && fetchOffset >= f.lastFetchLeaderLEO:
		f.lastCaughtUpMs = max(f.lastCaughtUpMs, f.lastFetchMs)
	}
	f.lastFetchLeaderLEO, f.lastFetchMs = s.logEndOffset, nowMs
	f.logEndOffset = fetchOffset

	var act Actions
	if isrEligible && s.pending == nil && !slices.Contains(s.isr, id) && s.followerInSync(f) {
		s.pending = &Proposal{LeaderEpoch: s.leaderEpoch, PartitionEpoch: s.partitionEpoch, NewISR: append(slices.Clone(s.isr), id)}
		act.Propose = s.pending
	}
	act.merge(s.leaderProgress(nowMs))
	return act, nil
}

// followerInSync is Kafka's isFollowerInSync for ISR expansion: the follower has everything up to
// the high watermark and everything written before this leader epoch began (so a replica that
// missed the previous epoch's tail cannot join on an old high watermark).
func (s *State) followerInSync(f *follower) bool {
	return f.logEndOffset >= s.highWatermark && f.logEndOffset >= s.epochStartOffset
}

// caughtUp is Kafka's isCaughtUp for ISR shrink: the follower has the leader's log end offset,
// or had it within replica.lag.time.max.ms.
func (s *State) caughtUp(f *follower, nowMs int64) bool {
	return f.logEndOffset == s.logEndOffset || nowMs-f.lastCaughtUpMs <= s.cfg.ReplicaLagTimeMaxMs
}

// MaybeShrinkISR proposes removing the ISR members that have not caught up within
// replica.lag.time.max.ms (the broker runs it every replica.lag.time.max.ms / 2). Nothing while a
// proposal is in flight.
func (s *State) MaybeShrinkISR(nowMs int64) Actions {
	if s.role != RoleLeader || s.pending != nil {
		return Actions{}
	}
	var out []int32
	for _, id := range s.isr {
		if f := s.followers[id]; id != s.localID && (f == nil || !s.caughtUp(f, nowMs)) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return Actions{}
	}
	newISR := slices.DeleteFunc(slices.Clone(s.isr), func(id int32) bool { return slices.Contains(out, id) })
	s.pending = &Proposal{LeaderEpoch: s.leaderEpoch, PartitionEpoch: s.partitionEpoch, NewISR: newISR}
	return Actions{Propose: s.pending}
}

// ProposalFailed clears the proposal in flight after the controller refused it (or it could not
// be sent), so a later event may propose again. A proposal other than the one in flight is ignored.
func (s *State) ProposalFailed(p Proposal) {
	if s.pending != nil && s.pending.LeaderEpoch == p.LeaderEpoch && s.pending.PartitionEpoch == p.PartitionEpoch &&
		slices.Equal(s.pending.NewISR, p.NewISR) {
		s.pending = nil
	}
}

// leaderProgress advances the high watermark to the smallest log end offset of the maximal ISR
// and completes the acks=all waiters it reaches. The high watermark never moves while the
// committed ISR is below min.insync.replicas (KIP-966), and never moves back.
func (s *State) leaderProgress(nowMs int64) Actions {
	_ = nowMs
	if s.role != RoleLeader || len(s.isr) < s.cfg.MinInsyncReplicas {
		return Actions{}
	}
	hw := s.logEndOffset
	// NB: Kafka also waits for a replica that is caught up but not yet in the ISR. Here a caught-up
	// replica is proposed into the ISR in the same event that sees it caught up, and the maximal ISR
	// holds it from then on.
	for _, id := range s.MaximalISR() {
		if id == s.localID {
			continue
		}
		f := s.followers[id]
		if f == nil || f.logEndOffset < 0 {
			return Actions{}
		}
		hw = min(hw, f.logEndOffset)
	}
	if hw <= s.highWatermark {
		return Actions{}
	}
	s.highWatermark = hw
	act := Actions{HighWatermarkChanged: true, HighWatermark: hw, Wake: true}
	n := 0
	for n < len(s.acks) && s.acks[n].endOffset <= hw {
		act.Completed = append(act.Completed, Completion{ID: s.acks[n].id, Err: s.ackResult()})
		n++
	}
	s.acks = slices.Delete(s.acks, 0, n)
	return act
}

// FollowerAppended records the follower's new log end offset after it appended fetched batches
// (or after truncation, when it can go down: the high watermark follows it down then, the one
// case it moves back, as Kafka's truncateTo).
func (s *State) FollowerAppended(logEndOffset int64) Actions {
	if logEndOffset == s.logEndOffset {
		return Actions{}
	}
	s.logEndOffset = logEndOffset
	act := Actions{Wake: true}
	if s.highWatermark > logEndOffset {
		s.highWatermark = logEndOffset
		act.HighWatermarkChanged, act.HighWatermark = true, logEndOffset
	}
	return act
}

// FollowerHighWatermark takes the leader's high watermark from a fetch response: the follower's
// is the smaller of it and its own log end offset, and never moves back.
func (s *State) FollowerHighWatermark(leaderHighWatermark int64) Actions {
	if s.role != RoleFollower {
		return Actions{}
	}
	hw := min(leaderHighWatermark, s.logEndOffset)
	if hw <= s.highWatermark {
		return Actions{}
	}
	s.highWatermark = hw
	return Actions{HighWatermarkChanged: true, HighWatermark: hw, Wake: true}
}

// LogStartOffsetMoved records the local log start offset (retention, DeleteRecords, a follower
// starting over), as the log reports it.
func (s *State) LogStartOffsetMoved(logStartOffset int64) {
	s.logStartOffset = logStartOffset
}

// observeLog takes the log's offsets as they are when the driver holds the partition exclusively
// (a role change): the log is the authority on its own ends.
func (s *State) observeLog(logStartOffset, logEndOffset int64) {
	s.logStartOffset, s.logEndOffset = logStartOffset, logEndOffset
	s.highWatermark = min(s.highWatermark, logEndOffset)
}
