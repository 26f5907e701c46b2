package broker

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	replication "github.com/gregor-streams/gregor/broker/partition"
)

// newLeaderGrace is how long after this broker became a partition's leader it waits for each
// replica's fetches to name the partition. A follower applies the same metadata a moment after the
// leader, or backs a partition off for replica.fetch.backoff.ms after an error from a leader that
// had not applied it yet; both end well inside this.
const newLeaderGrace = 10 * time.Second

// newLeaderPoll caps a replica's long poll while its fetches omit a partition led here since less
// than newLeaderGrace: answered after it, the replica's next fetch names the partition once the
// replica knows it, at a cost of at most 1/newLeaderPoll empty fetches a second meanwhile.
const newLeaderPoll = 20 * time.Millisecond

// replicaWaits makes a follower start fetching a partition from its new leader at once.
//
// NB: a follower's fetcher sends one Fetch at a time to a leader, long-polling up to
// replica.fetch.wait.max.ms (500 ms) on the partitions it already follows there; a partition it is
// told to follow meanwhile waits for that Fetch to return. After a failover, acks=all produce on
// the new leader waits for exactly that follower, so every failover cost up to 500 ms more. The
// leader knows when it became a partition's leader and who its replicas are, so it wakes the
// replicas' parked fetches then, and until each replica's fetch names the partition (or
// newLeaderGrace passes) caps that replica's long polls at newLeaderPoll.
type replicaWaits struct {
	mu struct {
		sync.Mutex
		// parked are the long-polling fetches of each replica broker.
		parked map[int32][]*replication.FetchWaiter
		// recent are partitions led here since less than newLeaderGrace that some replica's
		// fetches have not named yet.
		recent []recentLeadership
	}
}

type recentLeadership struct {
	topic   string
	topicID [16]byte
	index   int32
	since   time.Time
	// pending are the replicas whose fetches have not named the partition yet.
	pending []int32
}

// park registers w as a long-polling fetch of replica; the returned function unregisters it.
func (rw *replicaWaits) park(replica int32, w *replication.FetchWaiter) func() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.mu.parked == nil {
		rw.mu.parked = map[int32][]*replication.FetchWaiter{}
	}
	rw.mu.parked[replica] = append(rw.mu.parked[replica], w)
	return func() {
		rw.mu.Lock()
		defer rw.mu.Unlock()
		ws := rw.mu.parked[replica]
		if i := slices.Index(ws, w); i >= 0 {
			rw.mu.parked[replica] = slices.Delete(ws, i, i+1)
		}
	}
}

// becameLeader records that this broker (self) now leads topic's partition index with replicas,
// and wakes the parked fetches of the other replicas.
func (rw *replicaWaits) becameLeader(topic string, topicID [16]byte, index int32, replicas []int32, self int32, now time.Time) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.pruneLocked(now)
	l := recentLeadership{topic: topic, topicID: topicID, index: index, since: now}
	for _, r := range replicas {
		if r == self {
			continue
		}
		l.pending = append(l.pending, r)
		for _, w := range rw.mu.parked[r] {
			w.Wake()
		}
	}
	if len(l.pending) > 0 {
		rw.mu.recent = append(rw.mu.recent, l)
	}
}

func (rw *replicaWaits) pruneLocked(now time.Time) {
	rw.mu.recent = slices.DeleteFunc(rw.mu.recent, func(l recentLeadership) bool {
		return len(l.pending) == 0 || now.Sub(l.since) >= newLeaderGrace
	})
}

// omitsNewPartition reports whether replica's fetch r leaves out a partition this broker began to
// lead less than newLeaderGrace ago and replica is a replica of. A fetch that names such a
// partition takes replica off its pending list.
func (rw *replicaWaits) omitsNewPartition(replica int32, r *kmsg.FetchRequest, now time.Time) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	omits := false
	for i := range rw.mu.recent {
		l := &rw.mu.recent[i]
		if !slices.Contains(l.pending, replica) {
			continue
		}
		if names(r, l) {
			l.pending = slices.DeleteFunc(l.pending, func(p int32) bool { return p == replica })
		} else {
			omits = true
		}
	}
	rw.pruneLocked(now)
	return omits
}

// names reports whether fetch r names l's partition.
func names(r *kmsg.FetchRequest, l *recentLeadership) bool {
	for i := range r.Topics {
		rt := &r.Topics[i]
		if (r.Version >= 13 && rt.TopicID == l.topicID) || (r.Version < 13 && rt.Topic == l.topic) {
			return slices.ContainsFunc(rt.Partitions, func(p kmsg.FetchRequestTopicPartition) bool { return p.Partition == l.index })
		}
	}
	return false
}
