package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOffsetStore keeps source offsets in offset.storage.topic as Kafka Connect does: the key is
// the JSON array ["<connector>", {partition}], the value the offset JSON, a tombstone removes it.
// Reads come from the tailed topic; a reader that needs what other workers wrote calls ReadToEnd.
type KafkaOffsetStore struct {
	log *topicLog
	// timeout bounds a Put (offset.flush.timeout.ms).
	timeout time.Duration
	mu      struct {
		sync.Mutex
		// offsets maps connector → canonical partition JSON → entry.
		offsets map[string]map[string]PartitionOffset
	}
}

func newKafkaOffsetStore() *KafkaOffsetStore {
	s := &KafkaOffsetStore{timeout: 30 * time.Second}
	s.mu.offsets = map[string]map[string]PartitionOffset{}
	return s
}

// apply is the offset topic's record handler. Records it cannot parse are skipped (with a log
// line): other tools may share the topic.
func (s *KafkaOffsetStore) apply(r *kgo.Record, logger *slog.Logger) {
	v, err := decodeJSON(r.Key)
	key, _ := v.([]any)
	if err != nil || len(key) != 2 {
		logger.Warn("ignoring offset record with a key that is not [connector, partition]", "partition", r.Partition, "offset", r.Offset)
		return
	}
	connector, _ := key[0].(string)
	partition, ok := key[1].(map[string]any)
	if connector == "" || !ok {
		logger.Warn("ignoring offset record with a key that is not [connector, partition]", "partition", r.Partition, "offset", r.Offset)
		return
	}
	var offset map[string]any
	if r.Value != nil {
		ov, err := decodeJSON(r.Value)
		if offset, ok = ov.(map[string]any); err != nil || !ok {
			logger.Warn("ignoring offset record whose value is not a JSON object", "connector", connector, "offset", r.Offset)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pk := partitionKey(partition)
	if offset == nil {
		delete(s.mu.offsets[connector], pk)
		return
	}
	m := s.mu.offsets[connector]
	if m == nil {
		m = map[string]PartitionOffset{}
		s.mu.offsets[connector] = m
	}
	m[pk] = PartitionOffset{Partition: partition, Offset: offset}
}

// Get implements OffsetStore.
func (s *KafkaOffsetStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	po, ok := s.mu.offsets[connector][partitionKey(partition)]
	if !ok {
		return nil, nil
	}
	return maps.Clone(po.Offset), nil
}

// All implements OffsetStore.
func (s *KafkaOffsetStore) All(connector string) ([]PartitionOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []PartitionOffset{}
	for _, po := range s.mu.offsets[connector] {
		out = append(out, po)
	}
	sort.Slice(out, func(i, j int) bool { return partitionKey(out[i].Partition) < partitionKey(out[j].Partition) })
	return out, nil
}

// Put implements OffsetStore: the records are acknowledged by Kafka when it returns. They become
// visible to Get once the topic's tail has read them.
func (s *KafkaOffsetStore) Put(connector string, offsets []PartitionOffset) error {
	records := make([]*kgo.Record, 0, len(offsets))
	for _, po := range offsets {
		key, err := json.Marshal([]any{connector, po.Partition})
		if err != nil {
			return fmt.Errorf("offset of connector %s: %w", connector, err)
		}
		var value []byte
		if po.Offset != nil {
			if value, err = json.Marshal(po.Offset); err != nil {
				return fmt.Errorf("offset of connector %s: %w", connector, err)
			}
		}
		records = append(records, &kgo.Record{Key: key, Value: value})
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.log.send(ctx, records...)
}

// openKafkaOffsetStore opens the store over topic, whose records it reads in the background; a Put
// waits up to timeout (offset.flush.timeout.ms) for Kafka.
func openKafkaOffsetStore(opts []kgo.Opt, topic string, timeout time.Duration, logger *slog.Logger) (*KafkaOffsetStore, error) {
	s := newKafkaOffsetStore()
	s.timeout = timeout
	var err error
	if s.log, err = openTopicLog(opts, topic, logger, func(r *kgo.Record) { s.apply(r, logger) }); err != nil {
		return nil, err
	}
	return s, nil
}

// close stops reading the offset topic.
func (s *KafkaOffsetStore) close() { s.log.close() }

// ReadToEnd waits until every offset written before the call is visible to Get.
func (s *KafkaOffsetStore) ReadToEnd(ctx context.Context) error { return s.log.readToEnd(ctx) }

// Config topic record keys and values, in Kafka Connect's formats.
const (
	configConnectorPrefix = "connector-"
	configTaskPrefix      = "task-"
	configCommitPrefix    = "commit-"
	configTargetPrefix    = "target-state-"
	configRestartPrefix   = "restart-connector-"
	statusConnectorPrefix = "status-connector-"
	statusTaskPrefix      = "status-task-"
	statusTopicPrefix     = "topic-"
)

// activeTopicValue is a topic-<topic>-connector-<name> status record (KIP-558).
type activeTopicValue struct {
	Topic struct {
		Name              string `json:"name"`
		Connector         string `json:"connector"`
		Task              int    `json:"task"`
		DiscoverTimestamp int64  `json:"discoverTimestamp"`
	} `json:"topic"`
}

func activeTopicKey(topic, connector string) string {
	return statusTopicPrefix + topic + "-connector-" + connector
}

type propertiesValue struct {
	Properties map[string]string `json:"properties"`
}

type commitValue struct {
	Tasks int `json:"tasks"`
}

// targetValue is a target state; "state" stays readable by workers that predate STOPPED, which
// they see as PAUSED (Kafka's "state.v2").
type targetValue struct {
	State   string `json:"state"`
	StateV2 string `json:"state.v2,omitempty"`
}

type restartValue struct {
	IncludeTasks bool `json:"include-tasks"`
	OnlyFailed   bool `json:"only-failed"`
}

func targetRecordValue(t TargetState) targetValue {
	switch t {
	case TargetPaused:
		return targetValue{State: "PAUSED", StateV2: "PAUSED"}
	case TargetStopped:
		return targetValue{State: "PAUSED", StateV2: "STOPPED"}
	}
	return targetValue{State: "STARTED", StateV2: "STARTED"}
}

func parseTarget(v targetValue) (TargetState, bool) {
	s := v.StateV2
	if s == "" {
		s = v.State
	}
	switch s {
	case "STARTED":
		return TargetStarted, true
	case "PAUSED":
		return TargetPaused, true
	case "STOPPED":
		return TargetStopped, true
	}
	return "", false
}

// restartRequest is a restart-connector-<name> record, or (task >= 0) a REST request to restart
// one task running on this worker.
type restartRequest struct {
	connector string
	task      int
	restartValue
}

// clusterConfig is the state the config topic describes. Task configs become visible only with the
// commit-<name> record that follows them, so a worker never runs half of a new task set.
type clusterConfig struct {
	connectors map[string]map[string]string
	targets    map[string]TargetState
	tasks      map[string][]map[string]string // committed task configs
	pending    map[string]map[int]map[string]string
}

func newClusterConfig() clusterConfig {
	return clusterConfig{connectors: map[string]map[string]string{}, targets: map[string]TargetState{},
		tasks: map[string][]map[string]string{}, pending: map[string]map[int]map[string]string{}}
}

// apply applies one config record; it returns a restart request when the record is one. Records it
// cannot parse are reported and skipped.
func (c *clusterConfig) apply(key string, value []byte) (*restartRequest, error) {
	switch {
	case strings.HasPrefix(key, configConnectorPrefix):
		name := strings.TrimPrefix(key, configConnectorPrefix)
		if value == nil {
			delete(c.connectors, name)
			delete(c.targets, name)
			delete(c.tasks, name)
			delete(c.pending, name)
			return nil, nil
		}
		var v propertiesValue
		if err := json.Unmarshal(value, &v); err != nil || v.Properties == nil {
			return nil, fmt.Errorf("config record %s: not {\"properties\": {...}}", key)
		}
		c.connectors[name] = v.Properties
		if _, ok := c.targets[name]; !ok {
			c.targets[name] = TargetStarted
		}
	case strings.HasPrefix(key, configTaskPrefix):
		rest := strings.TrimPrefix(key, configTaskPrefix)
		i := strings.LastIndexByte(rest, '-')
		n, err := strconv.Atoi(rest[i+1:])
		if i <= 0 || err != nil || n < 0 {
			return nil, fmt.Errorf("config record %s: not task-<connector>-<n>", key)
		}
		if value == nil {
			return nil, nil
		}
		var v propertiesValue
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("config record %s: not {\"properties\": {...}}", key)
		}
		name := rest[:i]
		if c.pending[name] == nil {
			c.pending[name] = map[int]map[string]string{}
		}
		c.pending[name][n] = v.Properties
	case strings.HasPrefix(key, configCommitPrefix):
		name := strings.TrimPrefix(key, configCommitPrefix)
		if value == nil {
			return nil, nil
		}
		var v commitValue
		if err := json.Unmarshal(value, &v); err != nil || v.Tasks < 0 {
			return nil, fmt.Errorf("config record %s: not {\"tasks\": n}", key)
		}
		if v.Tasks > len(c.pending[name]) {
			return nil, fmt.Errorf("config record %s: commits %d tasks but only %d were written", key, v.Tasks, len(c.pending[name]))
		}
		tasks := make([]map[string]string, 0, v.Tasks)
		for i := range v.Tasks {
			tc, ok := c.pending[name][i]
			if !ok {
				return nil, fmt.Errorf("config record %s: commits %d tasks but task %d was never written", key, v.Tasks, i)
			}
			tasks = append(tasks, tc)
		}
		c.tasks[name] = tasks
		delete(c.pending, name)
	case strings.HasPrefix(key, configTargetPrefix):
		name := strings.TrimPrefix(key, configTargetPrefix)
		if value == nil {
			delete(c.targets, name)
			return nil, nil
		}
		var v targetValue
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("config record %s: not {\"state\": ...}", key)
		}
		t, ok := parseTarget(v)
		if !ok {
			return nil, fmt.Errorf("config record %s: unknown state %q", key, v.State)
		}
		c.targets[name] = t
	case strings.HasPrefix(key, configRestartPrefix):
		if value == nil {
			return nil, nil
		}
		var v restartValue
		if err := json.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("config record %s: not a restart request", key)
		}
		return &restartRequest{connector: strings.TrimPrefix(key, configRestartPrefix), task: -1, restartValue: v}, nil
	}
	return nil, nil
}

