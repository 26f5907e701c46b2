package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// TopicKind is the value type of a topic config.
type TopicKind int

const (
	KindLong TopicKind = iota
	KindInt
	KindDouble
	KindString
	KindBool
	KindList
)

// TopicDef describes one topic-level config: its Kafka name, type and default, which usually
// comes from a broker config.
type TopicDef struct {
	Name     string
	Kind     TopicKind
	Default  func(b *Broker) string
	Validate func(v string) error
	Doc      string
}

func constant(v string) func(*Broker) string { return func(*Broker) string { return v } }

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func validateCleanupPolicy(v string) error {
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "delete", "compact":
		default:
			return fmt.Errorf("cleanup.policy %q: each entry must be delete or compact", v)
		}
	}
	return nil
}

func longMin(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", v)
		}
		if n < min {
			return fmt.Errorf("value %d is below the minimum %d", n, min)
		}
		return nil
	}
}

func oneOf(opts ...string) func(string) error {
	return func(v string) error {
		for _, o := range opts {
			if v == o {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(opts, ", "))
	}
}

func ratio(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("expected a number between 0 and 1, got %q", v)
	}
	return nil
}

func boolean(v string) error { _, err := parseBool(v); return err }

var topicDefs = []TopicDef{
	{Name: "cleanup.policy", Kind: KindList, Default: func(b *Broker) string { return b.LogCleanupPolicy }, Validate: validateCleanupPolicy,
		Doc: "delete: drop old segments by retention; compact: keep the latest record per key"},
	{Name: "compression.type", Kind: KindString, Default: constant("producer"), Validate: oneOf("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"),
		Doc: "only producer (keep what the producer sent) is applied; batches are stored as received"},
	{Name: "delete.retention.ms", Kind: KindLong, Default: constant("86400000"), Validate: longMin(0)},
	{Name: "file.delete.delay.ms", Kind: KindLong, Default: constant("60000"), Validate: longMin(0)},
	{Name: "flush.messages", Kind: KindLong, Default: func(b *Broker) string { return i64(b.LogFlushIntervalMessages) }, Validate: longMin(1)},
	{Name: "flush.ms", Kind: KindLong, Default: func(b *Broker) string { return i64(b.LogFlushIntervalMs) }, Validate: longMin(0)},
	{Name: "index.interval.bytes", Kind: KindInt, Default: func(b *Broker) string { return i64(b.LogIndexIntervalBytes) }, Validate: longMin(0)},
	{Name: "max.compaction.lag.ms", Kind: KindLong, Default: constant(i64(math.MaxInt64)), Validate: longMin(1)},
	{Name: "max.message.bytes", Kind: KindInt, Default: func(b *Broker) string { return strconv.Itoa(b.MessageMaxBytes) }, Validate: longMin(0)},
	{Name: "message.timestamp.type", Kind: KindString, Default: func(b *Broker) string { return b.LogMessageTimestampType }, Validate: oneOf("CreateTime", "LogAppendTime")},
	{Name: "min.cleanable.dirty.ratio", Kind: KindDouble, Default: constant("0.5"), Validate: ratio},
	{Name: "min.compaction.lag.ms", Kind: KindLong, Default: constant("0"), Validate: longMin(0)},
	{Name: "min.insync.replicas", Kind: KindInt, Default: func(b *Broker) string { return strconv.Itoa(b.MinInsyncReplicas) }, Validate: longMin(1)},
	{Name: "retention.bytes", Kind: KindLong, Default: func(b *Broker) string { return i64(b.LogRetentionBytes) }, Validate: longMin(-1)},
	{Name: "retention.ms", Kind: KindLong, Default: func(b *Broker) string { return i64(b.LogRetentionMs) }, Validate: longMin(-1)},
	{Name: "segment.bytes", Kind: KindInt, Default: func(b *Broker) string { return i64(b.LogSegmentBytes) }, Validate: longMin(14)},
	{Name: "segment.index.bytes", Kind: KindInt, Default: constant("10485760"), Validate: longMin(4)},
	{Name: "segment.ms", Kind: KindLong, Default: func(b *Broker) string { return i64(b.LogRollMs) }, Validate: longMin(1)},
	{Name: "unclean.leader.election.enable", Kind: KindBool, Default: constant("false"), Validate: boolean},
}

