package broker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/broker/log"
)

// offsetsTopic holds committed offsets and group metadata (compacted), in Kafka's record formats.
const offsetsTopic = "__consumer_offsets"

func isInternalTopic(name string) bool { return name == offsetsTopic }

// groupDriver runs this broker's group coordinators: one group.Coordinator per __consumer_offsets
// partition it coordinates, on one goroutine (run) that carries out every operation in order and
// ticks their timers. Handlers submit closures and wait for their replies.
//
// A broker coordinates the offsets partitions it leads (groupleaders.go): the coordinators move with
// partition leadership.
type groupDriver struct {
	b   *Broker
	ops chan func(now time.Time)
	// shards are the coordinators by offsets partition; run's alone once run started.
	shards map[int32]*groupShard
	// nobody answers requests naming no group (INVALID_GROUP_ID): they concern no partition.
	nobody *group.Coordinator
	// wake (capacity 1) tells run that mu.led changed.
	wake chan struct{}
	mu   struct {
		sync.Mutex
		// led holds the offsets partitions this broker leads in the newest image applied, with
		// their leader epochs, and partitions the offsets topic's partition count in that image.
		led        map[int32]int32
		partitions int32
		// creating is set while a CreateTopics of the offsets topic is in flight.
		creating bool
		// deletedTopics are topics the images deleted whose offsets run has not deleted yet.
		deletedTopics []string
	}
}

// groupShard is the coordinator of one offsets partition.
type groupShard struct {
	// coord is nil while the partition's groups are loading (COORDINATOR_LOAD_IN_PROGRESS).
	coord *group.Coordinator
	// leaderEpoch is the leader epoch the groups were loaded in (-1 on a single node).
	leaderEpoch int32
}

// offsetsStore appends one offsets partition's coordinator records to __consumer_offsets.
type offsetsStore struct {
	b *Broker
	// leaderEpoch is the leader epoch the coordinator was loaded in; a write in any other epoch
	// is refused (the coordinator's state may be stale). -1: any epoch (a single node).
	leaderEpoch int32
}

func (s offsetsStore) Persist(partition int32, recs []group.Record) error {
	_, p := s.b.lookup(offsetsTopic, partition)
	if p == nil {
		return fmt.Errorf("%s-%d: %w: no replica here", offsetsTopic, partition, group.ErrNotCoordinator)
	}
	kvs := make([]log.KeyValue, len(recs))
	for i, r := range recs {
		kvs[i] = log.KeyValue{Key: r.Key, Value: r.Value}
	}
	batch := log.EncodeBatch(time.Now().UnixMilli(), kvs)
	// NB: acks=all, as Kafka's offsets.commit.required.acks: a commit is answered once its ISR has it.
	ack, err := p.state.AppendAsLeader(-1, func(leaderEpoch int32) (int64, error) {
		if s.leaderEpoch >= 0 && leaderEpoch != s.leaderEpoch {
			return 0, fmt.Errorf("%w: leader epoch %d, groups loaded in %d", group.ErrNotCoordinator, leaderEpoch, s.leaderEpoch)
		}
		res, err := p.log.Append(batch, leaderEpoch)
		return res.LastOffset + 1, err
	})
	if err == nil {
		err = ack.Wait(offsetsCommitTimeout, s.b.stop)
	}
	if err != nil {
		if code := codeFor(err); code == kerr.NotLeaderForPartition.Code || code == kerr.FencedLeaderEpoch.Code {
			err = fmt.Errorf("%w: %w", group.ErrNotCoordinator, err)
		}
		s.b.repeats.Error("writing to the offsets topic failed", "partition", partition, "err", err)
		return fmt.Errorf("%s-%d: %w", offsetsTopic, partition, err)
	}
	return nil
}

// offsetsCommitTimeout bounds how long a group write waits for its ISR (Kafka's
// offsets.commit.timeout.ms default).
const offsetsCommitTimeout = 5 * time.Second

