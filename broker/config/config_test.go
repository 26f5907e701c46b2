package config

import (
	"strings"
	"testing"
)

func TestDefaultsAreKafkas(t *testing.T) {
	b, _, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 1 || b.NumPartitions != 1 || !b.AutoCreateTopics || b.MessageMaxBytes != 1048588 ||
		b.LogSegmentBytes != 1<<30 || b.LogRetentionMs != 168*3600_000 || b.LogRetentionBytes != -1 ||
		b.LogRollMs != 168*3600_000 || b.SocketRequestMaxBytes != 104857600 || b.LogRetentionCheckInterval != 300000 {
		t.Fatalf("defaults: %+v", b)
	}
	if len(b.Listeners) != 1 || b.Listeners[0].Port != 9092 {
		t.Fatalf("listeners: %+v", b.Listeners)
	}
}

func TestUnknownKeyIsAnErrorNamingIt(t *testing.T) {
	_, _, err := Parse(map[string]string{"log.retention.hourz": "1"}, nil)
	if err == nil || !strings.Contains(err.Error(), `"log.retention.hourz"`) {
		t.Fatalf("err = %v", err)
	}
	_, ignored, err := Parse(map[string]string{"num.network.threads": "3"}, nil)
	if err != nil || len(ignored) != 1 {
		t.Fatalf("a Kafka key without meaning here: err %v ignored %v", err, ignored)
	}
}

func TestRetentionAndRollPrecedence(t *testing.T) {
	cases := []struct {
		props  map[string]string
		wantMs int64
	}{
		{map[string]string{"log.retention.hours": "1"}, 3600_000},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}, 120_000},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "5"}, 5},
		{map[string]string{"log.retention.ms": "-1"}, -1},
	}
	for _, c := range cases {
		b, _, err := Parse(c.props, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.LogRetentionMs != c.wantMs {
			t.Errorf("%v: retention %d, want %d", c.props, b.LogRetentionMs, c.wantMs)
		}
	}
	b, _, _ := Parse(map[string]string{"log.roll.hours": "2", "log.roll.ms": "1000"}, nil)
	if b.LogRollMs != 1000 {
		t.Errorf("log.roll.ms must win: %d", b.LogRollMs)
	}
}

func TestOverridesWinAndValuesAreChecked(t *testing.T) {
	b, _, err := Parse(map[string]string{"num.partitions": "3"}, map[string]string{"num.partitions": "6"})
	if err != nil || b.NumPartitions != 6 {
		t.Fatalf("override: %v %d", err, b.NumPartitions)
	}
	for _, bad := range []map[string]string{
		{"num.partitions": "zero"}, {"num.partitions": "0"}, {"auto.create.topics.enable": "yes"},
		{"listeners": "localhost:9092"}, {"listeners": "PLAINTEXT://host:99999"}, {"log.cleanup.policy": "archive"},
	} {
		if _, _, err := Parse(bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestReadPropertiesHandlesCommentsSeparatorsAndContinuations(t *testing.T) {
	in := "# comment\n! also\n\nnode.id = 7\nlog.dirs: /a,\\\n  /b\nlisteners=PLAINTEXT://127.0.0.1:1\n"
	props, err := ReadProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if props["node.id"] != "7" || props["log.dirs"] != "/a,/b" || props["listeners"] != "PLAINTEXT://127.0.0.1:1" {
		t.Fatalf("props %v", props)
	}
	b, _, err := Parse(props, nil)
	if err != nil || len(b.LogDirs) != 2 || b.NodeID != 7 {
		t.Fatalf("parsed %+v %v", b, err)
	}
}

func TestTopicConfigsValidateAndFallBackToBrokerDefaults(t *testing.T) {
	b, _, _ := Parse(map[string]string{"log.retention.ms": "1000", "message.max.bytes": "500"}, nil)
	tc := Topic{Overrides: map[string]string{"segment.bytes": "2048"}, Broker: b}
	if tc.Get("retention.ms") != "1000" || tc.Get("max.message.bytes") != "500" || tc.Get("segment.bytes") != "2048" {
		t.Fatalf("effective configs wrong")
	}
	if key, set := tc.BrokerSourceFor("retention.ms"); !set || key != "log.retention.ms" {
		t.Fatalf("retention.ms source %q %v", key, set)
	}
	for _, c := range []struct{ k, v string }{
		{"retention.ms", "-2"}, {"cleanup.policy", "compact,archive"}, {"message.timestamp.type", "Now"},
		{"min.cleanable.dirty.ratio", "2"}, {"no.such.config", "1"},
	} {
		if err := ValidateTopicConfig(c.k, c.v); err == nil || !strings.Contains(err.Error(), c.k) {
			t.Errorf("%s=%s: %v", c.k, c.v, err)
		}
	}
	if err := ValidateTopicConfig("cleanup.policy", "compact,delete"); err != nil {
		t.Error(err)
	}
}

func TestMinInsyncReplicasIsTheTopicsOverrideElseTheBrokers(t *testing.T) {
	b, _, err := Parse(map[string]string{"min.insync.replicas": "2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		overrides map[string]string
		want      int
	}{
		{nil, 2},
		{map[string]string{"min.insync.replicas": "3"}, 3},
		{map[string]string{"min.insync.replicas": " 1 "}, 1},
	} {
		if got := (Topic{Overrides: c.overrides, Broker: b}).MinInsyncReplicas(); got != c.want {
			t.Errorf("overrides %v: min.insync.replicas %d, want %d", c.overrides, got, c.want)
		}
	}
	if got := (Topic{}).MinInsyncReplicas(); got != 1 {
		t.Errorf("no broker, no override: %d, want 1", got)
	}
}
