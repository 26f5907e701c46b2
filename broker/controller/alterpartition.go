package controller

import (
	"slices"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterPartition handles a leader's ISR change (Kafka's ReplicationControlManager.alterPartition, the
// same checks in the same order).
func (c *Controller) alterPartition(req *kmsg.AlterPartitionRequest) (kmsg.Response, error) {
	resp := kmsg.NewPtrAlterPartitionResponse()
	if code := c.checkBrokerEpoch(req.BrokerID, req.BrokerEpoch); code != 0 {
		resp.ErrorCode = code
		return resp, nil
	}
	byID := req.Version >= 2
	for _, rt := range req.Topics {
		out := kmsg.NewAlterPartitionResponseTopic()
		out.Topic, out.TopidID = rt.Topic, rt.TopicID
		var topic *metadata.Topic
		unknown := kerr.UnknownTopicOrPartition.Code
		if byID {
			topic = c.img().TopicByID(rt.TopicID)
			unknown = kerr.UnknownTopicID.Code
		} else {
			topic = c.img().Topic(rt.Topic)
		}
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionResponseTopicPartition()
			op.Partition = rp.Partition
			if topic == nil {
				op.ErrorCode = unknown
				out.Partitions = append(out.Partitions, op)
				continue
			}
			isr := rp.NewISR
			epochs := map[int32]int64{}
			if req.Version >= 3 {
				isr = nil
				for _, e := range rp.NewEpochISR {
					isr = append(isr, e.BrokerID)
					epochs[e.BrokerID] = e.BrokerEpoch
				}
			}
			p := topic.Partition(rp.Partition)
			op.ErrorCode = c.validateAlterPartition(req.BrokerID, p, &rp, isr, epochs)
			if op.ErrorCode == 0 {
				ch := newChange(topic, p)
				ch.isr = isr
				if rp.LeaderRecoveryState != p.LeaderRecoveryState {
					ch.recovery = rp.LeaderRecoveryState
				}
				if err := c.applyChange(ch); err != nil {
					return nil, err
				}
				if err := c.maybeCompleteReassignment(topic.ID, rp.Partition); err != nil {
					return nil, err
				}
			}
			if op.ErrorCode == 0 {
				// The leader learns the state it now leads with (a completed reassignment may have moved
				// leadership away already). Like Kafka, a rejected partition carries only its error.
				cur := c.img().TopicByID(topic.ID).Partition(rp.Partition)
				op.LeaderID, op.LeaderEpoch, op.PartitionEpoch = cur.Leader, cur.LeaderEpoch, cur.PartitionEpoch
				op.ISR = slices.Clone(cur.Isr)
				op.LeaderRecoveryState = cur.LeaderRecoveryState
			}
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp, nil
}

func (c *Controller) validateAlterPartition(broker int32, p *metadata.Partition, rp *kmsg.AlterPartitionRequestTopicPartition, isr []int32, epochs map[int32]int64) int16 {
	switch {
	case p == nil:
		return kerr.UnknownTopicOrPartition.Code
	case rp.LeaderEpoch > p.LeaderEpoch, rp.PartitionEpoch > p.PartitionEpoch:
		// The leader knows a newer state than this controller: this controller is stale.
		return kerr.NotController.Code
	case rp.LeaderEpoch < p.LeaderEpoch:
		return kerr.FencedLeaderEpoch.Code
	case broker != p.Leader:
		return kerr.InvalidRequest.Code
	case rp.PartitionEpoch < p.PartitionEpoch:
		return kerr.InvalidUpdateVersion.Code
	case len(isr) == 0 || !slices.Contains(isr, p.Leader):
		return kerr.InvalidRequest.Code
	}
	for i, b := range isr {
		if slices.Contains(isr[:i], b) || !p.HasReplica(b) {
			return kerr.InvalidRequest.Code
		}
	}
	if rp.LeaderRecoveryState == metadata.LeaderRecoveryRecovering && len(isr) > 1 {
		return kerr.InvalidRequest.Code
	}
	if p.LeaderRecoveryState == metadata.LeaderRecoveryRecovered && rp.LeaderRecoveryState == metadata.LeaderRecoveryRecovering {
		return kerr.InvalidRequest.Code
	}
	if rp.LeaderRecoveryState != metadata.LeaderRecoveryRecovered && rp.LeaderRecoveryState != metadata.LeaderRecoveryRecovering {
		return kerr.InvalidRequest.Code
	}
	for _, b := range isr {
		reg := c.img().Broker(b)
		if reg == nil || !reg.Usable() {
			return kerr.IneligibleReplica.Code
		}
		if e, ok := epochs[b]; ok && e != -1 && e != reg.Epoch {
			return kerr.IneligibleReplica.Code
		}
	}
	return 0
}