// groupConfig is the coordinators' config; partitions is the offsets topic's partition count.
func (b *Broker) groupConfig(partitions int32) group.Config {
	return group.Config{
		MinSessionTimeout:     time.Duration(b.cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:     time.Duration(b.cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		InitialRebalanceDelay: time.Duration(b.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MaxSize:               b.cfg.GroupMaxSize,
		OffsetsRetention:      time.Duration(b.cfg.OffsetsRetentionMinutes) * time.Minute,
		OffsetsRetentionCheck: time.Duration(b.cfg.OffsetsRetentionCheckInterval) * time.Millisecond,
		MaxMetadataBytes:      b.cfg.OffsetMetadataMaxBytes,
		Partitions:            partitions,
		PartitionExists:       b.partitionExists,
	}
}

// partitionExists reports whether a topic has the partition, wherever its replicas are (a KRaft
// broker's registry has a hole for a partition it hosts no replica of).
func (b *Broker) partitionExists(topic string, partition int32) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[topic]
	return t != nil && partition >= 0 && int(partition) < len(t.partitions)
}

// errScanDone ends a load's scan at the offset it loads up to.
var errScanDone = errors.New("broker: scan done")

// loadGroups replays offsets partition index's records below upTo into a new coordinator whose
// writes go through store, and starts its members' session timers.
func (b *Broker) loadGroups(p *partition, partitions int32, upTo int64, store group.Store) (*group.Coordinator, int, error) {
	coord := group.New(b.groupConfig(partitions), store)
	records := 0
	err := p.log.ScanRecords(0, func(r log.Record) error {
		if r.Offset >= upTo {
			return errScanDone
		}
		records++
		if err := coord.Replay(r.Key, r.Value); err != nil {
			b.logger.Warn("skipping unreadable offsets record", "partition", p.index, "offset", r.Offset, "err", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errScanDone) {
		return nil, records, fmt.Errorf("load %s-%d: %w", offsetsTopic, p.index, err)
	}
	coord.FinishLoad(time.Now())
	return coord, records, nil
}

// openGroupCoordinator sets up the group driver, with no coordinator: the image's leadership of
// the offsets partitions brings them (groupleaders.go).
func (b *Broker) openGroupCoordinator() error {
	d := &groupDriver{b: b, ops: make(chan func(time.Time)), shards: map[int32]*groupShard{}, wake: make(chan struct{}, 1)}
	d.nobody = group.New(b.groupConfig(1), offsetsStore{b: b})
	d.mu.led = map[int32]int32{}
	b.groups = d
	return nil
}

func (d *groupDriver) run() {
	defer d.b.wg.Done()
	t := time.NewTicker(group.SessionCheckInterval)
	defer t.Stop()
	for {
		select {
		case op := <-d.ops:
			op(time.Now())
		case now := <-t.C:
			for _, s := range d.shards {
				if s.coord != nil {
					s.coord.Tick(now)
				}
			}
		case <-d.wake:
			d.reconcile()
		case <-d.b.stop:
			return
		}
	}
}

// deleteTopicOffsets removes every group's committed offsets of a deleted topic.
func (b *Broker) deleteTopicOffsets(topic string) {
	if b.groups == nil {
		return
	}
	b.groups.doAll(func(c *group.Coordinator, _ time.Time) {
		if n := c.DeleteTopicOffsets(topic); n > 0 {
			b.logger.Info("deleted the committed offsets of a deleted topic", "topic", topic, "offsets", n)
		}
	})
}

var errStopping = errors.New("broker: shutting down")

// do runs fn on the driver goroutine and waits for it to return (not for deferred replies).
func (d *groupDriver) do(fn func(now time.Time)) error {
	done := make(chan struct{})
	select {
	case d.ops <- func(now time.Time) { fn(now); close(done) }:
	case <-d.b.stop:
		return errStopping
	}
	select {
	case <-done:
		return nil
	case <-d.b.stop:
		return errStopping
	}
}

// doGroup runs fn on the coordinator of groupID's offsets partition. When this broker does not
// coordinate the group now, fn does not run and the Kafka error code is returned instead:
// NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while the partition's groups load. An empty
// group ID runs on a coordinator of no partition (which answers INVALID_GROUP_ID).
func (d *groupDriver) doGroup(groupID string, fn func(c *group.Coordinator, now time.Time)) (int16, error) {
	var code int16
	err := d.do(func(now time.Time) {
		if groupID == "" {
			fn(d.nobody, now)
			return
		}
		c, cc := d.coordinatorOf(groupID)
		if c == nil {
			code = cc
			return
		}
		fn(c, now)
	})
	return code, err
}

// coordinatorOf returns the coordinator of groupID, or nil and the error code to answer.
// Run on the driver goroutine (which owns shards).
func (d *groupDriver) coordinatorOf(groupID string) (*group.Coordinator, int16) {
	d.mu.Lock()
	n := d.mu.partitions
	d.mu.Unlock()
	if n <= 0 {
		return nil, kerr.NotCoordinator.Code
	}
	s := d.shards[group.PartitionFor(groupID, n)]
	switch {
	case s == nil:
		return nil, kerr.NotCoordinator.Code
	case s.coord == nil:
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	return s.coord, 0
}

// doAll runs fn on every loaded coordinator; loading is true if some partition is still loading.
func (d *groupDriver) doAll(fn func(c *group.Coordinator, now time.Time)) (loading bool, err error) {
	err = d.do(func(now time.Time) {
		for _, s := range d.shards {
			if s.coord == nil {
				loading = true
				continue
			}
			fn(s.coord, now)
		}
	})
	return loading, err
}
