package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/kadm"
)

// singleTaskConnector is the connector half of the checkpoint and heartbeat connectors: it
// creates its compacted one-partition topic on the target and runs one task while enabled.
type singleTaskConnector struct {
	config  map[string]string
	enabled bool
}

// Version implements connect.Connector.
func (*singleTaskConnector) Version() string { return connect.Version }

// ConfigDef implements connect.Connector.
func (*singleTaskConnector) ConfigDef() *connect.ConfigDef { return configDef() }

// TaskConfigs implements connect.Connector: one task, or none when disabled.
func (c *singleTaskConnector) TaskConfigs(int) ([]map[string]string, error) {
	if !c.enabled {
		return []map[string]string{}, nil
	}
	return []map[string]string{c.config}, nil
}

// Stop implements connect.Connector.
func (*singleTaskConnector) Stop() error { return nil }

func (c *singleTaskConnector) start(config map[string]string, enabled func(flowConfig) bool, topic func(flowConfig) string) error {
	flow, err := parseFlow(config)
	if err != nil {
		return err
	}
	c.config, c.enabled = config, enabled(flow)
	cl, err := flow.targetClient()
	if err != nil {
		return fmt.Errorf("mirror: target client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := createTopic(ctx, kadm.NewClient(cl), topic(flow), 1, flow.replicationFactor, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}); err != nil {
		return fmt.Errorf("mirror: creating %s: %w", topic(flow), err)
	}
	return nil
}

// MirrorHeartbeatConnector is MirrorMaker 2's MirrorHeartbeatConnector: every
// emit.heartbeats.interval.seconds it writes a heartbeat to the target's heartbeats topic, which
// the reverse flow mirrors like any topic, so a heartbeat's age on the far side is the
// replication latency.
type MirrorHeartbeatConnector struct{ singleTaskConnector }

// Start implements connect.Connector.
func (c *MirrorHeartbeatConnector) Start(_ connect.ConnectorContext, config map[string]string) error {
	return c.start(config, func(f flowConfig) bool { return f.emitHeartbeats }, func(flowConfig) string { return HeartbeatsTopic })
}

// NewTask implements connect.SourceConnector.
func (*MirrorHeartbeatConnector) NewTask() connect.SourceTask { return &heartbeatTask{} }

type heartbeatTask struct {
	flow flowConfig
	next time.Time
}

// Start implements connect.SourceTask.
func (t *heartbeatTask) Start(_ connect.SourceTaskContext, config map[string]string) error {
	flow, err := parseFlow(config)
	t.flow = flow
	return err
}

// waitUntil waits for at or ctx, and reports whether at came.
func waitUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Poll implements connect.SourceTask.
func (t *heartbeatTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	if !waitUntil(ctx, t.next) {
		return nil, nil
	}
	now := time.Now()
	t.next = now.Add(t.flow.heartbeatsEvery)
	hb := Heartbeat{SourceClusterAlias: t.flow.sourceAlias, TargetClusterAlias: t.flow.targetAlias, TimestampMs: now.UnixMilli()}
	partition := int32(0)
	return []connect.SourceRecord{{
		SourcePartition: map[string]any{"sourceClusterAlias": hb.SourceClusterAlias, "targetClusterAlias": hb.TargetClusterAlias},
		SourceOffset:    map[string]any{offsetKey: hb.TimestampMs},
		Topic:           HeartbeatsTopic, Partition: &partition,
		KeySchema: connect.OptionalBytesSchema, Key: hb.Key(),
		ValueSchema: connect.OptionalBytesSchema, Value: hb.Value(),
		Timestamp: now,
	}}, nil
}

// Stop implements connect.SourceTask.
func (*heartbeatTask) Stop() error { return nil }
