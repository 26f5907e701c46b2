package statestore

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOptions are the kgo options a changelog client needs: the manual partitioner (a
// store's changelog partition is its own partition, never the key's hash) and acks from all
// in-sync replicas. Add seed brokers and anything else:
//
//	cl, err := kgo.NewClient(append(statestore.ProducerOptions(), kgo.SeedBrokers(addr))...)
func ProducerOptions() []kgo.Opt {
	return []kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
}

// produce sends one changelog record asynchronously; Flush waits for it.
func (s *KeyValueStore) produce(key, value []byte) {
	s.inflight.add()
	s.changelogRecords.Add(1)
	r := &kgo.Record{Topic: s.topic, Partition: s.partition, Key: key, Value: value}
	s.client.Produce(context.Background(), r, s.acked)
}

// acked is the produce promise: it tracks the highest acked offset and the first error.
func (s *KeyValueStore) acked(r *kgo.Record, err error) {
	s.mu.Lock()
	if err != nil {
		if s.mu.produceErr == nil {
			s.mu.produceErr = &ChangelogError{Topic: s.topic, Partition: s.partition, Err: err}
		}
	} else if r.Offset > s.mu.lastAcked {
		s.mu.lastAcked = r.Offset
	}
	s.mu.Unlock()
	s.inflight.done()
}

func (s *KeyValueStore) produceErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.produceErr
}

// ChangelogError is a failure to write to a changelog topic. Once one happens the store
// refuses further writes: the local state may be ahead of the changelog, and the owner should
// close the store and reopen it (which restores it from the changelog).
//
// NB: when a changelog topic is deleted and recreated, kgo keeps failing produces to it with
// UNKNOWN_TOPIC_ID until the topic is purged from the producing client
// (kgo.Client.PurgeTopicsFromProducing). The store does not purge on its own, since the client
// is shared and purging abandons other stores' buffered records; the owner of the client does.
type ChangelogError struct {
	Topic     string
	Partition int32
	Err       error
}

func (e *ChangelogError) Error() string {
	return "statestore: changelog " + e.Topic + "/" + itoa(e.Partition) + ": " + e.Err.Error()
}

func (e *ChangelogError) Unwrap() error { return e.Err }

// inflight counts records produced and not yet acked. Unlike sync.WaitGroup, add may race
// with wait.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while n == 0 and nobody waits
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
	f.mu.Unlock()
}

func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.zero == nil {
		f.zero = make(chan struct{})
	}
	ch := f.zero
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeCache holds, per key, the latest update not yet sent to the changelog. A nil value is a
// tombstone.
type writeCache struct {
	max   int
	mu    sync.Mutex
	dirty map[string][]byte
}

// logChange sends an update to the changelog, through the write cache when it is on. The store
// owns key and value.
func (s *KeyValueStore) logChange(key, value []byte) {
	if s.cache.max <= 0 {
		s.produce(key, value)
		return
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.cache.dirty == nil {
		s.cache.dirty = make(map[string][]byte)
	}
	s.cache.dirty[string(key)] = value
	if len(s.cache.dirty) > s.cache.max {
		s.produceDirtyLocked()
	}
}

// flushCache sends every pending update to the changelog.
func (s *KeyValueStore) flushCache() {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	s.produceDirtyLocked()
}

// produceDirtyLocked sends the pending updates in map order and empties the cache.
//
// NB: only the order per key matters to a compacted changelog and each key appears once per
// batch; the cache lock is held while producing so that a key's next update cannot overtake
// this one. The produce promise never takes the cache lock.
func (s *KeyValueStore) produceDirtyLocked() {
	for k, v := range s.cache.dirty {
		s.produce([]byte(k), v)
	}
	s.cache.dirty = nil
}
