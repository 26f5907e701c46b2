package replica

import (
	"fmt"
	"sync"
)

// Manager keeps one Fetcher per leader broker this broker follows partitions of (Kafka's
// ReplicaFetcherManager with one fetcher per source broker), starting a fetcher with its first
// partition and closing it with its last. Methods are safe for concurrent use.
type Manager struct {
	cfg Config
	// dial returns the client for a leader broker. Called with mu held: it must not block.
	dial func(leaderID int32) (Client, error)

	mu struct {
		sync.Mutex
		fetchers map[int32]*Fetcher
		leaderOf map[TopicPartition]int32
		closed   bool
	}
}

// NewManager returns a manager whose fetchers reach leader brokers through dial (for example
// kgo.Client.Broker(int(id)) of one inter-broker client).
func NewManager(cfg Config, dial func(leaderID int32) (Client, error)) *Manager {
	m := &Manager{cfg: cfg.normalized(), dial: dial}
	m.mu.fetchers = map[int32]*Fetcher{}
	m.mu.leaderOf = map[TopicPartition]int32{}
	return m
}

// Follow replicates tp from leaderID at leaderEpoch into log, reporting to part: the broker calls
// it when the metadata image makes this broker a follower of tp (new leader or new epoch). A
// partition followed from another leader moves to this leader's fetcher.
func (m *Manager) Follow(tp TopicPartition, leaderID, leaderEpoch int32, part Partition, log Log) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return fmt.Errorf("replica: manager closed")
	}
	if old, ok := m.mu.leaderOf[tp]; ok && old != leaderID {
		m.removeLocked(tp, old)
	}
	f := m.mu.fetchers[leaderID]
	if f == nil {
		// NB: dial must not block on the network (a kgo client connects lazily).
		c, err := m.dial(leaderID)
		if err != nil {
			return fmt.Errorf("replica: fetcher for leader %d: %w", leaderID, err)
		}
		f = NewFetcher(leaderID, c, m.cfg)
		m.mu.fetchers[leaderID] = f
	}
	m.mu.leaderOf[tp] = leaderID
	f.Add(tp, leaderEpoch, part, log)
	return nil
}

// Unfollow stops replicating tp (this broker became its leader, or no longer hosts it).
func (m *Manager) Unfollow(tp TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if leader, ok := m.mu.leaderOf[tp]; ok {
		m.removeLocked(tp, leader)
	}
}

func (m *Manager) removeLocked(tp TopicPartition, leader int32) {
	delete(m.mu.leaderOf, tp)
	f := m.mu.fetchers[leader]
	if f == nil {
		return
	}
	f.Remove(tp)
	if f.Len() == 0 {
		delete(m.mu.fetchers, leader)
		// NB: Close waits for the fetcher's loop, which never takes Manager.mu.
		f.Close()
	}
}

// Fetchers returns the number of running fetchers (one per leader followed).
func (m *Manager) Fetchers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.fetchers)
}

// Close stops every fetcher. It is idempotent.
func (m *Manager) Close() {
	m.mu.Lock()
	fs := m.mu.fetchers
	m.mu.fetchers, m.mu.closed = map[int32]*Fetcher{}, true
	m.mu.leaderOf = map[TopicPartition]int32{}
	m.mu.Unlock()
	for _, f := range fs {
		f.Close()
	}
}
