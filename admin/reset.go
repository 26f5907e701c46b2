package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ResetKind is which of an offset reset's mutually exclusive targets is meant.
type ResetKind int

// Reset targets, as kafka-consumer-groups.sh names them.
const (
	ResetToEarliest ResetKind = iota + 1 // --to-earliest: the log start offset
	ResetToLatest                        // --to-latest: the log end offset
	ResetToOffset                        // --to-offset: a given offset
	ResetShiftBy                         // --shift-by: the committed offset moved by a delta
	ResetToTime                          // --to-datetime and --by-duration: the first offset at or after a time
	ResetToCurrent                       // --to-current: the committed offset
)

// ResetStrategy is where a reset moves each partition.
type ResetStrategy struct {
	Kind ResetKind
	// Offset is the target of ResetToOffset and the delta of ResetShiftBy.
	Offset int64
	// Millis is ResetToTime's timestamp (Unix ms): the first offset at or after it.
	Millis int64
}

// PartitionOffsets is what PlanResetOffset knows about a partition.
type PartitionOffsets struct {
	Committed int64 // the group's committed offset, -1 if none
	Start     int64 // log start offset
	End       int64 // log end offset
	AtTime    int64 // ResetToTime: the listed offset for the timestamp, -1 if no record is that late
}

// PlanResetOffset returns the new offset of one partition, clamped to [Start, End] as Kafka's
// checkOffsetsRange does. It fails only for ResetShiftBy on a partition without a committed offset.
func PlanResetOffset(s ResetStrategy, p PartitionOffsets, topic string, partition int32) (int64, error) {
	var target int64
	switch s.Kind {
	case ResetToEarliest:
		target = p.Start
	case ResetToLatest:
		target = p.End
	case ResetToOffset:
		target = s.Offset
	case ResetShiftBy:
		if p.Committed < 0 {
			return 0, fmt.Errorf("cannot shift offset for partition %s-%d since there is no current committed offset", topic, partition)
		}
		target = p.Committed + s.Offset
	case ResetToTime:
		target = p.AtTime
		if target < 0 { // no record at or after the time
			target = p.End
		}
	case ResetToCurrent:
		target = p.Committed
		if target < 0 { // Kafka resets partitions without a commit to the end
			target = p.End
		}
	}
	return min(max(target, p.Start), p.End), nil
}

// GroupError is a failure about a whole group (fetching its committed offsets); Err wraps the
// Kafka error code when there is one.
type GroupError struct {
	Group string
	Err   error
}

func (e *GroupError) Error() string { return fmt.Sprintf("group %q: %v", e.Group, e.Err) }

// Unwrap returns the cause.
func (e *GroupError) Unwrap() error { return e.Err }

// PartitionError is a failure about one partition while listing its offsets. Missing means the
// partition was absent from the broker's answer (Err is then UNKNOWN_TOPIC_OR_PARTITION).
type PartitionError struct {
	Topic     string
	Partition int32
	Missing   bool
	Err       error
}

func (e *PartitionError) Error() string {
	if e.Missing {
		return fmt.Sprintf("topic %q has no partition %d", e.Topic, e.Partition)
	}
	return fmt.Sprintf("topic %q, partition %d: %v", e.Topic, e.Partition, e.Err)
}

// Unwrap returns the cause.
func (e *PartitionError) Unwrap() error { return e.Err }

// PlanGroupReset computes the new offsets of group on partitions, or, when partitions is nil, on
// every partition the group has committed offsets for. It changes nothing: committing the plan is
// the caller's decision (kafka-consumer-groups.sh's --dry-run and --execute). A group that does
// not exist yet plans from no commits. Errors are *GroupError, *PartitionError, or wrap a listing
// failure.
func PlanGroupReset(ctx context.Context, adm *kadm.Client, group string, partitions kadm.TopicsSet, s ResetStrategy) (kadm.Offsets, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, &GroupError{Group: group, Err: err}
	}
	if partitions == nil {
		partitions = make(kadm.TopicsSet)
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				partitions.Add(o.Topic, o.Partition)
			}
		})
	}
	topics := partitions.Topics()
	if len(topics) == 0 {
		return nil, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	var atTime kadm.ListedOffsets
	if s.Kind == ResetToTime {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, s.Millis, topics...); err != nil {
			return nil, fmt.Errorf("listing offsets by time: %w", err)
		}
	}

	plan := make(kadm.Offsets)
	for _, t := range partitions.Sorted() {
		for _, p := range t.Partitions {
			var po PartitionOffsets
			var err error
			if po.Start, err = listedOffset(starts, t.Topic, p); err != nil {
				return nil, err
			}
			if po.End, err = listedOffset(ends, t.Topic, p); err != nil {
				return nil, err
			}
			po.Committed, po.AtTime = -1, -1
			if c, ok := committed.Lookup(t.Topic, p); ok && c.Err == nil {
				po.Committed = c.At
			}
			if s.Kind == ResetToTime {
				if po.AtTime, err = listedOffset(atTime, t.Topic, p); err != nil {
					return nil, err
				}
			}
			offset, err := PlanResetOffset(s, po, t.Topic, p)
			if err != nil {
				return nil, err
			}
			plan.Add(kadm.Offset{Topic: t.Topic, Partition: p, At: offset, LeaderEpoch: -1})
		}
	}
	return plan, nil
}

// listedOffset looks up one partition in a ListOffsets result.
func listedOffset(listed kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	o, ok := listed.Lookup(topic, partition)
	switch {
	case !ok:
		return 0, &PartitionError{Topic: topic, Partition: partition, Missing: true, Err: kerr.UnknownTopicOrPartition}
	case o.Err != nil:
		return 0, &PartitionError{Topic: topic, Partition: partition, Err: o.Err}
	}
	return o.Offset, nil
}
