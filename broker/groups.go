package broker

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/broker/log"
)

// offsetsTopic holds committed offsets and group metadata (compacted), in Kafka's record formats.
const offsetsTopic = "__consumer_offsets"

func isInternalTopic(name string) bool { return name == offsetsTopic }

// groupDriver owns the group coordinator: one goroutine runs every operation on it, in order, and
// ticks its timers. Handlers submit closures and wait for their replies.
type groupDriver struct {
	b     *Broker
	coord *group.Coordinator
	ops   chan func(now time.Time)
}

// offsetsStore appends coordinator records to __consumer_offsets.
type offsetsStore struct{ b *Broker }

func (s offsetsStore) Persist(partition int32, recs []group.Record) error {
	_, p := s.b.lookup(offsetsTopic, partition)
	if p == nil {
		return fmt.Errorf("%s-%d does not exist", offsetsTopic, partition)
	}
	kvs := make([]log.KeyValue, len(recs))
	for i, r := range recs {
		kvs[i] = log.KeyValue{Key: r.Key, Value: r.Value}
	}
	batch := log.EncodeBatch(time.Now().UnixMilli(), kvs)
	// NB: acks=all, as Kafka's offsets.commit.required.acks: a commit is answered once its ISR has it.
	ack, err := p.state.AppendAsLeader(-1, func(leaderEpoch int32) (int64, error) {
		res, err := p.log.Append(batch, leaderEpoch)
		return res.LastOffset + 1, err
	})
	if err == nil {
		err = ack.Wait(offsetsCommitTimeout, s.b.stop)
	}
	if err != nil {
		s.b.repeats.Error("writing to the offsets topic failed", "partition", partition, "err", err)
		return fmt.Errorf("%s-%d: %w", offsetsTopic, partition, err)
	}
	return nil
}

// offsetsCommitTimeout bounds how long a group write waits for its ISR (Kafka's
// offsets.commit.timeout.ms default).
const offsetsCommitTimeout = 5 * time.Second

// openGroupCoordinator creates __consumer_offsets if needed and loads every group from it.
func (b *Broker) openGroupCoordinator() error {
	n := b.cfg.OffsetsTopicPartitions
	if t, _ := b.lookup(offsetsTopic, 0); t == nil {
		cfgs := map[string]string{
			"cleanup.policy": "compact",
			"segment.bytes":  strconv.FormatInt(b.cfg.OffsetsTopicSegmentBytes, 10),
		}
		if _, err := b.createTopic(offsetsTopic, n, cfgs, false, nil); err != nil {
			return fmt.Errorf("create %s: %w", offsetsTopic, err)
		}
	} else {
		b.mu.RLock()
		n = int32(len(t.partitions)) // the partition count a group hashes to is fixed at creation
		b.mu.RUnlock()
	}
	coord := group.New(group.Config{
		MinSessionTimeout:     time.Duration(b.cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:     time.Duration(b.cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		InitialRebalanceDelay: time.Duration(b.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond,
		MaxSize:               b.cfg.GroupMaxSize,
		OffsetsRetention:      time.Duration(b.cfg.OffsetsRetentionMinutes) * time.Minute,
		OffsetsRetentionCheck: time.Duration(b.cfg.OffsetsRetentionCheckInterval) * time.Millisecond,
		MaxMetadataBytes:      b.cfg.OffsetMetadataMaxBytes,
		Partitions:            n,
		PartitionExists: func(topic string, partition int32) bool {
			_, p := b.lookup(topic, partition)
			return p != nil
		},
	}, offsetsStore{b})
	start := time.Now()
	records := 0
	for p := int32(0); p < n; p++ {
		_, part := b.lookup(offsetsTopic, p)
		if part == nil {
			return fmt.Errorf("%s-%d is missing", offsetsTopic, p)
		}
		err := part.log.ScanRecords(0, func(r log.Record) error {
			records++
			if err := coord.Replay(r.Key, r.Value); err != nil {
				b.logger.Warn("skipping unreadable offsets record", "partition", p, "offset", r.Offset, "err", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load %s-%d: %w", offsetsTopic, p, err)
		}
	}
	coord.FinishLoad(time.Now())
	b.groups = &groupDriver{b: b, coord: coord, ops: make(chan func(time.Time))}
	b.logger.Info("loaded consumer groups", "records", records, "took", time.Since(start).Round(time.Millisecond))
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
			d.coord.Tick(now)
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
	b.groups.do(func(c *group.Coordinator, _ time.Time) {
		if n := c.DeleteTopicOffsets(topic); n > 0 {
			b.logger.Info("deleted the committed offsets of a deleted topic", "topic", topic, "offsets", n)
		}
	})
}

var errStopping = errors.New("broker: shutting down")

// do runs fn on the coordinator goroutine and waits for it to return (not for deferred replies).
func (d *groupDriver) do(fn func(c *group.Coordinator, now time.Time)) error {
	done := make(chan struct{})
	select {
	case d.ops <- func(now time.Time) { fn(d.coord, now); close(done) }:
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
