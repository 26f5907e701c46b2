// Package config reads the broker's configuration: Kafka's property names and defaults from a
// .properties file with --set overrides, and the topic-level configs that each topic may override.
package config

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Broker is the parsed broker configuration.
type Broker struct {
	NodeID                    int32
	Listeners                 []Listener
	AdvertisedListeners       []Listener
	LogDirs                   []string
	NumPartitions             int32
	DefaultReplicationFactor  int16
	AutoCreateTopics          bool
	MessageMaxBytes           int
	SocketRequestMaxBytes     int
	LogSegmentBytes           int64
	LogRollMs                 int64
	LogRetentionMs            int64
	LogRetentionBytes         int64
	LogRetentionCheckInterval int64 // ms
	LogFlushIntervalMessages  int64
	LogFlushIntervalMs        int64
	LogIndexIntervalBytes     int64
	LogCleanupPolicy          string
	LogCleanerEnable          bool
	LogCleanerBackoffMs       int64
	LogMessageTimestampType   string
	MinInsyncReplicas         int
	ClusterID                 string
	Rack                      string // broker.rack: registered with the controller, for rack-aware placement

	// Partition bounds (see docs/operations.md, "Resource limits").
	MaxBrokerPartitions          int64 // max.broker.partitions (KIP-578): partitions this broker may hold
	ControllerMaxRecordsPerBatch int64 // controller.max.records.per.batch: new partitions one request may add

	// KIP-227 fetch sessions: max.incremental.fetch.session.cache.slots (0: none) and
	// min.incremental.fetch.session.eviction.ms.
	MaxIncrementalFetchSessionCacheSlots int
	MinIncrementalFetchSessionEvictionMs int64

	// ReplicaHighWatermarkCheckpointIntervalMs is replica.high.watermark.checkpoint.interval.ms.
	ReplicaHighWatermarkCheckpointIntervalMs int64

	OffsetsTopicPartitions        int32
	OffsetsTopicSegmentBytes      int64
	OffsetsRetentionMinutes       int64
	OffsetsRetentionCheckInterval int64 // ms
	OffsetMetadataMaxBytes        int
	GroupMinSessionTimeoutMs      int64
	GroupMaxSessionTimeoutMs      int64
	GroupInitialRebalanceDelayMs  int64
	GroupMaxSize                  int

	ConnectionsMaxIdleMs         int64 // -1: never close idle connections
	RequestArrivalTimeoutMs      int64 // Gregor's own: 0 disables
	MaxConnections               int
	MaxConnectionsPerIP          int
	MaxConnectionsPerIPOverrides map[string]int // host or IP -> limit

	MetricsListener string // metrics.listener: host:port serving /metrics; "" is off

	// KRaft holds the cluster settings (process.roles and what goes with it); see kraft.go.
	KRaft KRaft

	// Raw holds every key set explicitly (file or --set), for DescribeConfigs.
	Raw map[string]string
}

// Listener is one entry of `listeners`: NAME://host:port.
type Listener struct {
	Name string
	Host string
	Port int
}

func (l Listener) String() string { return fmt.Sprintf("%s://%s:%d", l.Name, l.Host, l.Port) }

// Addr is host:port for net.Listen.
func (l Listener) Addr() string { return fmt.Sprintf("%s:%d", l.Host, l.Port) }

type brokerKey struct {
	def   string
	apply func(b *Broker, v string) error
}

// ignoredKeys are Kafka broker properties that have no meaning for a single Gregor node; they are
// accepted so that an existing server.properties loads, and reported by Parse as ignored.
var ignoredKeys = map[string]bool{
	"num.network.threads": true, "num.io.threads": true, "socket.send.buffer.bytes": true,
	"socket.receive.buffer.bytes": true, "num.recovery.threads.per.data.dir": true,
	"controller.quorum.bootstrap.servers":      true,
	"transaction.state.log.replication.factor": true, "transaction.state.log.min.isr": true,
	"share.coordinator.state.topic.replication.factor": true, "share.coordinator.state.topic.min.isr": true,
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("expected true or false, got %q", v)
}

func intKey(def string, set func(b *Broker, n int64), min int64) brokerKey {
	return brokerKey{def: def, apply: func(b *Broker, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", v)
		}
		if n < min {
			return fmt.Errorf("must be at least %d, got %d", min, n)
		}
		set(b, n)
		return nil
	}}
}

