package controller

import (
	"slices"
	"strconv"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// election says how a partition change picks its leader.
type election int

const (
	// electOnline keeps a leader that is still acceptable, otherwise elects the first acceptable replica
	// in the ISR (unclean if the topic allows it).
	electOnline election = iota
	// electPreferred moves leadership to the first replica when it is acceptable and in the ISR.
	electPreferred
	// electUnclean is electOnline that falls back to any acceptable replica, whatever the topic says.
	electUnclean
)

// change describes a wanted change to one partition; buildChange turns it into a record.
type change struct {
	topic *metadata.Topic
	part  *metadata.Partition
	// isr replaces the ISR when non-nil (AlterPartition).
	isr []int32
	// remove is a broker to take out of the ISR and leadership (fenced, shutting down), -1 for none.
	remove int32
	// replicas, adding, removing replace the replica sets when non-nil (reassignment).
	replicas, adding, removing []int32
	election                   election
	// bumpLeaderEpoch forces a new leader epoch even if the leader stays (fences stale requests after a
	// replica set change).
	bumpLeaderEpoch bool
	// recovery replaces LeaderRecoveryState when not NoLeaderRecoveryChange.
	recovery int8
}

func newChange(t *metadata.Topic, p *metadata.Partition) change {
	return change{topic: t, part: p, remove: -1, election: electOnline, recovery: metadata.NoLeaderRecoveryChange}
}

// acceptableLeader: registered, unfenced, not shutting down, and not the broker being removed.
func (c *Controller) acceptableLeader(ch *change, b int32) bool {
	return b != ch.remove && c.img().IsUsable(b)
}

// uncleanAllowed reports whether the topic allows electing a replica outside the ISR.
func (c *Controller) uncleanAllowed(topic string) bool {
	if v, ok := c.img().Config(metadata.TopicResource(topic), "unclean.leader.election.enable"); ok {
		b, err := strconv.ParseBool(v)
		return err == nil && b
	}
	if v, ok := c.img().Config(metadata.BrokerResource(-1), "unclean.leader.election.enable"); ok {
		b, err := strconv.ParseBool(v)
		return err == nil && b
	}
	return c.cfg.UncleanLeaderElection
}

// buildChange computes the PartitionChangeRecord for ch, or nil when nothing changes. Rules (Kafka's
// PartitionChangeBuilder, without ELR):
//   - the removed broker leaves the ISR, except that the last ISR member stays when no leader can be
//     elected, so the partition can come back with it;
//   - the leader is kept if still acceptable and in the ISR; otherwise the first replica (in replica
//     order) that is acceptable and in the ISR; for electPreferred the first replica if acceptable and in
//     the ISR; failing all that, unclean election (if allowed) picks the first acceptable replica, makes
//     it the whole ISR and marks the partition RECOVERING; else NoLeader.
func (c *Controller) buildChange(ch change) *metadata.PartitionChangeRecord {
	p := ch.part
	replicas := p.Replicas
	if ch.replicas != nil {
		replicas = ch.replicas
	}
	isr := p.Isr
	if ch.isr != nil {
		isr = ch.isr
	}
	if ch.remove >= 0 && slices.Contains(isr, ch.remove) {
		isr = slices.DeleteFunc(slices.Clone(isr), func(b int32) bool { return b == ch.remove })
	}
	// The ISR never holds a broker that is not a replica.
	isr = slices.DeleteFunc(slices.Clone(isr), func(b int32) bool { return !slices.Contains(replicas, b) })

	leader := p.Leader
	recovery := ch.recovery
	leaderOK := leader >= 0 && slices.Contains(isr, leader) && c.acceptableLeader(&ch, leader)
	switch {
	case ch.election == electPreferred:
		if pref := replicas[0]; pref != leader && slices.Contains(isr, pref) && c.acceptableLeader(&ch, pref) {
			leader = pref
		} else if !leaderOK {
			leader = c.electFromIsr(&ch, replicas, isr)
		}
	case !leaderOK:
		leader = c.electFromIsr(&ch, replicas, isr)
		if leader == metadata.NoLeader && (ch.election == electUnclean || c.uncleanAllowed(ch.topic.Name)) {
			for _, r := range replicas {
				if c.acceptableLeader(&ch, r) {
					leader = r
					isr = []int32{r}
					recovery = metadata.LeaderRecoveryRecovering
					break
				}
			}
		}
	}
	if leader == metadata.NoLeader && len(isr) == 0 {
		// NB: keep the last ISR member (Kafka does the same): it has every committed record, and only it
		// may lead cleanly when it returns.
		if ch.remove >= 0 && slices.Contains(p.Isr, ch.remove) && slices.Contains(replicas, ch.remove) {
			isr = []int32{ch.remove}
		} else {
			isr = slices.DeleteFunc(slices.Clone(p.Isr), func(b int32) bool { return !slices.Contains(replicas, b) })
		}
	}

	rec := &metadata.PartitionChangeRecord{
		PartitionID: p.ID, TopicID: ch.topic.ID, Leader: metadata.NoLeaderChange,
		LeaderRecoveryState: metadata.NoLeaderRecoveryChange,
	}
	changed := false
	if leader != p.Leader || ch.bumpLeaderEpoch {
		rec.Leader = leader
		changed = true
	}
	if !slices.Equal(isr, p.Isr) {
		rec.Isr = nonNil(isr)
		changed = true
	}
	if ch.replicas != nil && !slices.Equal(ch.replicas, p.Replicas) {
		rec.Replicas = ch.replicas
		changed = true
	}
	if ch.adding != nil && !slices.Equal(ch.adding, p.AddingReplicas) {
		rec.AddingReplicas = nonNil(ch.adding)
		changed = true
	}
	if ch.removing != nil && !slices.Equal(ch.removing, p.RemovingReplicas) {
		rec.RemovingReplicas = nonNil(ch.removing)
		changed = true
	}
	if recovery != metadata.NoLeaderRecoveryChange && recovery != p.LeaderRecoveryState {
		rec.LeaderRecoveryState = recovery
		changed = true
	}
	if !changed {
		return nil
	}
	return rec
}

func (c *Controller) electFromIsr(ch *change, replicas, isr []int32) int32 {
	for _, r := range replicas {
		if slices.Contains(isr, r) && c.acceptableLeader(ch, r) {
			return r
		}
	}
	return metadata.NoLeader
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// applyChange builds and emits the change, if any.
func (c *Controller) applyChange(ch change) error {
	if rec := c.buildChange(ch); rec != nil {
		return c.emit(rec)
	}
	return nil
}

// removeFromAll takes broker out of every ISR and leadership (fence, controlled shutdown,
// re-registration), electing new leaders where it led.
func (c *Controller) removeFromAll(broker int32) error {
	for _, t := range c.img().Topics() {
		for _, p := range t.Partitions() {
			if !p.InIsr(broker) && p.Leader != broker {
				continue
			}
			ch := newChange(t, p)
			ch.remove = broker
			if err := c.applyChange(ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// electLeaderless elects leaders for leaderless partitions (after a broker is unfenced).
func (c *Controller) electLeaderless() error {
	for _, t := range c.img().Topics() {
		for _, p := range t.Partitions() {
			if p.Leader != metadata.NoLeader {
				continue
			}
			if err := c.applyChange(newChange(t, p)); err != nil {
				return err
			}
		}
	}
	return nil
}
