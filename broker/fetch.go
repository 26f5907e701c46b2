package broker

import (
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/log"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// Fetch v4-17 (v13+: topic IDs).
	register(1, 4, 17, func(b *Broker, c *server.Conn, r *kmsg.FetchRequest) server.Response {
		return b.handleFetch(c, r)
	})
}

func (b *Broker) handleFetch(c *server.Conn, r *kmsg.FetchRequest) server.Response {
	// KIP-227: an incremental fetch is served as the full request its session resolves to, and
	// its answer filtered down to what changed for the client (broker/fetchsession).
	fc := b.fetchSessions.Resolve(r, r.ReplicaID >= 0 || (r.Version >= 15 && r.ReplicaState.ID >= 0), time.Now())
	if fc.ErrorCode != 0 {
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		fc.Filter(resp, time.Now())
		return server.Response{Msg: resp}
	}
	r = fc.Request
	var deadline time.Time
	if r.MaxWaitMillis > 0 {
		deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	}
	// A long poll waits on exactly the partitions it reads: an append or a high watermark advance
	// on one of them wakes it, and nothing else does.
	var w *replication.FetchWaiter
	var watched []watchedPartition
	defer func() {
		for _, wp := range watched {
			wp.p.state.Unwatch(w)
		}
	}()
	replicaID := r.ReplicaID
	if r.Version >= 15 {
		replicaID = r.ReplicaState.ID
	}
	for {
		resp, splices, total, anyErr, seen := b.fetchOnce(r, w == nil)
		done := anyErr || total >= int(max(r.MinBytes, 1)) || deadline.IsZero() || !time.Now().Before(deadline)
		// NB: a replica whose fetch leaves out a partition it has just become a follower of here
		// is answered soon, so that its next fetch names it (replicawake.go): at once once the
		// wait was woken (this broker became the leader meanwhile), after newLeaderPoll otherwise.
		// The check follows the park below, so a leadership change between them is seen by one
		// of the two.
		if !done && w != nil && replicaID >= 0 && b.replicaWaits.omitsNewPartition(replicaID, r, time.Now()) {
			done = true
		}
		if done {
			b.countFetched(r, resp, splices)
			fc.Filter(resp, time.Now())
			return server.Response{Msg: resp, Splices: splices}
		}
		if w == nil {
			defer b.metrics.FetchWaitStarted()() // NB: runs once: w is set below
			// NB: Watch compares what the read saw with the partition now, so an append between
			// the read and the registration wakes the waiter at once; later ones find it registered.
			w, watched = replication.NewFetchWaiter(), seen
			for _, wp := range watched {
				wp.p.state.Watch(w, wp.highWatermark, wp.logEndOffset)
			}
			if replicaID >= 0 {
				defer b.replicaWaits.park(replicaID, w)()
				if now := time.Now(); b.replicaWaits.omitsNewPartition(replicaID, r, now) && now.Add(newLeaderPoll).Before(deadline) {
					deadline = now.Add(newLeaderPoll)
				}
			}
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-w.C():
			b.fetchWakeups.Add(1)
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

// watchedPartition is a partition a fetch read, with the offsets it read against.
type watchedPartition struct {
	p                           *partition
	highWatermark, logEndOffset int64
}

// fetchOnce builds a fetch response from what the logs hold now. Record bytes are not read: each
// partition's RecordBatches holds a placeholder that the server replaces with the segment file
// ranges (sent with sendfile), so stored batches go to the client without being copied or re-encoded.
// With collect, it also returns the partitions it read and the offsets it read them at.
func (b *Broker) fetchOnce(r *kmsg.FetchRequest, collect bool) (*kmsg.FetchResponse, []server.Splice, int, bool, []watchedPartition) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = 1 << 30
	}
	total := 0
	anyErr := false
	var splices []server.Splice
	var seen []watchedPartition
	// A follower's fetch (ReplicaID below v15, ReplicaState from v15, KIP-903) of a KRaft image
	// partition reads up to the log end offset, not the high watermark, and records the follower's
	// progress.
	// NB: a replica fetch from a broker that is not a replica of the partition is read as a
	// consumer's (up to the high watermark, no follower progress), as the single node did.
	replicaID := r.ReplicaID
	if r.Version >= 15 {
		replicaID = r.ReplicaState.ID
	}
	staleReplica := replicaID >= 0 && b.staleReplicaEpoch(replicaID, r)
	// Kafka's isReplicaIsrEligible: a replica whose broker is fenced or shutting down may fetch,
	// but is not proposed into the ISR (the controller would refuse it, INELIGIBLE_REPLICA).
	isrEligible := true
	if img := b.MetadataImage(); img != nil && replicaID >= 0 {
		isrEligible = img.IsUsable(replicaID)
	}
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t := b.topicByNameOrID(r.Version >= 13, rt.Topic, rt.TopicID)
		follower := replicaID >= 0 && t != nil
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.RecordBatches = []byte{} // NB: empty, never null: librdkafka rejects a null records field
			if r.IsolationLevel == 1 {
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			p := b.partitionOf(t, rp.Partition)
			follower := follower && b.assignedReplica(t, rp.Partition, replicaID) // registry_kraft.go
			diverged := false
			switch {
			case t == nil && r.Version >= 13:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case p == nil:
				sp.ErrorCode = codeFor(b.missingPartitionError(t, rp.Partition))
			default:
				_, _, err := p.state.CheckEpoch(rp.CurrentLeaderEpoch, true)
				sp.ErrorCode = codeFor(err)
				if err != nil {
					break
				}
				if epoch, end, ok := divergingEpoch(p.log, r.Version, rp); ok {
					// NB: a diverged fetch offset is not the follower's progress: its records from
					// there on differ from ours, so it must not count toward the high watermark
					// (Kafka updates follower state only without a diverging epoch).
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = epoch, end
					diverged = true
				} else if follower && !staleReplica {
					// NB: the offsets are read below, after this fetch may have advanced the high watermark.
					fetched := p.state.FollowerFetch
					if !isrEligible {
						fetched = p.state.FollowerFetchIneligible
					}
					_, err := fetched(replicaID, rp.FetchOffset, rp.CurrentLeaderEpoch)
					sp.ErrorCode = codeFor(err)
				}
			}
			if sp.ErrorCode == kerr.NotLeaderForPartition.Code && r.Version >= 12 {
				// KIP-951: tell the client where the partition's leader is.
				if leader, epoch, ep, ok := b.currentLeader(t, rp.Partition); ok {
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = leader, epoch
					if r.Version >= 16 && !slices.ContainsFunc(resp.Brokers, func(br kmsg.FetchResponseBroker) bool { return br.NodeID == leader }) {
						br := kmsg.NewFetchResponseBroker()
						br.NodeID, br.Host, br.Port, br.Rack = ep.nodeID, ep.host, ep.port, ep.rack
						resp.Brokers = append(resp.Brokers, br)
					}
				}
			}
			if sp.ErrorCode != 0 {
				anyErr = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			hw, leo := p.state.Offsets()
			if diverged {
				// KIP-320: no records, answered at once; the fetcher truncates and fetches again.
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, p.log.LogStartOffset()
				anyErr = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			// readTo bounds what is read: a consumer reads committed records only, a follower all.
			readTo := hw
			if follower {
				readTo = leo
			}
			if collect {
				seen = append(seen, watchedPartition{p: p, highWatermark: hw, logEndOffset: leo})
			}
			sp.HighWatermark, sp.LastStableOffset = hw, hw // no transactions: LSO = HW
			sp.LogStartOffset = p.log.LogStartOffset()
			partMax := int(rp.PartitionMaxBytes)
			if partMax <= 0 {
				partMax = maxBytes
			}
			var ranges []server.FileRange
			size := 0
			offset := rp.FetchOffset
			for offset < readTo {
				limit := min(partMax-size, maxBytes-total-size)
				if limit <= 0 {
					break
				}
				chunk, err := p.log.Read(offset, limit, readTo)
				if err != nil {
					if errors.Is(err, log.ErrOffsetOutOfRange) {
						sp.ErrorCode = kerr.OffsetOutOfRange.Code
					} else {
						sp.ErrorCode = codeFor(err)
						b.repeats.Warn("fetch read failed", "topic", t.name, "partition", p.index, "offset", offset, "err", err)
					}
					anyErr = true
					break
				}
				if chunk.Size == 0 {
					break
				}
				// KIP-74: the first batch of the response may exceed the limits so that a consumer
				// never gets stuck; any later one must fit.
				if chunk.Size > limit && (total > 0 || size > 0) {
					break
				}
				ranges = append(ranges, server.FileRange{File: chunk.File, Pos: chunk.Pos, Size: chunk.Size})
				size += chunk.Size
				offset = chunk.NextOffset()
			}
			if sp.ErrorCode == 0 && (rp.FetchOffset > p.log.LogEndOffset() || rp.FetchOffset < sp.LogStartOffset) {
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
				anyErr = true
			}
			if size > 0 && sp.ErrorCode == 0 {
				sp.RecordBatches = server.NewPlaceholder()
				splices = append(splices, server.Splice{Placeholder: sp.RecordBatches, Ranges: ranges, Compact: r.IsFlexible()})
				total += size
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, splices, total, anyErr, seen
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

// divergingEpoch is KIP-320's check of a Fetch (v12+) that names the epoch of the last batch the
// fetcher has (LastFetchedEpoch): if our log ends that epoch before the fetch offset, or has only
// older epochs, the fetcher's log diverged from ours, and it is told the largest epoch we have up
// to its own and where that epoch ends here (DivergingEpoch). A log without epoch information
// answers nothing: there is nothing to compare (Kafka's fetchers then truncate by
// OffsetForLeaderEpoch, as ours do anyway).
func divergingEpoch(l *log.Log, version int16, rp *kmsg.FetchRequestTopicPartition) (epoch int32, endOffset int64, diverged bool) {
	if version < 12 || rp.LastFetchedEpoch < 0 {
		return 0, 0, false
	}
	epoch, endOffset = l.EndOffsetForEpoch(rp.LastFetchedEpoch)
	if epoch < 0 || endOffset < 0 {
		return 0, 0, false
	}
	if epoch < rp.LastFetchedEpoch || endOffset < rp.FetchOffset {
		return epoch, endOffset, true
	}
	return 0, 0, false
}

// staleReplicaEpoch is KIP-903's check of a replica fetch (v15+, ReplicaState): the broker epoch it
// names is not the one the metadata image has for that broker, so it comes from an earlier
// incarnation (one that may have lost its log) or from one the image does not know yet. Such a
// fetch is served but not taken as the replica's progress: it neither moves the high watermark
// nor brings the replica back into the ISR. A fetch without an epoch (-1, or below v15) is not
// checked.
func (b *Broker) staleReplicaEpoch(replicaID int32, r *kmsg.FetchRequest) bool {
	if r.Version < 15 || r.ReplicaState.Epoch < 0 {
		return false
	}
	img := b.MetadataImage()
	if img == nil {
		return false
	}
	br := img.Broker(replicaID)
	return br == nil || br.Epoch != r.ReplicaState.Epoch
}
