package replica

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/fetchsession"
	plog "github.com/gregor-streams/gregor/broker/log"
)

// fetch sends one Fetch as replica for ps and applies the answer partition by partition.
func (f *Fetcher) fetch(ps []followed) {
	req := kmsg.NewPtrFetchRequest()
	// NB: both replica fields are set; the encoder writes the one the negotiated version has
	// (ReplicaID below v15, ReplicaState from v15, KIP-903).
	req.ReplicaID = f.cfg.ReplicaID
	req.ReplicaState.ID, req.ReplicaState.Epoch = f.cfg.ReplicaID, f.cfg.BrokerEpoch()
	req.MaxWaitMillis = int32(f.cfg.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = f.cfg.MinBytes, f.cfg.MaxBytes
	want := make([]fetchsession.Want, 0, len(ps))
	for _, p := range ps {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.FetchOffset = p.tp.Partition, p.leaderEpoch, p.fetchOffset
		rp.LogStartOffset, rp.PartitionMaxBytes = p.log.LogStartOffset(), f.cfg.PartitionMaxBytes
		// KIP-320: the epoch of our last batch; a leader whose log diverged from ours there answers
		// DivergingEpoch instead of records, and we truncate by epoch again.
		rp.LastFetchedEpoch = p.log.LatestEpoch()
		want = append(want, fetchsession.Want{Topic: p.tp.Topic, TopicID: p.tp.TopicID, Partition: rp})
	}
	// KIP-227: the request names only partitions added or changed since the last one; the
	// leader answers only partitions with something new (absent ones are handled as such below).
	f.session.Build(req, want)
	kresp, err := f.client.Request(f.ctx, req)
	if err != nil {
		f.session.HandleError()
		if f.ctx.Err() == nil {
			f.backoffAll(ps, err)
		}
		return
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := f.session.HandleResponse(resp); err != nil {
		if !fetchsession.IsSessionError(err) { // a session error: the next fetch is full, at once
			f.backoffAll(ps, err)
		}
		return
	}
	byID := map[[16]byte]string{}
	for _, p := range ps {
		byID[p.tp.TopicID] = p.tp.Topic
	}
	answers := map[TopicPartition]*kmsg.FetchResponseTopicPartition{}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		name := t.Topic
		if name == "" {
			name = byID[t.TopicID]
		}
		for j := range t.Partitions {
			answers[TopicPartition{Topic: name, Partition: t.Partitions[j].Partition}] = &t.Partitions[j]
		}
	}
	for _, p := range ps {
		rp := answers[TopicPartition{Topic: p.tp.Topic, Partition: p.tp.Partition}]
		switch {
		case rp == nil:
			// Not in the response (a size limit): fetched next time.
		case rp.ErrorCode == kerr.OffsetOutOfRange.Code:
			f.outOfRange(p)
		case rp.ErrorCode != 0:
			f.partitionError(p, rp.ErrorCode)
		case rp.DivergingEpoch.EndOffset >= 0 && rp.DivergingEpoch.Epoch >= 0:
			// KIP-320: our log diverged from the leader's: truncate by epoch (OffsetForLeaderEpoch,
			// which answers the same end offset) before fetching again.
			// NB: diverging again at the offset the last truncation left us at means truncating
			// cannot resolve it (a bug on either side); back off rather than loop at full speed.
			again := p.divergedAt == p.fetchOffset
			f.update(p, func(cur *followed) { cur.truncating, cur.divergedAt = true, p.fetchOffset })
			if again {
				f.log.Warn("leader answers DivergingEpoch again after truncation; backing off", "partition", p.tp.String(),
					"fetchOffset", p.fetchOffset, "divergingEpoch", rp.DivergingEpoch.Epoch, "divergingEndOffset", rp.DivergingEpoch.EndOffset)
				f.backoff(p, errors.New("diverging again after truncation"))
			}
		default:
			f.apply(p, rp)
		}
	}
}

// apply appends a partition's fetched batches and takes the leader's high watermark.
func (f *Fetcher) apply(p followed, rp *kmsg.FetchResponseTopicPartition) {
	batches := batchesFrom(rp.RecordBatches, p.fetchOffset)
	err := p.part.Follow(p.leaderEpoch, func() (int64, error) {
		if len(batches) == 0 {
			return p.log.LogEndOffset(), nil
		}
		_, err := p.log.AppendAsFollower(batches)
		if base := int64(binary.BigEndian.Uint64(batches)); errors.Is(err, plog.ErrUnexpectedAppendOffset) &&
			p.log.LogEndOffset() == p.log.LogStartOffset() && base < p.log.LogEndOffset() {
			// NB: as Kafka's Partition does: the leader's log start offset falls inside its first
			// batch (DeleteRecords), and our log is empty at that offset. Start the log at the
			// batch's base instead; the leader's log start offset is followed after.
			if err = p.log.TruncateFullyAndStartAt(base); err == nil {
				_, err = p.log.AppendAsFollower(batches)
			}
		}
		return p.log.LogEndOffset(), err
	})
	switch {
	case err != nil && isNotFollowing(err):
		f.drop(p)
		return
	case errors.Is(err, plog.ErrUnexpectedAppendOffset):
		// Our log and our fetch offset disagree: find the divergence again.
		f.update(p, func(cur *followed) { cur.truncating = true })
		f.backoff(p, err)
		return
	case err != nil:
		f.backoff(p, err)
		return
	}
	leo := p.log.LogEndOffset()
	f.update(p, func(cur *followed) { cur.fetchOffset, cur.divergedAt = leo, -1 })
	if err := p.part.SetFollowerHighWatermark(p.leaderEpoch, rp.HighWatermark); err != nil && isNotFollowing(err) {
		f.drop(p)
		return
	}
	// The leader's log start offset moved (retention, DeleteRecords): follow it, up to our high
	// watermark as Kafka does.
	if start := min(rp.LogStartOffset, p.log.HighWatermark()); start > p.log.LogStartOffset() {
		f.write(p, func() error {
			_, err := p.log.DeleteRecordsBefore(start)
			return err
		})
	}
}

// outOfRange handles OFFSET_OUT_OF_RANGE as Kafka's fetcher does: if the leader's log end is below
// ours (only after an unclean election), truncate to it; if our fetch offset is below the leader's
// log start offset, start over there.
func (f *Fetcher) outOfRange(p followed) {
	leaderEnd, err := f.listOffset(p, -1)
	if err != nil {
		f.backoff(p, err)
		return
	}
	var fn func() error
	if leaderEnd < p.log.LogEndOffset() {
		f.log.Warn("leader's log end is below ours; truncating to it", "partition", p.tp.String(), "leaderEndOffset", leaderEnd)
		fn = func() error { return p.log.TruncateTo(leaderEnd) }
	} else {
		leaderStart, err := f.listOffset(p, -2)
		if err != nil {
			f.backoff(p, err)
			return
		}
		if leaderStart <= p.fetchOffset {
			f.backoff(p, errors.New("offset out of range within the leader's log"))
			return
		}
		f.log.Info("fetch offset below the leader's log start; starting over there", "partition", p.tp.String(),
			"fetchOffset", p.fetchOffset, "leaderLogStartOffset", leaderStart)
		fn = func() error { return p.log.TruncateFullyAndStartAt(leaderStart) }
	}
	if f.write(p, fn) {
		leo := p.log.LogEndOffset()
		f.update(p, func(cur *followed) { cur.fetchOffset = leo })
	}
}

// listOffset asks the leader, as a replica, for its log end offset (timestamp -1) or log start
// offset (-2).
func (f *Fetcher) listOffset(p followed, timestamp int64) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = f.cfg.ReplicaID
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = p.tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p.tp.Partition, p.leaderEpoch, timestamp
	t.Partitions = append(t.Partitions, rp)
	req.Topics = append(req.Topics, t)
	kresp, err := f.client.Request(f.ctx, req)
	if err != nil {
		return 0, err
	}
	for _, t := range kresp.(*kmsg.ListOffsetsResponse).Topics {
		for _, rp := range t.Partitions {
			if rp.Partition != p.tp.Partition {
				continue
			}
			if rp.ErrorCode != 0 {
				return 0, kerr.ErrorForCode(rp.ErrorCode)
			}
			return rp.Offset, nil
		}
	}
	return 0, errors.New("partition missing from ListOffsets response")
}
