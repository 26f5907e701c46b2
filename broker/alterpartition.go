package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	replication "github.com/gregor-streams/gregor/broker/partition"
)

// proposalTimeout bounds one AlterPartition send, retries of NOT_CONTROLLER included.
const proposalTimeout = 10 * time.Second

// propose is a KRaft partition leader's Options.Propose: it sends the ISR proposal to the active
// controller on its own goroutine (a partition has at most one proposal in flight). The committed
// ISR comes back through the metadata image; a refused or failed proposal is handed back to the
// partition (ProposalFailed), which proposes again when it still has reason to.
func (a *imageApplier) propose(topic string, index int32, pr replication.Proposal) {
	select {
	case <-a.stop:
		return
	default:
	}
	a.proposals.Add(1)
	go func() {
		defer a.proposals.Done()
		if err := a.sendProposal(topic, index, pr); err != nil {
			a.b.logger.Warn("AlterPartition failed", "topic", topic, "partition", index, "new_isr", pr.NewISR, "err", err)
			if p := a.hosted(topic, index); p != nil {
				p.state.ProposalFailed(pr)
			}
		}
	}()
}

// sendProposal sends one AlterPartition and returns the partition's error, if any.
func (a *imageApplier) sendProposal(topic string, index int32, pr replication.Proposal) error {
	mgr, client := a.mgr.Load(), a.client
	if mgr == nil {
		return errors.New("not registered with the controller yet")
	}
	img := a.leaders.pub.Current()
	t := img.Topic(topic)
	if t == nil {
		return kerr.UnknownTopicOrPartition
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID, req.BrokerEpoch = a.node, mgr.State().BrokerEpoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = topic, t.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = index, pr.LeaderEpoch, pr.PartitionEpoch, pr.NewISR
	for _, id := range pr.NewISR {
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = id, -1
		if br := img.Broker(id); br != nil {
			e.BrokerEpoch = br.Epoch
		}
		rp.NewEpochISR = append(rp.NewEpochISR, e)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), proposalTimeout)
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := client.Send(ctx, req)
	if err != nil {
		return err
	}
	r := resp.(*kmsg.AlterPartitionResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return err
	}
	for _, ot := range r.Topics {
		for _, op := range ot.Partitions {
			if op.Partition == index {
				return kerr.ErrorForCode(op.ErrorCode)
			}
		}
	}
	return nil
}

// shrinkISRs lets every partition led here propose dropping followers that fell behind.
func (a *imageApplier) shrinkISRs() {
	a.mu.Lock()
	parts := make([]*partition, 0, len(a.mu.hosted))
	for _, p := range a.mu.hosted {
		parts = append(parts, p)
	}
	a.mu.Unlock()
	for _, p := range parts {
		p.state.MaybeShrinkISR()
	}
}
