package controller

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// MetadataTopicID is __cluster_metadata's topic ID, Kafka's Uuid.METADATA_TOPIC_ID (0, 1).
var MetadataTopicID = [16]byte{15: 1}

// maxFetchWait bounds a metadata Fetch's long poll whatever MaxWaitMillis asks.
const maxFetchWait = 10 * time.Second

// fetchMetadata answers Kafka's Fetch on __cluster_metadata-0 for observers (broker-only nodes): the
// committed batches from FetchOffset (a quorum index) as record batches (metadata.AppendLogBatch),
// long-polling up to MaxWaitMillis when there is nothing new. Only the quorum leader serves it;
// others answer NOT_LEADER_OR_FOLLOWER with the leader in CurrentLeader. A FetchOffset below the
// log start gets the latest snapshot's ID (SnapshotID), to fetch with FetchSnapshot. NB: only
// committed batches are served, so an observer never needs to truncate (no DivergingEpoch).
func (h *Handler) fetchMetadata(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	wait := min(time.Duration(max(req.MaxWaitMillis, 0))*time.Millisecond, maxFetchWait)
	// NB: derived from the runtime's context, so Server.Close does not wait out a long poll.
	ctx, cancel := context.WithTimeout(h.node.ctx, wait)
	defer cancel()
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		byID := req.Version >= 13
		isMetadata := !byID && rt.Topic == MetadataTopic || byID && rt.TopicID == MetadataTopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
			switch {
			case !isMetadata && byID:
				p.ErrorCode = kerr.UnknownTopicID.Code
			case !isMetadata || rp.Partition != 0:
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				replica := req.ReplicaID
				if req.Version >= 15 {
					replica = req.ReplicaState.ID
				}
				h.readMetadata(ctx, &p, replica, rp.FetchOffset, rp.PartitionMaxBytes)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (h *Handler) readMetadata(ctx context.Context, p *kmsg.FetchResponseTopicPartition, replica int32, from int64, maxBytes int32) {
	q := h.node.Quorum()
	if !h.leads(&p.ErrorCode, &p.CurrentLeader.LeaderID, &p.CurrentLeader.LeaderEpoch) {
		return
	}
	h.noteObserver(replica, from)
	next := uint64(max(from, 0))
	for {
		// NB: the commit index is loaded before the read: when the read finds nothing, the indexes up
		// to it hold only raft's own entries, and the reader is told to move past them (HighWatermark).
		commit := q.CommitIndex()
		p.HighWatermark, p.LastStableOffset = int64(commit)+1, int64(commit)+1
		p.LogStartOffset = 0
		if snap, ok := q.LatestSnapshot(); ok {
			p.LogStartOffset = int64(snap.Index) + 1
		}
		batches, err := q.ReadCommitted(next, uint64(max(maxBytes, 1)))
		if errors.Is(err, quorum.ErrOffsetCompacted) {
			if snap, ok := q.LatestSnapshot(); ok {
				p.SnapshotID.EndOffset, p.SnapshotID.Epoch = int64(snap.Index)+1, int32(snap.Term)
				return
			}
			p.ErrorCode = kerr.OffsetOutOfRange.Code
			return
		}
		if err != nil {
			h.logger.Warn("metadata fetch failed", "offset", next, "err", err)
			p.ErrorCode = kerr.UnknownServerError.Code
			return
		}
		if len(batches) > 0 {
			for _, b := range batches {
				p.RecordBatches = metadata.AppendLogBatch(p.RecordBatches, metadata.LogBatch{Offset: int64(b.Index), Epoch: int32(b.Term), Records: b.Records})
			}
			return
		}
		next = max(next, commit+1)
		if q.WaitCommitted(ctx, next) != nil {
			return
		}
	}
}

// leads reports whether this node leads the quorum; if not it sets NOT_LEADER_OR_FOLLOWER and the
// leader hint.
func (h *Handler) leads(code *int16, leaderID, leaderEpoch *int32) bool {
	st := h.node.Status()
	if st.LeaderID == st.NodeID {
		return true
	}
	*code = kerr.NotLeaderForPartition.Code
	*leaderID, *leaderEpoch = st.LeaderID, int32(st.LeaderEpoch)
	return false
}

// fetchSnapshot answers FetchSnapshot on __cluster_metadata-0: a chunk of the latest snapshot (the
// bytes of metadata.AppendSnapshot) from Position, up to MaxBytes.
func (h *Handler) fetchSnapshot(req *kmsg.FetchSnapshotRequest) *kmsg.FetchSnapshotResponse {
	resp := kmsg.NewPtrFetchSnapshotResponse()
	q := h.node.Quorum()
	for _, rt := range req.Topics {
		t := kmsg.NewFetchSnapshotResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchSnapshotResponseTopicPartition()
			p.Partition = rp.Partition
			p.SnapshotID.EndOffset, p.SnapshotID.Epoch = rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch
			snap, ok := q.LatestSnapshot()
			switch {
			case rt.Topic != MetadataTopic || rp.Partition != 0:
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !h.leads(&p.ErrorCode, &p.CurrentLeader.LeaderID, &p.CurrentLeader.LeaderEpoch):
			case !ok || int64(snap.Index)+1 != rp.SnapshotID.EndOffset || int32(snap.Term) != rp.SnapshotID.Epoch:
				p.ErrorCode = kerr.SnapshotNotFound.Code
			case rp.Position < 0 || rp.Position > int64(len(snap.Image)):
				p.ErrorCode = kerr.PositionOutOfRange.Code
			default:
				end := min(int64(len(snap.Image)), rp.Position+int64(max(req.MaxBytes, 1)))
				p.Size, p.Position = int64(len(snap.Image)), rp.Position
				p.Bytes = snap.Image[rp.Position:end]
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}