// target is a connector's target state (running when none was written).
func (c *clusterConfig) target(name string) TargetState {
	if t, ok := c.targets[name]; ok {
		return t
	}
	return TargetStarted
}

// work lists the configured connectors and committed tasks, for the assignor.
func (c *clusterConfig) work() ([]string, []ConnectorTaskID) {
	conns := make([]string, 0, len(c.connectors))
	var tasks []ConnectorTaskID
	for name := range c.connectors {
		conns = append(conns, name)
		for i := range c.tasks[name] {
			tasks = append(tasks, ConnectorTaskID{Connector: name, Task: i})
		}
	}
	sort.Strings(conns)
	return conns, tasks
}

// workKey summarises work() so the leader notices when it changed.
func (c *clusterConfig) workSummary() string {
	conns, _ := c.work()
	var b strings.Builder
	for _, n := range conns {
		fmt.Fprintf(&b, "%s/%d,", n, len(c.tasks[n]))
	}
	return b.String()
}

// statusRecord is a status topic value, as Kafka Connect writes it.
type statusRecord struct {
	State      string  `json:"state"`
	Trace      *string `json:"trace"`
	WorkerID   string  `json:"worker_id"`
	Generation int32   `json:"generation"`
}

func statusConnectorKey(name string) string { return statusConnectorPrefix + name }
func statusTaskKey(name string, task int) string {
	return statusTaskPrefix + name + "-" + strconv.Itoa(task)
}
