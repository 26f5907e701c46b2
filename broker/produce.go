package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/gregor-streams/gregor/broker/log"
)

// handleProduce appends each partition's batches; sum gives batch CRCs from the request body's
// chunk sums (nil: hash the batches).
func (b *Broker) handleProduce(r *kmsg.ProduceRequest, sum plog.Checksum) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	appended := false
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t := b.topicByNameOrID(r.Version >= 13, rt.Topic, rt.TopicID)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			code, msg := b.producePartition(r, t, rp, &sp, sum)
			sp.ErrorCode = code
			if code != 0 {
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
				if msg != "" {
					sp.ErrorMessage = &msg
				}
			} else {
				appended = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if appended {
		b.notifyData()
	}
	return resp
}

func (b *Broker) producePartition(r *kmsg.ProduceRequest, t *topic, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, sum plog.Checksum) (int16, string) {
	if t == nil {
		if r.Version >= 13 {
			return kerr.UnknownTopicID.Code, "unknown topic id"
		}
		return kerr.UnknownTopicOrPartition.Code, "unknown topic"
	}
	if isInternalTopic(t.name) {
		return kerr.InvalidTopicException.Code, fmt.Sprintf("cannot append to internal topic %s", t.name)
	}
	b.mu.RLock()
	var p *partition
	if rp.Partition >= 0 && int(rp.Partition) < len(t.partitions) {
		p = t.partitions[rp.Partition]
	}
	minISR := t.configs["min.insync.replicas"]
	b.mu.RUnlock()
	if p == nil {
		return kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %s has no partition %d", t.name, rp.Partition)
	}
	switch r.Acks {
	case -1, 0, 1:
	default:
		return kerr.InvalidRequiredAcks.Code, fmt.Sprintf("acks must be -1, 0 or 1, got %d", r.Acks)
	}
	// Single node: the ISR is this broker alone.
	if r.Acks == -1 && (minISR != "" && minISR != "1" || minISR == "" && b.cfg.MinInsyncReplicas > 1) {
		return kerr.NotEnoughReplicas.Code, "min.insync.replicas exceeds the in-sync replicas (1)"
	}
	if len(rp.Records) == 0 {
		return kerr.CorruptMessage.Code, "no record batch in the request"
	}
	res, err := p.log.AppendChecked(rp.Records, p.leaderEpoch, sum)
	if err != nil {
		return codeFor(err), fmt.Sprintf("%s-%d: %v", t.name, p.index, err)
	}
	// Single node: a record is committed as soon as it is in the leader's log.
	p.log.SetHighWatermark(p.log.LogEndOffset())
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	return 0, ""
}
