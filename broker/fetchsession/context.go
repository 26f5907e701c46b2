package fetchsession

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type kind uint8

const (
	sessionless kind = iota // no session: answered in full, SessionID 0
	full                    // epoch 0: answered in full, with a new session if there is room
	incremental             // epoch > 0 on a cached session
	failed                  // a session error: answered with ErrorCode only
)

// Context is one fetch request as the session cache resolved it. A Context is used by one
// request handler; Filter is called at most once, on the response that is sent.
type Context struct {
	// Request is the request to serve: the client's own for a full fetch, or one naming every
	// partition of the session, with the cached fetch offsets, for an incremental fetch. It
	// shares nothing mutable with the cache; the caller must not modify the client's request
	// through it.
	Request *kmsg.FetchRequest
	// ErrorCode is a top-level session error (FETCH_SESSION_ID_NOT_FOUND,
	// INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR); when set, nothing is to be
	// read, and Filter turns any response into the error response.
	ErrorCode int16

	cache      *Cache
	kind       kind
	session    *session
	privileged bool
	// served are the session's partitions in the order Request names them (incremental only).
	served []*cachedPartition
}

// Incremental reports whether the request is an incremental fetch on a session.
func (fc *Context) Incremental() bool { return fc.kind == incremental }

// Resolve looks up the session r names, applies r to it, and returns what to serve. privileged
// marks a replica fetcher's request (a follower's session outranks consumers' in eviction).
// Requests below v7 have no session fields and are always sessionless.
func (c *Cache) Resolve(r *kmsg.FetchRequest, privileged bool, now time.Time) *Context {
	fc := &Context{Request: r, cache: c, privileged: privileged}
	if r.Version < 7 {
		return fc
	}
	switch r.SessionEpoch {
	case FinalEpoch, InitialEpoch:
		if r.SessionID != 0 {
			c.remove(r.SessionID)
		}
		if r.SessionEpoch == InitialEpoch {
			fc.kind = full
		}
		return fc
	}
	s := c.lookup(r.SessionID)
	if s == nil {
		return fc.fail(kerr.FetchSessionIDNotFound.Code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.SessionEpoch != s.mu.epoch:
		return fc.fail(kerr.InvalidFetchSessionEpoch.Code)
	case (r.Version >= 13) != s.usesTopicIDs:
		// NB: a client that switched versions in between names partitions differently (IDs or
		// names) than the session holds them; it must start over with a full fetch.
		return fc.fail(kerr.FetchSessionTopicIDError.Code)
	}
	s.updateLocked(r)
	s.mu.epoch = nextEpoch(s.mu.epoch)
	s.lastUsed.Store(now.UnixNano())
	fc.kind, fc.session = incremental, s
	fc.Request, fc.served = s.requestLocked(r)
	return fc
}

func (fc *Context) fail(code int16) *Context {
	fc.kind, fc.ErrorCode = failed, code
	return fc
}

// Filter completes resp, the answer to fc.Request, for the client: it sets SessionID, creates
// the session of a full fetch that asked for one, and for an incremental fetch drops the
// partitions with nothing new for the client (and topics left empty), remembering what it was
// told of the others. For a session error it empties resp and sets ErrorCode.
func (fc *Context) Filter(resp *kmsg.FetchResponse, now time.Time) {
	switch fc.kind {
	case failed:
		resp.ErrorCode, resp.SessionID, resp.Topics = fc.ErrorCode, 0, nil
	case sessionless:
		resp.SessionID = 0
	case full:
		resp.SessionID = 0
		r := fc.Request
		size := 0
		for i := range r.Topics {
			size += len(r.Topics[i].Partitions)
		}
		s := fc.cache.create(fc.privileged, size, r.Version >= 13, now)
		if s == nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range r.Topics {
			rt := &r.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				k := keyOf(s.usesTopicIDs, rt.Topic, rt.TopicID, rp.Partition)
				if s.mu.parts[k] != nil {
					continue // named twice: the first stands
				}
				s.addLocked(&cachedPartition{key: k, topic: rt.Topic, topicID: rt.TopicID, req: *rp,
					highWatermark: -1, lastStableOffset: -1, logStartOffset: -1})
			}
		}
		s.size.Store(int32(len(s.mu.parts)))
		s.filterLocked(resp, nil, false)
		resp.SessionID = s.id
	case incremental:
		s := fc.session
		s.mu.Lock()
		defer s.mu.Unlock()
		if omitted := s.filterLocked(resp, fc.served, true); omitted > 0 {
			fc.cache.omitted.Add(int64(omitted))
		}
		resp.SessionID = s.id
	}
}

// filterLocked remembers what resp tells the client of each session partition and, with omit,
// drops from resp the partitions it has nothing new for. Partitions that returned records move
// to the end of the session's order. It returns how many partitions it dropped. served, if not
// nil, are the cached partitions in the order resp answers them, saving a lookup per partition;
// where resp departs from it, partitions are looked up.
func (s *session) filterLocked(resp *kmsg.FetchResponse, served []*cachedPartition, omit bool) (omitted int) {
	moved, next := 0, 0
	keptTopics := resp.Topics[:0]
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		kept := rt.Partitions[:0]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := keyOf(s.usesTopicIDs, rt.Topic, rt.TopicID, rp.Partition)
			var cp *cachedPartition
			if next < len(served) && served[next].key == k && !served[next].removed {
				cp = served[next]
			} else {
				cp = s.mu.parts[k]
			}
			next++
			if cp == nil {
				kept = append(kept, *rp) // not ours to judge: answer it
				continue
			}
			must := cp.observe(rp)
			if len(rp.RecordBatches) > 0 {
				cp.removed = true // NB: reused as "move to the end" until the reorder below
				moved++
			}
			if must || !omit {
				kept = append(kept, *rp)
			} else {
				omitted++
			}
		}
		rt.Partitions = kept
		if len(kept) > 0 || !omit {
			keptTopics = append(keptTopics, *rt)
		}
	}
	resp.Topics = keptTopics
	if moved > 0 {
		s.rotateLocked(moved)
	}
	return omitted
}

// rotateLocked moves the partitions marked removed (those that returned records) to the end of
// the order, keeping the relative order of both groups, and clears the marks.
func (s *session) rotateLocked(moved int) {
	tail := make([]*cachedPartition, 0, moved)
	head := s.mu.order[:0]
	for _, cp := range s.mu.order {
		if cp.removed {
			cp.removed = false
			tail = append(tail, cp)
		} else {
			head = append(head, cp)
		}
	}
	s.mu.order = append(head, tail...)
}

// observe records what rp tells the client and reports whether an incremental response must
// carry it: records, an error, a diverging epoch, a preferred read replica, aborted transactions,
// or a changed high watermark, last stable offset or log start offset.
func (cp *cachedPartition) observe(rp *kmsg.FetchResponseTopicPartition) bool {
	must := len(rp.RecordBatches) > 0 || len(rp.AbortedTransactions) > 0 || rp.PreferredReadReplica >= 0 ||
		(rp.DivergingEpoch.Epoch >= 0 && rp.DivergingEpoch.EndOffset >= 0) || rp.SnapshotID.EndOffset >= 0
	if rp.HighWatermark != cp.highWatermark || rp.LastStableOffset != cp.lastStableOffset || rp.LogStartOffset != cp.logStartOffset {
		must = true
	}
	cp.highWatermark, cp.lastStableOffset, cp.logStartOffset = rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset
	if rp.ErrorCode != 0 {
		// NB: as Kafka: forget the high watermark, so the partition is answered again once the
		// error clears even if nothing else changed.
		cp.highWatermark = -1
		must = true
	}
	return must
}
