package broker

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	replication "github.com/gregor-streams/gregor/broker/partition"
)

// newLeaderGrace is how long after this broker became a partition's leader a replica fetch that
// omits the partition is answered without long-polling.
const newLeaderGrace = time.Second

// replicaWaits makes a follower start fetching a partition from its new leader at once.
//
// NB: a follower's fetcher sends one Fetch at a time to a leader, long-polling up to
// replica.fetch.wait.max.ms (500 ms) on the partitions it already follows there; a partition it is
// told to follow meanwhile waits for that Fetch to return. After a failover, acks=all produce on
// the new leader waits for exactly that follower, so every failover cost up to 500 ms more. The
// leader knows when it became a partition's leader and who its replicas are, so it wakes the
// replicas' parked fetches then, and for newLeaderGrace answers a replica's fetch that does not
// yet name the partition without parking it, up to newLeaderReleases times (the follower may apply
// the same metadata a moment after the leader did).
type replicaWaits struct {
	mu struct {
		sync.Mutex
		// parked are the long-polling fetches of each replica broker.
		parked map[int32][]*replication.FetchWaiter
		// recent are partitions led here since less than newLeaderGrace.
		recent []recentLeadership
	}
}

type recentLeadership struct {
	topic    string
	topicID  [16]byte
	index    int32
	replicas []int32
	since    time.Time
	// released counts the fetches of each replica answered early for it; a replica that keeps
	// omitting the partition (backing off, say) is long-polled again after newLeaderReleases.
	released map[int32]int
}

// newLeaderReleases bounds the early answers per replica and new partition.
const newLeaderReleases = 5

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
	rw.mu.recent = append(rw.mu.recent, recentLeadership{topic: topic, topicID: topicID, index: index, replicas: slices.Clone(replicas), since: now, released: map[int32]int{}})
	for _, r := range replicas {
		if r == self {
			continue
		}
		for _, w := range rw.mu.parked[r] {
			w.Wake()
		}
	}
}

func (rw *replicaWaits) pruneLocked(now time.Time) {
	rw.mu.recent = slices.DeleteFunc(rw.mu.recent, func(l recentLeadership) bool { return now.Sub(l.since) >= newLeaderGrace })
}

// omitsNewPartition reports whether replica's fetch r leaves out a partition this broker began to
// lead less than newLeaderGrace ago and replica is a replica of.
func (rw *replicaWaits) omitsNewPartition(replica int32, r *kmsg.FetchRequest, now time.Time) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.pruneLocked(now)
	for _, l := range rw.mu.recent {
		if !slices.Contains(l.replicas, replica) || l.released[replica] >= newLeaderReleases {
			continue
		}
		found := false
		for i := range r.Topics {
			rt := &r.Topics[i]
			if (r.Version >= 13 && rt.TopicID == l.topicID) || (r.Version < 13 && rt.Topic == l.topic) {
				found = slices.ContainsFunc(rt.Partitions, func(p kmsg.FetchRequestTopicPartition) bool { return p.Partition == l.index })
				break
			}
		}
		if !found {
			l.released[replica]++
			return true
		}
	}
	return false
}
