package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errNotStopped is Kafka's refusal to modify the offsets of a connector that is not stopped.
func errNotStopped(name string) error {
	return fmt.Errorf("%w: Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", ErrInvalidConfig, name)
}

// sinkGroup is the consumer group of a sink connector's tasks.
func sinkGroup(connector string) string { return "connect-" + connector }

// sinkOffsetRequest is a validated sink offset change: a nil offset removes the partition's
// committed offset.
type sinkOffsetRequest struct {
	topic     string
	partition int32
	offset    *int64
}

// parseSinkOffsets checks a PATCH body for a sink connector: partitions are
// {"kafka_topic","kafka_partition"} and offsets {"kafka_offset"} or null.
func parseSinkOffsets(offsets []PartitionOffset) ([]sinkOffsetRequest, error) {
	out := make([]sinkOffsetRequest, 0, len(offsets))
	for i, po := range offsets {
		topic, ok := po.Partition["kafka_topic"].(string)
		if !ok || topic == "" {
			return nil, fmt.Errorf("%w: offsets[%d]: a sink partition needs a \"kafka_topic\" string", ErrInvalidConfig, i)
		}
		p, ok := jsonInt(po.Partition["kafka_partition"])
		if !ok || p < 0 || p > math.MaxInt32 {
			return nil, fmt.Errorf("%w: offsets[%d]: a sink partition needs a non-negative integer \"kafka_partition\"", ErrInvalidConfig, i)
		}
		r := sinkOffsetRequest{topic: topic, partition: int32(p)}
		if po.Offset != nil {
			o, ok := jsonInt(po.Offset["kafka_offset"])
			if !ok || o < 0 {
				return nil, fmt.Errorf("%w: offsets[%d]: a sink offset needs a non-negative integer \"kafka_offset\"", ErrInvalidConfig, i)
			}
			r.offset = &o
		}
		out = append(out, r)
	}
	return out, nil
}

func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case json.Number:
		i, err := x.Int64()
		return i, err == nil
	}
	return 0, false
}

// alterSinkOffsets commits or deletes a sink connector's group offsets. The group must be empty
// (its tasks stopped), as Kafka requires.
func alterSinkOffsets(ctx context.Context, opts []kgo.Opt, connector string, offsets []PartitionOffset) error {
	reqs, err := parseSinkOffsets(offsets)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	group := sinkGroup(connector)
	commit := kadm.Offsets{}
	deletes := kadm.TopicsSet{}
	for _, r := range reqs {
		if r.offset == nil {
			deletes.Add(r.topic, r.partition)
			continue
		}
		commit.AddOffset(r.topic, r.partition, *r.offset, -1)
	}
	if len(commit) > 0 {
		resp, err := adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("altering offsets of group %s: %w", group, err)
		}
	}
	if len(deletes) > 0 {
		resp, err := adm.DeleteOffsets(ctx, group, deletes)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("deleting offsets of group %s: %w", group, err)
		}
	}
	return nil
}

// resetSinkOffsets deletes a sink connector's consumer group, as Kafka does.
func resetSinkOffsets(ctx context.Context, opts []kgo.Opt, connector string) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	group := sinkGroup(connector)
	resp, err := kadm.NewClient(cl).DeleteGroup(ctx, group)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("deleting group %s: %w", group, err)
	}
	return nil
}

// sinkOffsets reads a sink connector's committed group offsets in REST shape.
func sinkOffsets(ctx context.Context, opts []kgo.Opt, connector string) ([]PartitionOffset, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	group := sinkGroup(connector)
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	out := []PartitionOffset{}
	for _, o := range resp.Sorted() {
		if o.Err != nil {
			return nil, fmt.Errorf("fetching offsets of group %s: %w", group, o.Err)
		}
		out = append(out, PartitionOffset{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
			Offset:    map[string]any{"kafka_offset": o.At},
		})
	}
	return out, nil
}

// checkSourceOffsets checks a PATCH body for a source connector: every entry names a partition.
func checkSourceOffsets(offsets []PartitionOffset) error {
	for i, po := range offsets {
		if po.Partition == nil {
			return fmt.Errorf("%w: offsets[%d]: \"partition\" must be a JSON object", ErrInvalidConfig, i)
		}
	}
	return nil
}

// AlterConnectorOffsets implements Herder: PATCH /connectors/{name}/offsets on a stopped connector.
func (s *Standalone) AlterConnectorOffsets(ctx context.Context, name string, offsets []PartitionOffset) (string, error) {
	typ, err := s.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsAlteredMessage, alterSinkOffsets(ctx, s.worker.clientOpts(), name, offsets)
	}
	if err := checkSourceOffsets(offsets); err != nil {
		return "", err
	}
	return offsetsAlteredMessage, s.worker.offsets.Put(name, offsets)
}

// ResetConnectorOffsets implements Herder: DELETE /connectors/{name}/offsets on a stopped connector.
func (s *Standalone) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	typ, err := s.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsResetMessage, resetSinkOffsets(ctx, s.worker.clientOpts(), name)
	}
	all, err := s.worker.offsets.All(name)
	if err != nil {
		return "", err
	}
	for i := range all {
		all[i].Offset = nil
	}
	return offsetsResetMessage, s.worker.offsets.Put(name, all)
}

// stoppedType returns the plugin type of a connector that is stopped, or why it cannot be modified.
func (s *Standalone) stoppedType(name string) (PluginType, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return "", err
	}
	if c.target != TargetStopped {
		return "", errNotStopped(name)
	}
	return c.plugin.Type, nil
}

// Messages of PATCH and DELETE /connectors/{name}/offsets, as Kafka words them for connectors
// whose offsets the framework manages.
const (
	offsetsAlteredMessage = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
	offsetsResetMessage   = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
)
