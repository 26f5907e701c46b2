package broker

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/log"
	replication "github.com/gregor-streams/gregor/broker/partition"
)

// topic is one topic's metadata and partitions. Fields other than partitions' logs are guarded by
// Broker.mu.
type topic struct {
	name       string
	id         [16]byte
	configs    map[string]string
	partitions []*partition
}

// partition is one partition of a topic hosted here: its log (storage) and its replica state
// (role, leader epoch, ISR, high watermark, waiters), which state owns.
type partition struct {
	topic *topic
	index int32
	log   *log.Log
	state *replication.Partition
	// openedHighWatermark is the high watermark the partition opened with (its checkpoint, clamped
	// to the log), for logs and tests.
	openedHighWatermark int64
}

// partitionDir spreads partitions over log.dirs by a stable hash.
func (b *Broker) partitionDir(topic string, p int32) string {
	name := topic + "-" + strconv.Itoa(int(p))
	if len(b.cfg.LogDirs) == 1 {
		return filepath.Join(b.cfg.LogDirs[0], name)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return filepath.Join(b.cfg.LogDirs[int(h.Sum32()%uint32(len(b.cfg.LogDirs)))], name)
}

// logConfig resolves a topic's effective log config.
func (b *Broker) logConfig(overrides map[string]string) log.Config {
	tc := config.Topic{Overrides: overrides, Broker: b.cfg}
	policy := tc.Get("cleanup.policy")
	dirtyRatio, err := strconv.ParseFloat(tc.Get("min.cleanable.dirty.ratio"), 64)
	if err != nil {
		dirtyRatio = 0.5
	}
	return log.Config{
		SegmentBytes:       tc.Int64("segment.bytes", b.cfg.LogSegmentBytes),
		SegmentMs:          tc.Int64("segment.ms", b.cfg.LogRollMs),
		RetentionMs:        tc.Int64("retention.ms", b.cfg.LogRetentionMs),
		RetentionBytes:     tc.Int64("retention.bytes", b.cfg.LogRetentionBytes),
		FlushMessages:      tc.Int64("flush.messages", b.cfg.LogFlushIntervalMessages),
		FlushMs:            tc.Int64("flush.ms", b.cfg.LogFlushIntervalMs),
		IndexIntervalBytes: tc.Int64("index.interval.bytes", b.cfg.LogIndexIntervalBytes),
		MaxMessageBytes:    int(tc.Int64("max.message.bytes", int64(b.cfg.MessageMaxBytes))),
		LogAppendTime:      tc.Get("message.timestamp.type") == "LogAppendTime",
		Delete:             strings.Contains(policy, "delete"),
		Compact:            strings.Contains(policy, "compact"),

		DeleteRetentionMs:      tc.Int64("delete.retention.ms", 86400000),
		MinCleanableDirtyRatio: dirtyRatio,
		MinCompactionLagMs:     tc.Int64("min.compaction.lag.ms", 0),
		MaxCompactionLagMs:     tc.Int64("max.compaction.lag.ms", math.MaxInt64),
	}
}

// openReplica opens (or creates) partition p of t, its log and its replica state, with no role yet:
// the caller applies an assignment. propose sends its ISR proposals (nil: a single node has none).
func (b *Broker) openReplica(t *topic, p int32, highWatermark int64, propose func(string, int32, replication.Proposal)) (*partition, error) {
	dir := b.partitionDir(t.name, p)
	if err := b.claimPartitionDir(dir, t.id); err != nil {
		return nil, fmt.Errorf("open partition %s-%d: %w", t.name, p, err)
	}
	l, err := log.Open(dir, b.logConfig(t.configs), log.Options{FS: b.fs, Logger: b.logger.With("partition", fmt.Sprintf("%s-%d", t.name, p))})
	if err != nil {
		return nil, fmt.Errorf("open partition %s-%d: %w", t.name, p, err)
	}
	highWatermark = max(highWatermark, l.LogStartOffset())
	part := &partition{topic: t, index: p, log: l, openedHighWatermark: highWatermark}
	part.state = replication.New(t.name, p, b.cfg.NodeID, l, highWatermark, b.replicationConfig(t.configs), replication.Options{Logger: b.partitionLogger, Propose: propose})
	return part, nil
}

// replicationConfig resolves a topic's replication config (min.insync.replicas).
func (b *Broker) replicationConfig(overrides map[string]string) replication.Config {
	tc := config.Topic{Overrides: overrides, Broker: b.cfg}
	return replication.Config{MinInsyncReplicas: tc.MinInsyncReplicas(), ReplicaLagTimeMaxMs: b.cfg.KRaft.ReplicaLagTimeMaxMs}
}

// validTopicName applies Kafka's rules: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) error {
	if name == "" {
		return errors.New("topic name is empty")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters long, the maximum is 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

// formatUUID renders a topic ID the way Kafka prints it: URL-safe base64 without padding.
func formatUUID(u [16]byte) string { return uuidEncoding.EncodeToString(u[:]) }

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	b, err := uuidEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("bad topic id %q", s)
	}
	copy(u[:], b)
	return u, nil
}
