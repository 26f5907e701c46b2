package broker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/log"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// Produce v3-13 (v13: topic IDs); acks=0 is not answered.
	register(0, 3, 13, func(b *Broker, c *server.Conn, r *kmsg.ProduceRequest) server.Response {
		resp := b.handleProduce(r, c.Body.Checksum, c.Done)
		if r.Acks == 0 {
			return server.Response{}
		}
		return server.Response{Msg: resp}
	})
}

// pendingAck is an acks=all partition of a produce waiting for its ISR.
type pendingAck struct {
	topic, partition int // indexes into the response
	ack              *replication.Ack
}

// handleProduce appends each partition's batches through its replica state; sum gives batch CRCs
// from the request body's chunk sums (nil: hash the batches). An acks=all produce then waits, up to
// the request's timeout or until cancel is closed, for every appended partition's ISR.
func (b *Broker) handleProduce(r *kmsg.ProduceRequest, sum log.Checksum, cancel <-chan struct{}) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	var acks []pendingAck
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t := b.topicByNameOrID(r.Version >= 13, rt.Topic, rt.TopicID)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			ack, err := b.producePartition(r, t, rp, &sp, sum)
			setProduceError(&sp, err)
			if sp.ErrorCode == kerr.NotLeaderForPartition.Code && r.Version >= 10 {
				// KIP-951: tell the client where the partition's leader is.
				if leader, epoch, ep, ok := b.currentLeader(t, rp.Partition); ok {
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = leader, epoch
					if !slices.ContainsFunc(resp.Brokers, func(br kmsg.ProduceResponseBroker) bool { return br.NodeID == leader }) {
						br := kmsg.NewProduceResponseBroker()
						br.NodeID, br.Host, br.Port, br.Rack = ep.nodeID, ep.host, ep.port, ep.rack
						resp.Brokers = append(resp.Brokers, br)
					}
				}
			}
			if ack != nil {
				acks = append(acks, pendingAck{topic: i, partition: j, ack: ack})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(acks) > 0 {
		deadline := time.Now().Add(time.Duration(max(r.TimeoutMillis, 0)) * time.Millisecond)
		for _, a := range acks {
			setProduceError(&resp.Topics[a.topic].Partitions[a.partition], a.ack.Wait(time.Until(deadline), cancel))
		}
	}
	return resp
}

// setProduceError answers err (nil: nothing) for one partition of a produce.
func setProduceError(sp *kmsg.ProduceResponseTopicPartition, err error) {
	if err == nil {
		return
	}
	sp.ErrorCode = codeFor(err)
	sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
	var ke *kerr.Error
	if !errors.As(err, &ke) || err.Error() != ke.Error() {
		msg := err.Error()
		sp.ErrorMessage = &msg
	}
}

// producePartition appends one partition's batches as the leader. For acks=all it returns the Ack
// to wait on.
func (b *Broker) producePartition(r *kmsg.ProduceRequest, t *topic, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, sum log.Checksum) (*replication.Ack, error) {
	if t == nil {
		if r.Version >= 13 {
			return nil, apiErr(kerr.UnknownTopicID, "unknown topic id")
		}
		return nil, apiErr(kerr.UnknownTopicOrPartition, "unknown topic")
	}
	if isInternalTopic(t.name) {
		return nil, apiErr(kerr.InvalidTopicException, "cannot append to internal topic %s", t.name)
	}
	p := b.partitionOf(t, rp.Partition)
	if p == nil {
		return nil, b.missingPartitionError(t, rp.Partition)
	}
	switch r.Acks {
	case -1, 0, 1:
	default:
		return nil, apiErr(kerr.InvalidRequiredAcks, "acks must be -1, 0 or 1, got %d", r.Acks)
	}
	if len(rp.Records) == 0 {
		return nil, apiErr(kerr.CorruptMessage, "no record batch in the request")
	}
	var res log.AppendResult
	ack, err := p.state.AppendAsLeader(r.Acks, func(leaderEpoch int32) (int64, error) {
		var err error
		res, err = p.log.AppendChecked(rp.Records, leaderEpoch, sum)
		return res.LastOffset + 1, err
	})
	switch {
	case errors.Is(err, kerr.NotEnoughReplicas):
		return nil, apiErr(kerr.NotEnoughReplicas, "%s-%d: the in-sync replicas are fewer than min.insync.replicas", t.name, p.index)
	case err != nil:
		return nil, fmt.Errorf("%s-%d: %w", t.name, p.index, err)
	}
	b.metrics.Topic(t.name).Produced(len(rp.Records), res.Records)
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return ack, nil
}
