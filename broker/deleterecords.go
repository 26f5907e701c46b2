package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// DeleteRecords v0-2.
	register(21, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.DeleteRecordsRequest) server.Response {
		return server.Response{Msg: b.handleDeleteRecords(r)}
	})
}

func (b *Broker) handleDeleteRecords(r *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			_, p := b.lookup(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				off := rp.Offset
				if off == -1 {
					off = p.log.HighWatermark()
				}
				if off < 0 || off > p.log.HighWatermark() {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				} else if lso, err := p.log.DeleteRecordsBefore(off); err != nil {
					sp.ErrorCode = codeFor(err)
				} else {
					sp.LowWatermark = lso
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
