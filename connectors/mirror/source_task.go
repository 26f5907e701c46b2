package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Source offset keys, as MirrorMaker 2 writes them.
const (
	partitionKeyCluster   = "cluster"
	partitionKeyTopic     = "topic"
	partitionKeyPartition = "partition"
	offsetKey             = "offset"
)

// pollBatch is the most records one Poll returns.
const pollBatch = 2000

// pollWait bounds how long Poll waits for records, so the worker gets to commit and stop.
const pollWait = 500 * time.Millisecond

// sourceTask copies its assigned source partitions to their remote topics and writes offset
// syncs. Start, Poll and Stop run on the worker's task goroutine; CommitRecord on producer
// callback goroutines.
type sourceTask struct {
	flow     flowConfig
	log      *slog.Logger
	consumer *kgo.Client
	syncs    *kgo.Client // producer of offset syncs
	remote   map[string]string

	mu struct {
		sync.Mutex
		last map[partitionID]OffsetSync // last offset sync written per source partition
	}
}

type partitionID struct {
	topic     string
	partition int32
}

// Start implements connect.SourceTask: it resumes each assigned partition after the last
// committed source offset, or at the start of the partition.
func (t *sourceTask) Start(ctx connect.SourceTaskContext, config map[string]string) error {
	flow, err := parseFlow(config)
	if err != nil {
		return err
	}
	assigned, err := parseAssigned(config[ConfigAssignedPartitions])
	if err != nil {
		return err
	}
	t.flow, t.log, t.remote = flow, contextLogger(ctx), map[string]string{}
	t.mu.last = map[partitionID]OffsetSync{}
	start := map[string]map[int32]kgo.Offset{}
	for topic, parts := range assigned {
		t.remote[topic] = flow.policy.FormatRemoteTopic(flow.sourceAlias, topic)
		start[topic] = map[int32]kgo.Offset{}
		for _, p := range parts {
			off, err := ctx.OffsetReader().Offset(sourcePartition(flow.sourceAlias, topic, p))
			if err != nil {
				return fmt.Errorf("mirror: reading the source offset of %s-%d: %w", topic, p, err)
			}
			if n, ok := int64Of(off[offsetKey]); ok {
				start[topic][p] = kgo.NewOffset().At(n + 1)
			} else {
				start[topic][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	if t.consumer, err = flow.sourceClient(kgo.ConsumePartitions(start), kgo.FetchMaxWait(pollWait)); err != nil {
		return fmt.Errorf("mirror: source consumer: %w", err)
	}
	if t.syncs, err = flow.offsetSyncsClient(kgo.DefaultProduceTopic(OffsetSyncsTopic(flow.targetAlias))); err != nil {
		t.consumer.Close()
		return fmt.Errorf("mirror: offset-syncs producer: %w", err)
	}
	return nil
}

func sourcePartition(cluster, topic string, partition int32) map[string]any {
	return map[string]any{partitionKeyCluster: cluster, partitionKeyTopic: topic, partitionKeyPartition: int64(partition)}
}

// int64Of reads a number that went through JSON.
func int64Of(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// Poll implements connect.SourceTask: the records fetched so far, as bytes, each to the same
// partition of its remote topic with its key, value, headers and timestamp.
func (t *sourceTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, pollWait)
	defer cancel()
	fetches := t.consumer.PollRecords(ctx, pollBatch)
	var firstErr error
	fetches.EachError(func(topic string, p int32, err error) {
		if firstErr == nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			firstErr = fmt.Errorf("mirror: fetching %s-%d: %w", topic, p, err)
		}
	})
	if firstErr != nil {
		t.log.Warn("mirror: fetch", "error", firstErr) // NB: kgo retries by itself; only report
	}
	out := make([]connect.SourceRecord, 0, fetches.NumRecords())
	fetches.EachRecord(func(r *kgo.Record) {
		partition := r.Partition
		var headers []connect.Header
		if len(r.Headers) > 0 {
			headers = make([]connect.Header, len(r.Headers))
			for i, h := range r.Headers {
				headers[i] = connect.Header{Key: h.Key, Value: h.Value}
			}
		}
		out = append(out, connect.SourceRecord{
			SourcePartition: sourcePartition(t.flow.sourceAlias, r.Topic, r.Partition),
			SourceOffset:    map[string]any{offsetKey: r.Offset},
			Topic:           t.remote[r.Topic],
			Partition:       &partition,
			KeySchema:       connect.OptionalBytesSchema,
			Key:             r.Key,
			ValueSchema:     connect.OptionalBytesSchema,
			Value:           r.Value,
			Timestamp:       r.Timestamp,
			Headers:         headers,
		})
	})
	return out, nil
}

// Commit implements connect.SourceTaskCommitter.
func (t *sourceTask) Commit() error { return nil }

// CommitRecord implements connect.SourceTaskCommitter: once the target acknowledged a record, it
// writes an offset sync when none was written for the partition yet, when the source moved at
// least offset.lag.max past the last sync, or when the target offsets no longer follow the source
// offsets one to one (a retry after a crash wrote duplicates).
func (t *sourceTask) CommitRecord(record connect.SourceRecord, md connect.RecordMetadata) error {
	topic, _ := record.SourcePartition[partitionKeyTopic].(string)
	upstream, ok := int64Of(record.SourceOffset[offsetKey])
	if !ok {
		return nil
	}
	id := partitionID{topic, md.Partition}
	// NB: callbacks of one partition come in order, so the map only moves forward.
	t.mu.Lock()
	last, seen := t.mu.last[id]
	emit := !seen || upstream-last.UpstreamOffset >= t.flow.offsetLagMax ||
		md.Offset-last.DownstreamOffset != upstream-last.UpstreamOffset
	sync := OffsetSync{Topic: topic, Partition: md.Partition, UpstreamOffset: upstream, DownstreamOffset: md.Offset}
	if emit {
		t.mu.last[id] = sync
	}
	t.mu.Unlock()
	if emit {
		// NB: TryProduce, never blocking the worker's callback goroutine on an unreachable source
		// cluster: a sync dropped only makes a later translation less precise, never wrong.
		t.syncs.TryProduce(context.Background(), &kgo.Record{Key: sync.Key(), Value: sync.Value()}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.log.Warn("mirror: writing an offset sync", "topic", topic, "partition", md.Partition, "error", err)
			}
		})
	}
	return nil
}

// Stop implements connect.SourceTask.
func (t *sourceTask) Stop() error {
	if t.consumer != nil {
		t.consumer.Close()
	}
	if t.syncs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = t.syncs.Flush(ctx)
		t.syncs.Close()
	}
	return nil
}