var brokerKeys = map[string]brokerKey{
	// KIP-227 fetch sessions (broker/fetchsession).
	"max.incremental.fetch.session.cache.slots": intKey("1000", func(b *Broker, n int64) { b.MaxIncrementalFetchSessionCacheSlots = int(min(n, 1<<30)) }, 0),
	"min.incremental.fetch.session.eviction.ms": intKey("120000", func(b *Broker, n int64) { b.MinIncrementalFetchSessionEvictionMs = n }, 0),

	"node.id": intKey("1", func(b *Broker, n int64) { b.NodeID = int32(n) }, 0),
	"broker.id": intKey("-1", func(b *Broker, n int64) {
		if n >= 0 {
			b.NodeID = int32(n)
		}
	}, -1),
	"listeners": {def: "PLAINTEXT://:9092", apply: func(b *Broker, v string) (err error) {
		b.Listeners, err = parseListeners(v)
		return err
	}},
	"advertised.listeners": {def: "", apply: func(b *Broker, v string) (err error) {
		if strings.TrimSpace(v) == "" {
			b.AdvertisedListeners = nil
			return nil
		}
		b.AdvertisedListeners, err = parseListeners(v)
		return err
	}},
	"log.dirs": {def: "/tmp/gregor-logs", apply: func(b *Broker, v string) error {
		b.LogDirs = nil
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				b.LogDirs = append(b.LogDirs, d)
			}
		}
		if len(b.LogDirs) == 0 {
			return fmt.Errorf("no directory given")
		}
		return nil
	}},
	"log.dir": {def: "", apply: func(b *Broker, v string) error {
		if v = strings.TrimSpace(v); v != "" && b.Raw["log.dirs"] == "" {
			b.LogDirs = []string{v}
		}
		return nil
	}},
	"num.partitions":             intKey("1", func(b *Broker, n int64) { b.NumPartitions = int32(n) }, 1),
	"default.replication.factor": intKey("1", func(b *Broker, n int64) { b.DefaultReplicationFactor = int16(n) }, 1),
	"auto.create.topics.enable": {def: "true", apply: func(b *Broker, v string) (err error) {
		b.AutoCreateTopics, err = parseBool(v)
		return err
	}},
	"message.max.bytes":               intKey("1048588", func(b *Broker, n int64) { b.MessageMaxBytes = int(n) }, 0),
	"socket.request.max.bytes":        intKey("104857600", func(b *Broker, n int64) { b.SocketRequestMaxBytes = int(n) }, 1),
	"log.segment.bytes":               intKey("1073741824", func(b *Broker, n int64) { b.LogSegmentBytes = n }, 14),
	"log.roll.hours":                  intKey("168", func(b *Broker, n int64) { setIfUnset(b, "log.roll.ms", &b.LogRollMs, n*3600_000) }, 1),
	"log.roll.ms":                     intKey("", func(b *Broker, n int64) { b.LogRollMs = n }, 1),
	"log.retention.hours":             intKey("168", func(b *Broker, n int64) { setRetention(b, "log.retention.hours", n*3600_000) }, -1),
	"log.retention.minutes":           intKey("", func(b *Broker, n int64) { setRetention(b, "log.retention.minutes", n*60_000) }, -1),
	"log.retention.ms":                intKey("", func(b *Broker, n int64) { setRetention(b, "log.retention.ms", n) }, -1),
	"log.retention.bytes":             intKey("-1", func(b *Broker, n int64) { b.LogRetentionBytes = n }, -1),
	"log.retention.check.interval.ms": intKey("300000", func(b *Broker, n int64) { b.LogRetentionCheckInterval = n }, 1),
	"log.flush.interval.messages":     intKey(strconv.FormatInt(math.MaxInt64, 10), func(b *Broker, n int64) { b.LogFlushIntervalMessages = n }, 1),
	"log.flush.interval.ms":           intKey(strconv.FormatInt(math.MaxInt64, 10), func(b *Broker, n int64) { b.LogFlushIntervalMs = n }, 0),
	"log.index.interval.bytes":        intKey("4096", func(b *Broker, n int64) { b.LogIndexIntervalBytes = n }, 0),
	"log.cleaner.enable": {def: "true", apply: func(b *Broker, v string) (err error) {
		b.LogCleanerEnable, err = parseBool(v)
		return err
	}},
	"log.cleaner.backoff.ms": intKey("15000", func(b *Broker, n int64) { b.LogCleanerBackoffMs = n }, 1),
	"log.cleanup.policy": {def: "delete", apply: func(b *Broker, v string) error {
		if err := validateCleanupPolicy(v); err != nil {
			return err
		}
		b.LogCleanupPolicy = v
		return nil
	}},
	"log.message.timestamp.type": {def: "CreateTime", apply: func(b *Broker, v string) error {
		if v != "CreateTime" && v != "LogAppendTime" {
			return fmt.Errorf("expected CreateTime or LogAppendTime, got %q", v)
		}
		b.LogMessageTimestampType = v
		return nil
	}},
	"min.insync.replicas":                 intKey("1", func(b *Broker, n int64) { b.MinInsyncReplicas = int(n) }, 1),
	"offsets.topic.num.partitions":        intKey("50", func(b *Broker, n int64) { b.OffsetsTopicPartitions = int32(n) }, 1),
	"offsets.topic.segment.bytes":         intKey("104857600", func(b *Broker, n int64) { b.OffsetsTopicSegmentBytes = n }, 14),
	"offsets.retention.minutes":           intKey("10080", func(b *Broker, n int64) { b.OffsetsRetentionMinutes = n }, 1),
	"offsets.retention.check.interval.ms": intKey("600000", func(b *Broker, n int64) { b.OffsetsRetentionCheckInterval = n }, 1),
	"offset.metadata.max.bytes":           intKey("4096", func(b *Broker, n int64) { b.OffsetMetadataMaxBytes = int(n) }, 0),
	"group.min.session.timeout.ms":        intKey("6000", func(b *Broker, n int64) { b.GroupMinSessionTimeoutMs = n }, 0),
	"group.max.session.timeout.ms":        intKey("1800000", func(b *Broker, n int64) { b.GroupMaxSessionTimeoutMs = n }, 0),
	"group.initial.rebalance.delay.ms":    intKey("3000", func(b *Broker, n int64) { b.GroupInitialRebalanceDelayMs = n }, 0),
	"group.max.size":                      intKey("2147483647", func(b *Broker, n int64) { b.GroupMaxSize = int(n) }, 1),
	"max.broker.partitions":               intKey("2147483647", func(b *Broker, n int64) { b.MaxBrokerPartitions = n }, 1),
	"controller.max.records.per.batch":    intKey("10000", func(b *Broker, n int64) { b.ControllerMaxRecordsPerBatch = n }, 1),
	"broker.rack":                         {def: "", apply: func(b *Broker, v string) error { b.Rack = strings.TrimSpace(v); return nil }},
	"cluster.id":                          {def: "", apply: func(b *Broker, v string) error { b.ClusterID = strings.TrimSpace(v); return nil }},
	"connections.max.idle.ms":             intKey("600000", func(b *Broker, n int64) { b.ConnectionsMaxIdleMs = n }, -1),
	"request.arrival.timeout.ms":          intKey("60000", func(b *Broker, n int64) { b.RequestArrivalTimeoutMs = n }, 0),
	"max.connections":                     intKey("2147483647", func(b *Broker, n int64) { b.MaxConnections = int(n) }, 0),
	"max.connections.per.ip":              intKey("2147483647", func(b *Broker, n int64) { b.MaxConnectionsPerIP = int(n) }, 0),
	"max.connections.per.ip.overrides": {def: "", apply: func(b *Broker, v string) (err error) {
		b.MaxConnectionsPerIPOverrides, err = parseConnectionOverrides(v)
		return err
	}},

	// Replication.
	"replica.high.watermark.checkpoint.interval.ms": intKey("5000", func(b *Broker, n int64) { b.ReplicaHighWatermarkCheckpointIntervalMs = n }, 1),
}

