package partition

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPropertyHighWatermarkAndAcks drives a leader of three replicas with random event sequences
// (appends, follower fetches at lagging positions, time, ISR shrink and expansion proposals the
// controller commits or refuses, acks=all waiters and their timeouts, leadership leaving and
// returning) and checks after every event that: the high watermark never moves back; whenever it
// moves it is at most the leader's log end and every committed ISR member's, and the ISR is at
// least min.insync.replicas; every committed ISR member has everything below it; an acks=all produce succeeds only when every committed ISR member has
// it and the ISR is at least min.insync.replicas; every waiter completes exactly once.
func TestPropertyHighWatermarkAndAcks(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		if err := runProperty(uint64(seed), 300); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

type propSim struct {
	rng       *rand.Rand
	s         *State
	now       int64
	followers map[int32]int64 // each follower's true log end offset
	ackEnd    map[uint64]int64
	done      map[uint64]bool
	nextAck   uint64
	epoch     int32
	pepoch    int32
	hw        int64
	minISR    int
	trace     []string
}

func runProperty(seed uint64, steps int) error {
	rng := rand.New(rand.NewPCG(seed, seed*7919+1))
	minISR := 1 + rng.IntN(3)
	sim := &propSim{
		rng: rng, s: NewState(1, Config{MinInsyncReplicas: minISR, ReplicaLagTimeMaxMs: 100}, 0, 0, 0),
		followers: map[int32]int64{2: 0, 3: 0}, ackEnd: map[uint64]int64{}, done: map[uint64]bool{},
		epoch: 1, pepoch: 1, minISR: minISR,
	}
	if _, err := sim.s.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}, 0); err != nil {
		return err
	}
	for range steps {
		if err := sim.step(); err != nil {
			return fmt.Errorf("%w\ntrace (last 30):\n%s", err, joinLast(sim.trace, 30))
		}
	}
	// Whatever still waits times out, once.
	for id := range sim.ackEnd {
		if !sim.done[id] {
			if err := sim.check(fmt.Sprintf("timeout %d", id), sim.s.AckTimedOut(id)); err != nil {
				return err
			}
			if !sim.done[id] {
				return fmt.Errorf("waiter %d never completed", id)
			}
		}
	}
	return nil
}

func joinLast(lines []string, n int) string {
	out := ""
	for _, l := range lines[max(0, len(lines)-n):] {
		out += "  " + l + "\n"
	}
	return out
}

func (m *propSim) step() error {
	s := m.s
	m.now += int64(m.rng.IntN(40))
	switch r := m.rng.IntN(100); {
	case r < 25: // a produce
		acks := int16(1)
		if m.rng.IntN(2) == 0 {
			acks = -1
		}
		if err := s.CheckProduce(acks); err != nil {
			m.trace = append(m.trace, fmt.Sprintf("produce acks=%d refused: %v", acks, err))
			if s.role == RoleLeader && acks == -1 && len(s.isr) >= m.minISR {
				return fmt.Errorf("acks=all refused with ISR %v >= %d", s.isr, m.minISR)
			}
			return nil
		}
		end := s.logEndOffset + 1 + int64(m.rng.IntN(5))
		act := s.LeaderAppended(end, m.now)
		if err := m.check(fmt.Sprintf("append leo=%d", end), act); err != nil {
			return err
		}
		if acks == -1 {
			m.nextAck++
			m.ackEnd[m.nextAck] = end
			return m.check(fmt.Sprintf("ack %d end=%d", m.nextAck, end), s.AddAckWaiter(m.nextAck, end))
		}
	case r < 65: // a follower fetches, possibly after catching up some
		id := int32(2 + m.rng.IntN(2))
		if m.rng.IntN(4) == 0 {
			return nil // this one is slow
		}
		leo := m.followers[id]
		if s.logEndOffset > leo {
			leo += int64(m.rng.IntN(int(s.logEndOffset-leo) + 1))
		}
		m.followers[id] = leo
		act, err := s.FollowerFetched(id, leo, m.now)
		if err != nil && s.role == RoleLeader {
			return fmt.Errorf("fetch of %d at %d: %v", id, leo, err)
		}
		return m.check(fmt.Sprintf("fetch r%d at %d", id, leo), act)
	case r < 75:
		return m.check("shrink", s.MaybeShrinkISR(m.now))
	case r < 88: // the controller decides the proposal in flight
		if s.pending == nil {
			return nil
		}
		p := *s.pending
		if m.rng.IntN(4) == 0 {
			s.ProposalFailed(p)
			m.trace = append(m.trace, "proposal refused")
			return nil
		}
		m.pepoch++
		act, err := s.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: m.epoch, PartitionEpoch: m.pepoch, Replicas: []int32{1, 2, 3}, ISR: p.NewISR}, m.now)
		if err != nil {
			return err
		}
		return m.check(fmt.Sprintf("commit isr=%v", p.NewISR), act)
	case r < 95: // a waiter times out
		for id := range m.ackEnd {
			if !m.done[id] {
				return m.check(fmt.Sprintf("timeout %d", id), s.AckTimedOut(id))
			}
		}
	case r < 97: // leadership leaves and comes back with the same ISR (no truncation here)
		m.epoch++
		m.pepoch++
		act, err := s.ApplyAssignment(Assignment{Leader: 2, LeaderEpoch: m.epoch, PartitionEpoch: m.pepoch, Replicas: []int32{1, 2, 3}, ISR: s.isr}, m.now)
		if err != nil {
			return err
		}
		if err := m.check("leader -> 2", act); err != nil {
			return err
		}
		if s.role != RoleFollower {
			return fmt.Errorf("role %v after another leader", s.role)
		}
		m.epoch++
		m.pepoch++
		isr := []int32{1}
		for _, id := range []int32{2, 3} {
			if m.followers[id] >= s.logEndOffset || m.rng.IntN(2) == 0 {
				// NB: the controller elects from the ISR; a member may lag the leader's end, never
				// the high watermark (it had everything committed).
				if m.followers[id] >= s.highWatermark {
					isr = append(isr, id)
				}
			}
		}
		act, err = s.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: m.epoch, PartitionEpoch: m.pepoch, Replicas: []int32{1, 2, 3}, ISR: isr}, m.now)
		if err != nil {
			return err
		}
		return m.check(fmt.Sprintf("leader -> 1 isr=%v", isr), act)
	default:
		return nil
	}
	return nil
}

