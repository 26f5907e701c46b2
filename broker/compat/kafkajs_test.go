package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestKafkajsAdminAndProducerRoundTrip runs testdata/kafkajs_roundtrip.js under node with kafkajs
// from .ci/node_modules. The script checks kafkajs' admin (createTopics, fetchTopicMetadata,
// describeConfigs, deleteTopics, listTopics, fetchTopicOffsets) itself and produces keys, a null
// key, tombstones, headers, explicit timestamps and a 1 MiB value, uncompressed and gzip. It prints
// what it sent, and this test reads it back with franz-go and compares field by field.
//
// NB: kafkajs consumes only through a consumer group; TestKafkajsConsumerGroupResumesAfterRestart
// (groups_kafkajs_test.go, testdata/kafkajs_group.js) covers that. This test keeps reading what
// kafkajs wrote with franz-go, so a fault in kafkajs' produce path is not masked by its consumer.
func TestKafkajsAdminAndProducerRoundTrip(t *testing.T) {
	node := requireTool(t, "node")
	modules := filepath.Join(repoRoot(t), ".ci", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		missing(t, "kafkajs not installed under "+modules)
	}
	tb := startBroker(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "kafkajs_roundtrip.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "GREGOR_BROKER="+tb.Addr(), "KAFKAJS_NO_PARTITIONER_WARNING=1",
		fmt.Sprintf("GREGOR_BROKERS=%d", tb.brokers))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node kafkajs_roundtrip.js: %v\nstdout:\n%.2000s\nstderr:\n%.4000s", err, stdout.String(), stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Logf("kafkajs stderr:\n%s", s)
	}

	var out struct {
		Topic   string `json:"topic"`
		Records []struct {
			Partition int32       `json:"partition"`
			Offset    int64       `json:"offset"`
			Key       *string     `json:"key"`
			Value     *string     `json:"value"`
			Headers   [][2]string `json:"headers"`
			Timestamp int64       `json:"timestamp"`
		} `json:"records"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("kafkajs output: %v\n%.2000s", err, stdout.String())
	}
	var want []record
	for _, r := range out.Records {
		w := record{Partition: r.Partition, Offset: r.Offset, Timestamp: time.UnixMilli(r.Timestamp)}
		if r.Key != nil {
			w.Key = []byte(*r.Key)
		}
		switch {
		case r.Value == nil:
		case *r.Value == "<big>":
			w.Value = bigValue()
		default:
			w.Value = []byte(*r.Value)
		}
		for _, h := range r.Headers {
			w.Headers = append(w.Headers, header{h[0], h[1]})
		}
		want = append(want, w)
	}
	if len(want) != 7 {
		t.Fatalf("kafkajs reported %d records sent, want 7", len(want))
	}
	next := map[int32]int64{}
	for i, w := range want {
		if w.Offset != next[w.Partition] {
			t.Errorf("kafkajs send: record %d at offset %d in partition %d, want %d", i, w.Offset, w.Partition, next[w.Partition])
		}
		next[w.Partition]++
	}
	var got []record
	for _, r := range readAll(t, tb.Addr(), out.Topic, len(want)) {
		got = append(got, fromKgo(r))
	}
	checkRecords(t, "franz-go reading kafkajs' records", got, want)
}
