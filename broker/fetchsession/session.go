package fetchsession

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// partKey names a partition in a session: by topic ID in a session that uses IDs (v13+), by
// topic name otherwise.
type partKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

func keyOf(usesTopicIDs bool, topic string, topicID [16]byte, partition int32) partKey {
	if usesTopicIDs {
		return partKey{topicID: topicID, partition: partition}
	}
	return partKey{topic: topic, partition: partition}
}

// cachedPartition is what a session remembers of one partition: what the fetcher last asked for,
// and what it was last told.
type cachedPartition struct {
	key     partKey
	topic   string
	topicID [16]byte
	req     kmsg.FetchRequestTopicPartition

	highWatermark, lastStableOffset, logStartOffset int64
	removed                                         bool // forgotten; dropped from order at the end of the update
}

// session is one cached fetch session.
type session struct {
	id           int32
	privileged   bool // a replica fetcher's
	usesTopicIDs bool
	creation     time.Time

	size     atomic.Int32 // len(mu.parts), for eviction and Stats without mu
	lastUsed atomic.Int64 // unix nanoseconds

	mu struct {
		sync.Mutex
		epoch int32 // the epoch the next incremental fetch must carry
		parts map[partKey]*cachedPartition
		// order is the order partitions are read in; those that returned records move to the end,
		// so that a response size limit does not starve the later ones (Kafka does the same).
		order []*cachedPartition
	}
}

func newSession(id int32, privileged, usesTopicIDs bool, now time.Time) *session {
	s := &session{id: id, privileged: privileged, usesTopicIDs: usesTopicIDs, creation: now}
	s.lastUsed.Store(now.UnixNano())
	s.mu.epoch = 1
	s.mu.parts = map[partKey]*cachedPartition{}
	return s
}

// lessValuable orders sessions for eviction: consumers' before replicas', fewer partitions first,
// then by ID.
func (s *session) lessValuable(o *session) bool {
	if s.privileged != o.privileged {
		return !s.privileged
	}
	if a, b := s.size.Load(), o.size.Load(); a != b {
		return a < b
	}
	return s.id < o.id
}

func nextEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// updateLocked applies an incremental request: its partitions are added or replace the cached
// ones' request fields, then its ForgottenTopics are dropped (Kafka's order: a partition both
// named and forgotten is forgotten).
func (s *session) updateLocked(r *kmsg.FetchRequest) {
	for i := range r.Topics {
		rt := &r.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := keyOf(s.usesTopicIDs, rt.Topic, rt.TopicID, rp.Partition)
			if cp := s.mu.parts[k]; cp != nil {
				cp.req = *rp
				continue
			}
			s.addLocked(&cachedPartition{key: k, topic: rt.Topic, topicID: rt.TopicID, req: *rp,
				highWatermark: -1, lastStableOffset: -1, logStartOffset: -1})
		}
	}
	forgot := false
	for i := range r.ForgottenTopics {
		ft := &r.ForgottenTopics[i]
		for _, p := range ft.Partitions {
			k := keyOf(s.usesTopicIDs, ft.Topic, ft.TopicID, p)
			if cp := s.mu.parts[k]; cp != nil {
				cp.removed = true
				delete(s.mu.parts, k)
				forgot = true
			}
		}
	}
	if forgot {
		kept := s.mu.order[:0]
		for _, cp := range s.mu.order {
			if !cp.removed {
				kept = append(kept, cp)
			}
		}
		clear(s.mu.order[len(kept):])
		s.mu.order = kept
	}
	s.size.Store(int32(len(s.mu.parts)))
}

func (s *session) addLocked(cp *cachedPartition) {
	s.mu.parts[cp.key] = cp
	s.mu.order = append(s.mu.order, cp)
}

// requestLocked returns a full request for every partition in the session, in the session's
// order grouped by topic, with r's other fields, and the cached partitions in the order the
// request names them (which is the order its response answers them in).
func (s *session) requestLocked(r *kmsg.FetchRequest) (*kmsg.FetchRequest, []*cachedPartition) {
	full := *r
	full.ForgottenTopics = nil
	order := s.mu.order
	// Number each topic in order of first appearance; count its partitions. NB: the map is
	// consulted only where the topic differs from the previous partition's, which the grouping
	// makes rare.
	slotOf := make([]int32, len(order))
	var counts []int
	var firsts []*cachedPartition
	index := map[partKey]int32{}
	for i, cp := range order {
		if i > 0 && sameTopic(order[i-1], cp) {
			slotOf[i] = slotOf[i-1]
			counts[slotOf[i]]++
			continue
		}
		tk := partKey{topic: cp.key.topic, topicID: cp.key.topicID}
		j, ok := index[tk]
		if !ok {
			j = int32(len(counts))
			index[tk] = j
			counts = append(counts, 0)
			firsts = append(firsts, cp)
		}
		slotOf[i] = j
		counts[j]++
	}
	starts := make([]int, len(counts))
	for j := 1; j < len(counts); j++ {
		starts[j] = starts[j-1] + counts[j-1]
	}
	parts := make([]kmsg.FetchRequestTopicPartition, len(order))
	served := make([]*cachedPartition, len(order))
	full.Topics = make([]kmsg.FetchRequestTopic, len(counts))
	for j, first := range firsts {
		t := &full.Topics[j]
		t.Topic, t.TopicID = first.topic, first.topicID
		t.Partitions = parts[starts[j] : starts[j]+counts[j]]
	}
	for i, cp := range order {
		at := starts[slotOf[i]]
		starts[slotOf[i]]++
		parts[at], served[at] = cp.req, cp
	}
	return &full, served
}

func sameTopic(a, b *cachedPartition) bool {
	return a.key.topic == b.key.topic && a.key.topicID == b.key.topicID
}
