package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// kafkajsGroupRun is the output of testdata/kafkajs_group.js.
type kafkajsGroupRun struct {
	Received []struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Offset    int64   `json:"offset"`
		Key       *string `json:"key"`
		Value     *string `json:"value"`
	} `json:"received"`
	Joins []struct {
		MemberID   string             `json:"memberId"`
		LeaderID   string             `json:"leaderId"`
		IsLeader   bool               `json:"isLeader"`
		Assignment map[string][]int32 `json:"assignment"`
		Protocol   string             `json:"protocol"`
	} `json:"joins"`
}

// kafkajsGroup runs testdata/kafkajs_group.js: one kafkajs consumer in group reads expect messages
// of topic and disconnects.
func kafkajsGroup(t *testing.T, node, modules, addr, group, topic string, expect int) kafkajsGroupRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "kafkajs_group.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "GREGOR_BROKER="+addr, "GROUP="+group, "TOPIC="+topic,
		fmt.Sprintf("EXPECT=%d", expect), "SETTLE_MS=500")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node kafkajs_group.js: %v\nstdout:\n%.2000s\nstderr:\n%.6000s", err, stdout.String(), stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Logf("kafkajs stderr:\n%s", s)
	}
	var run kafkajsGroupRun
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		t.Fatalf("kafkajs_group.js output: %v\n%.2000s", err, stdout.String())
	}
	return run
}

// TestKafkajsConsumerGroupResumesAfterRestart consumes a 3-partition topic with a kafkajs consumer
// (subscribe fromBeginning, run with eachMessage, auto-commit), disconnects, and checks the
// committed offsets. After a restart of the group's coordinator (the broker, or on a cluster the
// coordinating node) a new kafkajs consumer in the same group must read exactly the records
// produced after the restart, none of the committed ones.
func TestKafkajsConsumerGroupResumesAfterRestart(t *testing.T) {
	node := requireTool(t, "node")
	modules := filepath.Join(repoRoot(t), ".ci", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		missing(t, "kafkajs not installed under "+modules)
	}
	tb := startBroker(t)
	const topic, group, parts, n, more = "kafkajs-group", "kafkajs-group", 3, 60, 21
	createTopic(t, tb.Addr(), topic, parts, nil)
	produceSeq(t, tb.Addr(), topic, parts, 0, n)

	check := func(who string, run kafkajsGroupRun, from, to int) {
		t.Helper()
		if len(run.Joins) != 1 {
			t.Errorf("%s: joined %d times, want once: %+v", who, len(run.Joins), run.Joins)
		} else if j := run.Joins[0]; !j.IsLeader || j.MemberID == "" || j.LeaderID != j.MemberID || j.Protocol != "RoundRobinAssigner" ||
			!slices.Equal(j.Assignment[topic], []int32{0, 1, 2}) {
			t.Errorf("%s: join %+v, want the leader, RoundRobinAssigner, all of %s", who, j, topic)
		}
		seen := map[int]bool{}
		next := map[int32]int64{}
		for _, r := range run.Received {
			var i int
			if r.Value == nil || r.Key != nil || r.Topic != topic {
				t.Fatalf("%s: unexpected message %+v", who, r)
			}
			if _, err := fmt.Sscanf(*r.Value, "seq-%d", &i); err != nil || i < from || i >= to {
				t.Fatalf("%s: read %q at %d@%d, want only seq-%d..seq-%d", who, *r.Value, r.Partition, r.Offset, from, to-1)
			}
			if seen[i] {
				t.Errorf("%s: seq-%d read twice", who, i)
			}
			seen[i] = true
			if int32(i)%parts != r.Partition || int64(i/parts) != r.Offset {
				t.Errorf("%s: seq-%d at %d@%d, want %d@%d", who, i, r.Partition, r.Offset, int32(i)%parts, i/parts)
			}
			if o, ok := next[r.Partition]; ok && r.Offset != o {
				t.Errorf("%s: partition %d: offset %d after %d", who, r.Partition, r.Offset, o-1)
			}
			next[r.Partition] = r.Offset + 1
		}
		if len(seen) != to-from {
			t.Errorf("%s: read %d distinct records, want %d", who, len(seen), to-from)
		}
	}
	checkCommitted := func(who string, want int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		committed, err := adminClient(t, tb.Addr()).FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("FetchOffsets %s: %v", group, err)
		}
		for p := int32(0); p < parts; p++ {
			if o, ok := committed.Lookup(topic, p); !ok || o.Err != nil || o.At != want {
				t.Errorf("%s: committed offset of %s[%d]: %+v (found %v), want %d", who, topic, p, o, ok, want)
			}
		}
	}

	check("kafkajs", kafkajsGroup(t, node, modules, tb.Addr(), group, topic, n), 0, n)
	checkCommitted("after disconnect", n/parts)

	tb.restartGroupCoordinator(t, group)
	produceSeq(t, tb.Addr(), topic, parts, n, n+more)
	check("kafkajs after restart", kafkajsGroup(t, node, modules, tb.Addr(), group, topic, more), n, n+more)
	checkCommitted("after the second disconnect", (n+more)/parts)
}
