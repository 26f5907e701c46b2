package replica

import (
	"fmt"
	"sync"
	"unicode/utf16"
)

// FetcherDial returns the client for one fetcher of a leader broker. fetcherID, in
// [0, Config.NumFetchers), tells a leader's fetchers apart: give each its own connection, since
// responses on one connection come back in order and a long-polling Fetch would hold up the
// others'. Called with the manager's lock held: it must not block (a kgo client connects lazily).
type FetcherDial func(leaderID int32, fetcherID int) (Client, error)

// Manager keeps Config.NumFetchers fetchers per leader broker this broker follows partitions of
// (Kafka's ReplicaFetcherManager with num.replica.fetchers), a partition going to the fetcher
// FetcherID picks; it starts a fetcher with its first partition and closes it with its last.
// Methods are safe for concurrent use.
type Manager struct {
	cfg  Config
	dial FetcherDial

	mu struct {
		sync.Mutex
		fetchers map[fetcherKey]*Fetcher
		leaderOf map[TopicPartition]fetcherKey
		closed   bool
	}
}

// fetcherKey names one fetcher: the leader it copies from and its index among that leader's.
type fetcherKey struct {
	leader int32
	id     int
}

// NewManager returns a manager whose fetchers reach leader brokers through dial (for example
// kgo.Client.Broker(int(id)) of one inter-broker client). Every fetcher of a leader would share
// dial's client, so Config.NumFetchers is taken as 1; NewManagerPerFetcher runs several.
func NewManager(cfg Config, dial func(leaderID int32) (Client, error)) *Manager {
	cfg.NumFetchers = 1
	return NewManagerPerFetcher(cfg, func(leaderID int32, _ int) (Client, error) { return dial(leaderID) })
}

// NewManagerPerFetcher returns a manager running Config.NumFetchers fetchers per leader, each
// with the client dial returns for it.
func NewManagerPerFetcher(cfg Config, dial FetcherDial) *Manager {
	m := &Manager{cfg: cfg.normalized(), dial: dial}
	m.mu.fetchers = map[fetcherKey]*Fetcher{}
	m.mu.leaderOf = map[TopicPartition]fetcherKey{}
	return m
}

// FetcherID is the fetcher, among numFetchers per leader, that replicates tp: Kafka's
// abs(31 * topic.hashCode() + partition) % num.replica.fetchers, with Java's String.hashCode, so
// partitions spread over fetchers as on a Kafka broker with the same setting.
func FetcherID(tp TopicPartition, numFetchers int) int {
	if numFetchers <= 1 {
		return 0
	}
	var h int32
	for _, u := range utf16.Encode([]rune(tp.Topic)) {
		h = 31*h + int32(u)
	}
	return int((31*h+tp.Partition)&0x7fffffff) % numFetchers
}

// Follow replicates tp from leaderID at leaderEpoch into log, reporting to part: the broker calls
// it when the metadata image makes this broker a follower of tp (new leader or new epoch). A
// partition followed from another leader moves to one of this leader's fetchers.
func (m *Manager) Follow(tp TopicPartition, leaderID, leaderEpoch int32, part Partition, log Log) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return fmt.Errorf("replica: manager closed")
	}
	key := fetcherKey{leader: leaderID, id: FetcherID(tp, m.cfg.NumFetchers)}
	if old, ok := m.mu.leaderOf[tp]; ok && old != key {
		m.removeLocked(tp, old)
	}
	f := m.mu.fetchers[key]
	if f == nil {
		// NB: dial must not block on the network (a kgo client connects lazily).
		c, err := m.dial(leaderID, key.id)
		if err != nil {
			return fmt.Errorf("replica: fetcher %d for leader %d: %w", key.id, leaderID, err)
		}
		f = newFetcher(leaderID, key.id, c, m.cfg)
		m.mu.fetchers[key] = f
	}
	m.mu.leaderOf[tp] = key
	f.Add(tp, leaderEpoch, part, log)
	return nil
}

// Unfollow stops replicating tp (this broker became its leader, or no longer hosts it).
func (m *Manager) Unfollow(tp TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key, ok := m.mu.leaderOf[tp]; ok {
		m.removeLocked(tp, key)
	}
}

func (m *Manager) removeLocked(tp TopicPartition, key fetcherKey) {
	delete(m.mu.leaderOf, tp)
	f := m.mu.fetchers[key]
	if f == nil {
		return
	}
	f.Remove(tp)
	if f.Len() == 0 {
		delete(m.mu.fetchers, key)
		// NB: Close waits for the fetcher's loop, which never takes Manager.mu.
		f.Close()
	}
}

// Fetchers returns the number of running fetchers (up to Config.NumFetchers per leader followed).
func (m *Manager) Fetchers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.fetchers)
}

// Close stops every fetcher. It is idempotent.
func (m *Manager) Close() {
	m.mu.Lock()
	fs := m.mu.fetchers
	m.mu.fetchers, m.mu.closed = map[fetcherKey]*Fetcher{}, true
	m.mu.leaderOf = map[TopicPartition]fetcherKey{}
	m.mu.Unlock()
	for _, f := range fs {
		f.Close()
	}
}
