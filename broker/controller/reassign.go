package controller

import (
	"fmt"
	"slices"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// without returns a minus b, keeping a's order.
func without(a, b []int32) []int32 {
	out := []int32{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// intersect returns the members of a also in b, keeping a's order.
func intersect(a, b []int32) []int32 {
	out := []int32{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (c *Controller) alterPartitionAssignments(req *kmsg.AlterPartitionAssignmentsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	allowRF := req.Version < 1 || req.AllowReplicationFactorChange
	for _, rt := range req.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		topic := c.img().Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			var code int16
			var err error
			switch {
			case topic == nil || topic.Partition(rp.Partition) == nil:
				code, err = kerr.UnknownTopicOrPartition.Code, fmt.Errorf("partition %s-%d does not exist", rt.Topic, rp.Partition)
			case rp.Replicas == nil:
				code, err = c.cancelReassignment(topic, topic.Partition(rp.Partition))
			default:
				code, err = c.startReassignment(topic, topic.Partition(rp.Partition), rp.Replicas, allowRF)
			}
			if code == internalErr {
				return nil, err
			}
			if err != nil {
				op.ErrorCode = code
				op.ErrorMessage = strp(err.Error())
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}

// original is the replica set before any reassignment in progress.
func original(p *metadata.Partition) []int32 { return without(p.Replicas, p.AddingReplicas) }

// startReassignment moves partition p towards target: the replicas become target followed by the
// replicas leaving, adding = target − current, removing = current − target (Kafka's way). It completes
// at once when nothing needs to catch up, otherwise when the adding replicas have joined the ISR.
func (c *Controller) startReassignment(t *metadata.Topic, p *metadata.Partition, target []int32, allowRF bool) (int16, error) {
	if err := c.validateAssignment(p.ID, target, 0); err != nil {
		return kerr.InvalidReplicaAssignment.Code, err
	}
	orig := original(p)
	if !allowRF && len(target) != len(orig) {
		return kerr.InvalidReplicationFactor.Code, fmt.Errorf("the replication factor of %s-%d would change from %d to %d", t.Name, p.ID, len(orig), len(target))
	}
	ch := newChange(t, p)
	ch.adding = without(target, orig)
	ch.removing = without(orig, target)
	ch.replicas = append(slices.Clone(target), ch.removing...)
	if len(ch.adding) == 0 && len(ch.removing) == 0 && !p.Reassigning() {
		if slices.Equal(target, p.Replicas) {
			return 0, nil
		}
		// NB: the same replicas in another order, as kafka-reassign-partitions.sh uses to change the
		// preferred leader: Kafka takes the new order at once; leadership follows on the next
		// preferred election (ElectLeaders or auto.leader.rebalance).
		ch.replicas = target
		ch.isr = slices.Clone(p.Isr)
		if err := c.applyChange(ch); err != nil {
			return internalErr, err
		}
		return 0, nil
	}
	if len(ch.adding) == 0 && len(ch.removing) == 0 {
		// Back to the original assignment: the same as a cancel.
		ch.replicas = target
	}
	ch.isr = intersect(p.Isr, ch.replicas)
	if err := c.applyChange(ch); err != nil {
		return internalErr, err
	}
	return 0, c.completeOrInternal(t.ID, p.ID)
}

func (c *Controller) cancelReassignment(t *metadata.Topic, p *metadata.Partition) (int16, error) {
	if !p.Reassigning() {
		return kerr.NoReassignmentInProgress.Code, fmt.Errorf("no reassignment of %s-%d is in progress", t.Name, p.ID)
	}
	ch := newChange(t, p)
	ch.replicas = original(p)
	ch.isr = intersect(p.Isr, ch.replicas)
	ch.adding, ch.removing = []int32{}, []int32{}
	ch.bumpLeaderEpoch = len(p.AddingReplicas) > 0
	if err := c.applyChange(ch); err != nil {
		return internalErr, err
	}
	return 0, nil
}

func (c *Controller) completeOrInternal(id metadata.Uuid, pid int32) error {
	if err := c.maybeCompleteReassignment(id, pid); err != nil {
		return err
	}
	return nil
}

// maybeCompleteReassignment finishes a reassignment whose adding replicas are all in the ISR: the
// replicas become the target, the removed ones leave the ISR (and leadership: a new leader is elected
// from the target), and the leader epoch is bumped when replicas left.
func (c *Controller) maybeCompleteReassignment(id metadata.Uuid, pid int32) error {
	t := c.img().TopicByID(id)
	p := t.Partition(pid)
	if !p.Reassigning() {
		return nil
	}
	for _, a := range p.AddingReplicas {
		if !p.InIsr(a) {
			return nil
		}
	}
	target := without(p.Replicas, p.RemovingReplicas)
	isr := intersect(p.Isr, target)
	if len(isr) == 0 {
		return nil
	}
	ch := newChange(t, p)
	ch.replicas = target
	ch.isr = isr
	ch.adding, ch.removing = []int32{}, []int32{}
	ch.bumpLeaderEpoch = len(p.RemovingReplicas) > 0
	return c.applyChange(ch)
}

func (c *Controller) listPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	add := func(t *metadata.Topic, parts []*metadata.Partition) {
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = t.Name
		for _, p := range parts {
			if p == nil || !p.Reassigning() {
				continue
			}
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = p.ID
			rp.Replicas = slices.Clone(p.Replicas)
			rp.AddingReplicas = slices.Clone(p.AddingReplicas)
			rp.RemovingReplicas = slices.Clone(p.RemovingReplicas)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if req.Topics == nil {
		for _, t := range c.img().Topics() {
			add(t, t.Partitions())
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		t := c.img().Topic(rt.Topic)
		if t == nil {
			continue
		}
		var parts []*metadata.Partition
		for _, pid := range rt.Partitions {
			parts = append(parts, t.Partition(pid))
		}
		add(t, parts)
	}
	return resp, nil
}

// Election types of ElectLeaders (kmsg's ElectionType values).
const (
	electionPreferred int8 = 0
	electionUnclean   int8 = 1
)

func (c *Controller) electLeaders(req *kmsg.ElectLeadersRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrElectLeadersResponse()
	if req.ElectionType != electionPreferred && req.ElectionType != electionUnclean {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	all := req.Topics == nil
	type target struct {
		name string
		pids []int32
	}
	var targets []target
	if all {
		for _, t := range c.img().Topics() {
			tg := target{name: t.Name}
			for _, p := range t.Partitions() {
				tg.pids = append(tg.pids, p.ID)
			}
			targets = append(targets, tg)
		}
	} else {
		for _, rt := range req.Topics {
			targets = append(targets, target{name: rt.Topic, pids: rt.Partitions})
		}
	}
	for _, tg := range targets {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = tg.name
		for _, pid := range tg.pids {
			code, msg, err := c.electOne(tg.name, pid, req.ElectionType)
			if err != nil {
				return nil, err
			}
			if all && code == kerr.ElectionNotNeeded.Code {
				continue // Kafka leaves these out when electing everywhere
			}
			op := kmsg.NewElectLeadersResponseTopicPartition()
			op.Partition, op.ErrorCode = pid, code
			if msg != "" {
				op.ErrorMessage = strp(msg)
			}
			out.Partitions = append(out.Partitions, op)
		}
		if !all || len(out.Partitions) > 0 {
			resp.Topics = append(resp.Topics, out)
		}
	}
	return resp, nil
}

func (c *Controller) electOne(topic string, pid int32, typ int8) (int16, string, error) {
	t := c.img().Topic(topic)
	if t == nil || t.Partition(pid) == nil {
		return kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("partition %s-%d does not exist", topic, pid), nil
	}
	p := t.Partition(pid)
	ch := newChange(t, p)
	if typ == electionPreferred {
		if p.Leader == p.Replicas[0] {
			return kerr.ElectionNotNeeded.Code, "", nil
		}
		ch.election = electPreferred
	} else {
		if p.Leader != metadata.NoLeader {
			return kerr.ElectionNotNeeded.Code, "", nil
		}
		ch.election = electUnclean
	}
	rec := c.buildChange(ch)
	elected := rec != nil && rec.Leader != metadata.NoLeaderChange && rec.Leader != metadata.NoLeader
	if typ == electionPreferred && (!elected || rec.Leader != p.Replicas[0]) {
		return kerr.PreferredLeaderNotAvailable.Code, fmt.Sprintf("preferred replica %d is not available or not in the ISR", p.Replicas[0]), nil
	}
	if !elected {
		return kerr.EligibleLeadersNotAvailable.Code, "no replica is alive", nil
	}
	return 0, "", c.emit(rec)
}

// rebalanceLeaders runs preferred-leader election for brokers whose imbalance (partitions they prefer but
// do not lead, over partitions they prefer) exceeds leader.imbalance.per.broker.percentage — Kafka's
// auto.leader.rebalance check.
func (c *Controller) rebalanceLeaders() error {
	preferred := map[int32]int{}
	notLeading := map[int32][]metadata.TopicPartition{}
	for _, t := range c.img().Topics() {
		for _, p := range t.Partitions() {
			pref := p.Replicas[0]
			preferred[pref]++
			if p.Leader != pref && !p.Reassigning() {
				notLeading[pref] = append(notLeading[pref], metadata.TopicPartition{TopicID: t.ID, Partition: p.ID})
			}
		}
	}
	brokers := make([]int32, 0, len(notLeading))
	for b := range notLeading {
		brokers = append(brokers, b)
	}
	slices.Sort(brokers)
	for _, b := range brokers {
		tps := notLeading[b]
		if len(tps)*100 <= c.cfg.LeaderImbalancePerBroker*preferred[b] || !c.img().IsUsable(b) {
			continue
		}
		for _, tp := range tps {
			t := c.img().TopicByID(tp.TopicID)
			p := t.Partition(tp.Partition)
			if !p.InIsr(b) {
				continue
			}
			ch := newChange(t, p)
			ch.election = electPreferred
			if err := c.applyChange(ch); err != nil {
				return err
			}
		}
	}
	return nil
}
