package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MirrorCheckpointConnector is MirrorMaker 2's MirrorCheckpointConnector: it translates the
// committed offsets of the source's consumer groups through the offset syncs into checkpoints on
// the target (<source>.checkpoints.internal) and, with sync.group.offsets.enabled, commits them to
// the same groups on the target while they have no members there, so consumers can fail over.
type MirrorCheckpointConnector struct{ singleTaskConnector }

// Start implements connect.Connector.
func (c *MirrorCheckpointConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	return c.start(config, func(f flowConfig) bool { return f.emitCheckpoints || f.syncGroups },
		func(f flowConfig) string { return CheckpointsTopic(f.sourceAlias) })
}

// NewTask implements connect.SourceConnector.
func (*MirrorCheckpointConnector) NewTask() connect.SourceTask { return &checkpointTask{} }

type groupPartition struct {
	group string
	partitionID
}

// checkpointTask runs on the worker's task goroutine only.
type checkpointTask struct {
	flow        flowConfig
	log         *slog.Logger
	source      *kadm.Client
	target      *kadm.Client
	syncReader  *kgo.Client
	syncs       syncStore
	emitted     map[groupPartition]Checkpoint // last checkpoint emitted
	nextEmit    time.Time
	nextGroupIn time.Time
}

// Start implements connect.SourceTask.
func (t *checkpointTask) Start(ctx connect.SourceTaskContext, config map[string]string) error {
	flow, err := parseFlow(config)
	if err != nil {
		return err
	}
	t.flow, t.log, t.syncs, t.emitted = flow, contextLogger(ctx), syncStore{}, map[groupPartition]Checkpoint{}
	src, err := flow.sourceClient()
	if err != nil {
		return fmt.Errorf("mirror: source client: %w", err)
	}
	tgt, err := flow.targetClient()
	if err != nil {
		src.Close()
		return fmt.Errorf("mirror: target client: %w", err)
	}
	t.source, t.target = kadm.NewClient(src), kadm.NewClient(tgt)
	if t.syncReader, err = flow.offsetSyncsClient(kgo.ConsumeTopics(OffsetSyncsTopic(flow.targetAlias)), kgo.FetchMaxWait(100*time.Millisecond)); err != nil {
		t.Stop()
		return fmt.Errorf("mirror: offset-syncs reader: %w", err)
	}
	return nil
}

// Poll implements connect.SourceTask: every emit.checkpoints.interval.seconds, the checkpoints
// that changed.
func (t *checkpointTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	if !waitUntil(ctx, t.nextEmit) {
		return nil, nil
	}
	t.nextEmit = time.Now().Add(t.flow.checkpointsEvery)
	t.readSyncs(ctx)
	checkpoints, err := t.checkpoints(ctx)
	if err != nil {
		t.log.Warn("mirror: reading group offsets", "error", err)
		return nil, nil
	}
	if t.flow.syncGroups && !time.Now().Before(t.nextGroupIn) {
		t.nextGroupIn = time.Now().Add(t.flow.syncsEvery)
		t.syncGroupOffsets(ctx, checkpoints)
	}
	if !t.flow.emitCheckpoints {
		return nil, nil
	}
	var out []connect.SourceRecord
	partition := int32(0)
	for _, cp := range checkpoints {
		key := groupPartition{cp.Group, partitionID{cp.Topic, cp.Partition}}
		if t.emitted[key] == cp {
			continue
		}
		t.emitted[key] = cp
		out = append(out, connect.SourceRecord{
			SourcePartition: map[string]any{"group": cp.Group, partitionKeyTopic: cp.Topic, partitionKeyPartition: int64(cp.Partition)},
			SourceOffset:    map[string]any{offsetKey: cp.UpstreamOffset},
			Topic:           CheckpointsTopic(t.flow.sourceAlias), Partition: &partition,
			KeySchema: connect.OptionalBytesSchema, Key: cp.Key(),
			ValueSchema: connect.OptionalBytesSchema, Value: cp.Value(),
			Timestamp: time.Now(),
		})
	}
	return out, nil
}

// readSyncs reads the offset syncs written since the last call (bounded in rounds).
func (t *checkpointTask) readSyncs(ctx context.Context) {
	for range 100 {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := t.syncReader.PollRecords(pctx, 10000)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if s, err := DecodeOffsetSync(r.Key, r.Value); err == nil {
				t.syncs.add(s)
			} else {
				t.log.Warn("mirror: skipping an offset sync", "error", err)
			}
		})
		if n == 0 {
			return
		}
	}
}

// checkpoints translates the committed offsets of every replicated group.
func (t *checkpointTask) checkpoints(ctx context.Context) ([]Checkpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	listed, err := t.source.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for _, group := range listed.Groups() {
		if !t.flow.replicatesGroup(group) {
			continue
		}
		offsets, err := t.source.FetchOffsets(ctx, group)
		if err != nil {
			t.log.Warn("mirror: fetching group offsets", "group", group, "error", err)
			continue
		}
		offsets.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || !t.flow.replicates(o.Topic) {
				return
			}
			downstream, ok := t.syncs.translate(o.Topic, o.Partition, o.At)
			if !ok {
				return
			}
			out = append(out, Checkpoint{Group: group, Topic: t.flow.policy.FormatRemoteTopic(t.flow.sourceAlias, o.Topic),
				Partition: o.Partition, UpstreamOffset: o.At, DownstreamOffset: downstream, Metadata: o.Metadata})
		})
	}
	return out, nil
}

// syncGroupOffsets commits translated offsets to groups on the target that have no members
// there, only moving an offset forward, as MirrorMaker 2 does.
func (t *checkpointTask) syncGroupOffsets(ctx context.Context, checkpoints []Checkpoint) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	byGroup := map[string][]Checkpoint{}
	for _, cp := range checkpoints {
		byGroup[cp.Group] = append(byGroup[cp.Group], cp)
	}
	for group, cps := range byGroup {
		described, err := t.target.DescribeGroups(ctx, group)
		if err != nil {
			t.log.Warn("mirror: describing a target group", "group", group, "error", err)
			continue
		}
		if d, ok := described[group]; ok && d.Err == nil && len(d.Members) > 0 {
			continue // NB: a group consuming on the target owns its offsets
		}
		current, err := t.target.FetchOffsets(ctx, group)
		if err != nil {
			t.log.Warn("mirror: fetching target group offsets", "group", group, "error", err)
			continue
		}
		commit := kadm.Offsets{}
		for _, cp := range cps {
			if o, ok := current.Lookup(cp.Topic, cp.Partition); ok && o.Err == nil && o.At >= cp.DownstreamOffset {
				continue
			}
			commit.Add(kadm.Offset{Topic: cp.Topic, Partition: cp.Partition, At: cp.DownstreamOffset, LeaderEpoch: -1, Metadata: cp.Metadata})
		}
		if len(commit) == 0 {
			continue
		}
		if resp, err := t.target.CommitOffsets(ctx, group, commit); err != nil || resp.Error() != nil {
			t.log.Warn("mirror: committing translated offsets", "group", group, "error", err, "partition_error", resp.Error())
		}
	}
}

// Stop implements connect.SourceTask.
func (t *checkpointTask) Stop() error {
	if t.syncReader != nil {
		t.syncReader.Close()
	}
	if t.source != nil {
		t.source.Close()
	}
	if t.target != nil {
		t.target.Close()
	}
	return nil
}