// parseConnectionOverrides reads max.connections.per.ip.overrides: host:count pairs separated by
// commas (an IPv6 address keeps its colons: the count follows the last one).
func parseConnectionOverrides(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		i := strings.LastIndex(pair, ":")
		if i <= 0 {
			return nil, fmt.Errorf("%q is not host:count", pair)
		}
		n, err := strconv.Atoi(strings.TrimSpace(pair[i+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: count must be a non-negative integer", pair)
		}
		out[strings.Trim(strings.TrimSpace(pair[:i]), "[]")] = n
	}
	return out, nil
}

// retention precedence follows Kafka: ms beats minutes beats hours.
var retentionRank = map[string]int{"log.retention.hours": 0, "log.retention.minutes": 1, "log.retention.ms": 2}

func setRetention(b *Broker, key string, ms int64) {
	for k, r := range retentionRank {
		if r > retentionRank[key] {
			if _, ok := b.Raw[k]; ok {
				return
			}
		}
	}
	if ms < 0 {
		ms = -1
	}
	b.LogRetentionMs = ms
}

func setIfUnset(b *Broker, key string, dst *int64, v int64) {
	if _, ok := b.Raw[key]; ok {
		return
	}
	*dst = v
}

func parseListeners(v string) ([]Listener, error) {
	var out []Listener
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, rest, ok := strings.Cut(s, "://")
		if !ok {
			return nil, fmt.Errorf("listener %q is not NAME://host:port", s)
		}
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			return nil, fmt.Errorf("listener %q has no port", s)
		}
		port, err := strconv.Atoi(rest[i+1:])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q has a bad port", s)
		}
		host := strings.Trim(rest[:i], "[]")
		out = append(out, Listener{Name: name, Host: host, Port: port})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listener given")
	}
	return out, nil
}

