package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// ListOffsets v1-10.
	register(2, 1, 10, func(b *Broker, _ *server.Conn, r *kmsg.ListOffsetsRequest) server.Response {
		return server.Response{Msg: b.handleListOffsets(r)}
	})
	// OffsetForLeaderEpoch v0-4.
	register(23, 0, 4, func(b *Broker, _ *server.Conn, r *kmsg.OffsetForLeaderEpochRequest) server.Response {
		return server.Response{Msg: b.handleOffsetForLeaderEpoch(r)}
	})
}

// epochError checks a request's current_leader_epoch against the partition's (-1: not checked).
func (b *Broker) handleListOffsets(r *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			t, p := b.lookup(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = codeFor(b.missingPartitionError(t, rp.Partition))
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			_, leaderEpoch, err := p.state.CheckEpoch(rp.CurrentLeaderEpoch, true)
			if err != nil {
				sp.ErrorCode = codeFor(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			l := p.log
			switch rp.Timestamp {
			case -1, -5: // latest (visible: HW; with no transactions LSO = HW)
				sp.Offset, sp.LeaderEpoch = l.HighWatermark(), leaderEpoch
			case -2, -4: // earliest, earliest local
				sp.Offset, sp.LeaderEpoch = l.LogStartOffset(), leaderEpoch
			case -3: // max timestamp (KIP-734)
				off, ts := l.MaxTimestamp()
				sp.Offset, sp.Timestamp = off, ts
				if off >= 0 {
					sp.LeaderEpoch = leaderEpoch
				}
			default:
				if rp.Timestamp < 0 {
					sp.ErrorCode = kerr.InvalidRequest.Code
					break
				}
				off, ts, epoch, err := l.OffsetForTimestamp(rp.Timestamp)
				if err != nil {
					sp.ErrorCode = codeFor(err)
					break
				}
				if off >= l.HighWatermark() {
					off, ts, epoch = -1, -1, -1
				}
				sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, ts, epoch
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
func (b *Broker) handleOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			t, p := b.lookup(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = codeFor(b.missingPartitionError(t, rp.Partition))
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			_, leaderEpoch, err := p.state.CheckEpoch(rp.CurrentLeaderEpoch, true)
			if err != nil {
				sp.ErrorCode = codeFor(err)
			} else {
				sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
				if sp.LeaderEpoch == -1 && rp.LeaderEpoch >= leaderEpoch {
					// Nothing written yet in this (current) epoch: Kafka answers with the LEO.
					sp.LeaderEpoch, sp.EndOffset = leaderEpoch, p.log.LogEndOffset()
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
