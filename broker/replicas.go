package broker

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/replica"
)

// leaderClients dials the leaders a KRaft broker's replica fetchers copy from: one kgo client per
// leader, seeded with the leader's endpoint for inter.broker.listener.name in the current image.
type leaderClients struct {
	pub      *metadata.Publisher
	listener string
	clientID string
	mu       struct {
		sync.Mutex
		clients map[leaderFetcher]*kgo.Client
	}
}

// leaderFetcher names one replica fetcher: each of num.replica.fetchers per leader has its own
// client (and connection), so one's long-polling Fetch does not hold up another's response.
type leaderFetcher struct {
	leader  int32
	fetcher int
}

func newLeaderClients(b *Broker, pub *metadata.Publisher) *leaderClients {
	lc := &leaderClients{pub: pub, listener: b.cfg.KRaft.InterBrokerListenerName,
		clientID: fmt.Sprintf("gregor-replica-fetcher-%d", b.cfg.NodeID)}
	lc.mu.clients = map[leaderFetcher]*kgo.Client{}
	return lc
}

// dial returns a client of leader for its fetcher number fetcher (replica.FetcherDial: it must not
// block, and kgo connects lazily). NB: a leader that re-registers with a new endpoint keeps its
// old client until its fetcher closes (it is re-dialed when this broker follows a partition of it
// again).
func (lc *leaderClients) dial(leader int32, fetcher int) (replica.Client, error) {
	br := lc.pub.Current().Broker(leader)
	if br == nil {
		return nil, fmt.Errorf("broker %d is not registered", leader)
	}
	ep, ok := br.EndPoint(lc.listener)
	if !ok {
		return nil, fmt.Errorf("broker %d has no %s endpoint", leader, lc.listener)
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	key := leaderFetcher{leader, fetcher}
	if old := lc.mu.clients[key]; old != nil {
		old.Close()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))),
		kgo.ClientID(lc.clientID), kgo.RequestTimeoutOverhead(10*time.Second))
	if err != nil {
		return nil, err
	}
	lc.mu.clients[key] = cl
	return cl.SeedBrokers()[0], nil
}

// close closes every client.
func (lc *leaderClients) close() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for id, cl := range lc.mu.clients {
		cl.Close()
		delete(lc.mu.clients, id)
	}
}

// replicaConfig is the fetchers' config from node.id, replica.fetch.* and num.replica.fetchers; brokerEpoch gives this
// broker's registration epoch for ReplicaState (KIP-903).
func (b *Broker) replicaConfig(brokerEpoch func() int64) replica.Config {
	k := &b.cfg.KRaft
	return replica.Config{
		ReplicaID:         b.cfg.NodeID,
		BrokerEpoch:       brokerEpoch,
		MaxWait:           time.Duration(k.ReplicaFetchWaitMaxMs) * time.Millisecond,
		MinBytes:          int32(k.ReplicaFetchMinBytes),
		MaxBytes:          int32(k.ReplicaFetchResponseMaxBytes),
		PartitionMaxBytes: int32(k.ReplicaFetchMaxBytes),
		Backoff:           time.Duration(k.ReplicaFetchBackoffMs) * time.Millisecond,
		NumFetchers:       k.NumReplicaFetchers,
		Logger:            b.logger.With("component", "replica-fetcher"),
	}
}

// brokerEpoch is this broker's registration epoch as the controller last answered it, -1 before
// it registered.
func (a *imageApplier) brokerEpoch() int64 {
	if mgr := a.mgr.Load(); mgr != nil {
		return mgr.State().BrokerEpoch
	}
	return -1
}

// followerISRChanges are the partitions changes tells broker to follow on, unchanged, with a new
// committed ISR or partition epoch (metadata.LocalChanges.IsrOnly holds only the ones it leads).
// A follower applies them as Kafka's makeFollower does every partition change, so its replica
// state (Snapshot, DescribeLogDirs) shows the ISR and partition epoch the image has.
func followerISRChanges(changes *metadata.Changes, broker int32) []metadata.PartitionChange {
	var out []metadata.PartitionChange
	for _, pc := range changes.Partitions {
		if pc.Prev == nil || pc.Cur == nil || !pc.Prev.HasReplica(broker) || !pc.Cur.HasReplica(broker) ||
			pc.Cur.Leader == broker || pc.LeaderChanged() {
			continue
		}
		if pc.IsrChanged() || pc.Prev.PartitionEpoch != pc.Cur.PartitionEpoch {
			out = append(out, pc)
		}
	}
	return out
}