// Parse builds a broker config from properties (in file order) and overrides (applied after).
// It returns the keys it accepted but ignores. An unknown key is an error naming it.
func Parse(props map[string]string, overrides map[string]string) (*Broker, []string, error) {
	b := &Broker{Raw: map[string]string{}}
	all := map[string]string{}
	for k, v := range props {
		all[k] = v
	}
	for k, v := range overrides {
		all[k] = v
	}
	var ignored []string
	for k, v := range all {
		if _, ok := brokerKeys[k]; ok {
			b.Raw[k] = v
			continue
		}
		if ignoredKeys[k] {
			ignored = append(ignored, k)
			continue
		}
		return nil, nil, fmt.Errorf("unknown config key %q", k)
	}
	sort.Strings(ignored)
	// Defaults first, then explicit values; order keys so precedence rules see Raw fully populated.
	keys := make([]string, 0, len(brokerKeys))
	for k := range brokerKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := brokerKeys[k]
		v, explicit := b.Raw[k]
		if !explicit {
			if d.def == "" {
				continue
			}
			v = d.def
		}
		if err := d.apply(b, v); err != nil {
			return nil, nil, fmt.Errorf("config %s: %w", k, err)
		}
	}
	// log.dir applies only when log.dirs was not given; re-apply after defaults.
	if v, ok := b.Raw["log.dir"]; ok {
		if _, ok := b.Raw["log.dirs"]; !ok {
			b.LogDirs = []string{strings.TrimSpace(v)}
		}
	}
	if b.LogRollMs == 0 {
		b.LogRollMs = 168 * 3600_000
	}
	if b.LogRetentionMs == 0 {
		b.LogRetentionMs = 168 * 3600_000
	}
	if err := b.validateKRaft(); err != nil {
		return nil, nil, err
	}
	return b, ignored, nil
}

// ReadProperties reads a Java .properties file: key=value or key: value lines, # and ! comments,
// backslash line continuation.
func ReadProperties(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t")
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "\\\\") {
			pending += strings.TrimSuffix(line, "\\")
			continue
		}
		line = pending + line
		pending = ""
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is not key=value", n, line)
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out, sc.Err()
}

// Load reads a properties file (path may be empty) and applies key=value overrides.
func Load(path string, sets []string) (*Broker, []string, error) {
	props := map[string]string{}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		if props, err = ReadProperties(f); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	over := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, nil, fmt.Errorf("--set %q: expected key=value", s)
		}
		over[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return Parse(props, over)
}

// BrokerEntries returns every broker config as (name, value, explicitly set) for DescribeConfigs.
func (b *Broker) BrokerEntries() []Entry {
	keys := make([]string, 0, len(brokerKeys))
	for k := range brokerKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		v, set := b.Raw[k]
		if !set {
			v = brokerKeys[k].def
		}
		out = append(out, Entry{Name: k, Value: v, Explicit: set})
	}
	return out
}

// Entry is one config value as DescribeConfigs reports it.
type Entry struct {
	Name      string
	Value     string
	Explicit  bool // set on the resource itself (topic override, or broker file)
	Sensitive bool
	Doc       string
}