// check applies the invariants to the actions of one event.
func (m *propSim) check(event string, act Actions) error {
	s := m.s
	m.trace = append(m.trace, fmt.Sprintf("%-24s -> %s", event, formatState(s)))
	if s.highWatermark < m.hw {
		return fmt.Errorf("%s: high watermark moved back %d -> %d", event, m.hw, s.highWatermark)
	}
	if act.HighWatermarkChanged != (s.highWatermark != m.hw) || (act.HighWatermarkChanged && act.HighWatermark != s.highWatermark) {
		return fmt.Errorf("%s: actions say hw %v/%d, state %d (was %d)", event, act.HighWatermarkChanged, act.HighWatermark, s.highWatermark, m.hw)
	}
	if s.highWatermark != m.hw {
		if len(s.isr) < m.minISR {
			return fmt.Errorf("%s: high watermark advanced to %d with ISR %v < min.insync.replicas %d", event, s.highWatermark, s.isr, m.minISR)
		}
		if s.highWatermark > s.logEndOffset {
			return fmt.Errorf("%s: high watermark %d beyond the log end %d", event, s.highWatermark, s.logEndOffset)
		}
		for _, id := range s.isr {
			if id != 1 && m.followers[id] < s.highWatermark {
				return fmt.Errorf("%s: high watermark %d beyond ISR member %d's log end %d", event, s.highWatermark, id, m.followers[id])
			}
		}
		m.hw = s.highWatermark
	}
	for _, c := range act.Completed {
		if m.done[c.ID] {
			return fmt.Errorf("%s: waiter %d completed twice", event, c.ID)
		}
		m.done[c.ID] = true
		if c.Err != nil {
			continue
		}
		end := m.ackEnd[c.ID]
		if len(s.isr) < m.minISR {
			return fmt.Errorf("%s: waiter %d succeeded with ISR %v < %d", event, c.ID, s.isr, m.minISR)
		}
		for _, id := range s.isr {
			if id != 1 && m.followers[id] < end {
				return fmt.Errorf("%s: waiter %d (end %d) succeeded but ISR member %d has only %d", event, c.ID, end, id, m.followers[id])
			}
		}
		if end > s.highWatermark {
			return fmt.Errorf("%s: waiter %d (end %d) succeeded above the high watermark %d", event, c.ID, end, s.highWatermark)
		}
	}
	// A committed ISR member always has everything below the high watermark: an expansion commits
	// only members the maximal ISR already held the high watermark for.
	for _, id := range s.isr {
		if id != 1 && s.role == RoleLeader && m.followers[id] < s.highWatermark {
			return fmt.Errorf("%s: ISR member %d has %d, below the high watermark %d", event, id, m.followers[id], s.highWatermark)
		}
	}
	if !slices.Contains(s.isr, 1) && s.role == RoleLeader {
		return fmt.Errorf("%s: leader not in its ISR %v", event, s.isr)
	}
	return nil
}
