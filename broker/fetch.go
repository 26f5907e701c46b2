package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/server"
)

// fetchBufs recycles the buffers that fetched batches are read into; a buffer goes back to the
// pool once the server has written the response that references it.
var fetchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

const maxPooledFetchBuf = 64 << 20

func (b *Broker) handleFetch(c *server.Conn, r *kmsg.FetchRequest) server.Response {
	if r.SessionID != 0 {
		// We never create fetch sessions (we answer SessionID 0), so any ID is unknown.
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return server.Response{Msg: resp}
	}
	var deadline time.Time
	if r.MaxWaitMillis > 0 {
		deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	}
	bufp := fetchBufs.Get().(*[]byte)
	for {
		wait := b.dataWait()
		resp, total, anyErr := b.fetchOnce(r, bufp)
		if anyErr || total >= int(max(r.MinBytes, 1)) || deadline.IsZero() || !time.Now().Before(deadline) {
			return server.Response{Msg: resp, Release: func() {
				if cap(*bufp) <= maxPooledFetchBuf {
					*bufp = (*bufp)[:0]
					fetchBufs.Put(bufp)
				}
			}}
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-wait:
		case <-timer.C:
		case <-c.Done:
		case <-b.stop:
		}
		timer.Stop()
		select {
		case <-c.Done:
			return server.Response{}
		case <-b.stop:
			deadline = time.Now() // shutting down: answer with what there is now
		default:
		}
	}
}

// fetchOnce builds a fetch response from what the logs hold now. Record bytes are read into *bufp;
// the response's RecordBatches slices point into it.
func (b *Broker) fetchOnce(r *kmsg.FetchRequest, bufp *[]byte) (*kmsg.FetchResponse, int, bool) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	buf := (*bufp)[:0]
	total := 0
	anyErr := false
	type span struct{ ti, pi, start, end int }
	var spans []span
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		if r.Version >= 13 {
			t = b.topicByID(rt.TopicID)
		} else {
			t, _ = b.lookup(rt.Topic, 0)
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			if r.IsolationLevel == 1 {
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			p := b.partitionOf(t, rp.Partition)
			switch {
			case t == nil && r.Version >= 13:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < p.leaderEpoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > p.leaderEpoch:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			}
			if sp.ErrorCode != 0 {
				anyErr = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			hw := p.log.HighWatermark()
			sp.HighWatermark, sp.LastStableOffset = hw, hw // no transactions: LSO = HW
			sp.LogStartOffset = p.log.LogStartOffset()
			partMax := int(rp.PartitionMaxBytes)
			if partMax <= 0 {
				partMax = maxBytes
			}
			start := len(buf)
			offset := rp.FetchOffset
			for offset < hw {
				limit := min(partMax-(len(buf)-start), maxBytes-total-(len(buf)-start))
				if limit <= 0 {
					break
				}
				chunk, err := p.log.Read(offset, limit, hw)
				if err != nil {
					if errors.Is(err, plog.ErrOffsetOutOfRange) {
						sp.ErrorCode = kerr.OffsetOutOfRange.Code
					} else {
						sp.ErrorCode = codeFor(err)
						b.log.Warn("fetch read failed", "topic", t.name, "partition", p.index, "offset", offset, "err", err)
					}
					anyErr = true
					break
				}
				if chunk.Size == 0 {
					break
				}
				// KIP-74: the first batch of the response may exceed the limits so that a consumer
				// never gets stuck; any later one must fit.
				if chunk.Size > limit && (total > 0 || len(buf) > start) {
					break
				}
				if buf, err = chunk.ReadInto(buf); err != nil {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code // segment went away under us: client retries
					anyErr = true
					break
				}
				offset = chunk.NextOffset()
			}
			if sp.ErrorCode == 0 && (rp.FetchOffset > p.log.LogEndOffset() || rp.FetchOffset < sp.LogStartOffset) {
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
				anyErr = true
			}
			if n := len(buf) - start; n > 0 && sp.ErrorCode == 0 {
				spans = append(spans, span{len(resp.Topics), len(st.Partitions), start, len(buf)})
				total += n
			} else {
				buf = buf[:start]
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	// buf may have grown (moved) while reading: point the responses at the final buffer.
	for _, s := range spans {
		resp.Topics[s.ti].Partitions[s.pi].RecordBatches = buf[s.start:s.end]
	}
	*bufp = buf
	return resp, total, anyErr
}

func (b *Broker) partitionOf(t *topic, p int32) *partition {
	if t == nil {
		return nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if p < 0 || int(p) >= len(t.partitions) {
		return nil
	}
	return t.partitions[p]
}