var topicDefByName = func() map[string]*TopicDef {
	m := map[string]*TopicDef{}
	for i := range topicDefs {
		m[topicDefs[i].Name] = &topicDefs[i]
	}
	return m
}()

// TopicDefs returns the topic-level configs in name order.
func TopicDefs() []TopicDef { return topicDefs }

// ValidateTopicConfig checks one topic config; the error names the key and the problem.
func ValidateTopicConfig(name, value string) error {
	d, ok := topicDefByName[name]
	if !ok {
		return fmt.Errorf("unknown topic config name: %s", name)
	}
	if err := d.Validate(value); err != nil {
		return fmt.Errorf("invalid value %q for configuration %s: %w", value, name, err)
	}
	return nil
}

// Topic resolves a topic's effective configs from its overrides and the broker defaults.
type Topic struct {
	Overrides map[string]string
	Broker    *Broker
}

// Get returns a config's effective value.
func (t Topic) Get(name string) string {
	if v, ok := t.Overrides[name]; ok {
		return v
	}
	if d, ok := topicDefByName[name]; ok {
		return d.Default(t.Broker)
	}
	return ""
}

// Int64 returns a numeric config, or def if it does not parse.
func (t Topic) Int64(name string, def int64) int64 {
	n, err := strconv.ParseInt(t.Get(name), 10, 64)
	if err != nil {
		return def
	}
	return n
}

// MinInsyncReplicas returns min.insync.replicas: the topic's override, else the broker's; at least 1.
func (t Topic) MinInsyncReplicas() int {
	n := int64(1)
	if t.Broker != nil {
		n = int64(t.Broker.MinInsyncReplicas)
	}
	if v, ok := t.Overrides["min.insync.replicas"]; ok {
		// NB: overrides are validated (an integer >= 1) before they are stored.
		if o, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			n = o
		}
	}
	return int(min(max(n, 1), math.MaxInt32))
}

// Entries lists every topic config for DescribeConfigs.
func (t Topic) Entries() []Entry {
	out := make([]Entry, 0, len(topicDefs))
	for _, d := range topicDefs {
		v, set := t.Overrides[d.Name]
		if !set {
			v = d.Default(t.Broker)
		}
		out = append(out, Entry{Name: d.Name, Value: v, Explicit: set, Doc: d.Doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BrokerSourceFor tells whether a topic config's default comes from an explicitly set broker key,
// for DescribeConfigs' STATIC_BROKER_CONFIG source.
func (t Topic) BrokerSourceFor(name string) (brokerKey string, explicit bool) {
	m := map[string]string{
		"cleanup.policy": "log.cleanup.policy", "flush.messages": "log.flush.interval.messages",
		"flush.ms": "log.flush.interval.ms", "index.interval.bytes": "log.index.interval.bytes",
		"max.message.bytes": "message.max.bytes", "message.timestamp.type": "log.message.timestamp.type",
		"min.insync.replicas": "min.insync.replicas", "retention.bytes": "log.retention.bytes",
		"retention.ms": "log.retention.ms", "segment.bytes": "log.segment.bytes", "segment.ms": "log.roll.ms",
	}
	k, ok := m[name]
	if !ok {
		return "", false
	}
	switch name {
	case "retention.ms":
		for _, alt := range []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"} {
			if _, ok := t.Broker.Raw[alt]; ok {
				return alt, true
			}
		}
	case "segment.ms":
		for _, alt := range []string{"log.roll.ms", "log.roll.hours"} {
			if _, ok := t.Broker.Raw[alt]; ok {
				return alt, true
			}
		}
	}
	_, set := t.Broker.Raw[k]
	return k, set
}
