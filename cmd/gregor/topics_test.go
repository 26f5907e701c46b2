package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

var topicIDPattern = regexp.MustCompile(`TopicId: [A-Za-z0-9_-]{22}\t`)

// stripTopicID replaces the random topic ID so describe output is golden.
func stripTopicID(s string) string {
	return topicIDPattern.ReplaceAllString(s, "TopicId: <id>\t")
}

func TestTopicsCreateListDescribeDelete(t *testing.T) {
	bs := startTestCluster(t)

	r := mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "2", "--config", "retention.ms=1000", "--bootstrap-server", bs)
	if r.stdout != "Created topic orders.\n" {
		t.Errorf("create stdout = %q", r.stdout)
	}
	mustGregor(t, "", "topics", "create", "--topic", "audit", "-b", bs)

	if r := mustGregor(t, "", "topics", "list", "-b", bs); r.stdout != "audit\norders\n" {
		t.Errorf("list stdout = %q, want audit and orders sorted", r.stdout)
	}

	r = mustGregor(t, "", "topics", "describe", "--topic", "orders", "-b", bs)
	want := "Topic: orders\tTopicId: <id>\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=1000\n" +
		"\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n" +
		"\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1\tIsr: 1\n"
	if got := stripTopicID(r.stdout); got != want {
		t.Errorf("describe stdout:\n%q\nwant:\n%q", got, want)
	}

	r = mustGregor(t, "", "topics", "describe", "-b", bs)
	if n := strings.Count(r.stdout, "PartitionCount:"); n != 2 {
		t.Errorf("describe of all topics shows %d topics, want 2:\n%s", n, r.stdout)
	}

	r = mustGregor(t, "", "topics", "delete", "--topic", "orders", "-b", bs)
	if r.stdout != "Deleted topic orders.\n" {
		t.Errorf("delete stdout = %q", r.stdout)
	}
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if mustGregor(t, "", "topics", "list", "-b", bs).stdout != "audit\n" {
			return errors.New("orders to disappear from the list")
		}
		return nil
	})
}

func TestTopicsCreateExistingTopicFailsWithTopicAlreadyExists(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "orders", "-b", bs)

	r := gregor(t, "", "topics", "create", "--topic", "orders", "-b", bs)
	if r.exit != 1 {
		t.Errorf("exit = %d, want 1", r.exit)
	}
	if want := "error: TOPIC_ALREADY_EXISTS: topic \"orders\" already exists\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}

	r = mustGregor(t, "", "topics", "create", "--topic", "orders", "--if-not-exists", "-b", bs)
	if r.stdout != "" {
		t.Errorf("--if-not-exists on an existing topic printed %q", r.stdout)
	}
}

func TestTopicsOnUnknownTopicFailWithUnknownTopicOrPartition(t *testing.T) {
	bs := startTestCluster(t)
	for _, args := range [][]string{
		{"topics", "describe", "--topic", "nope", "-b", bs},
		{"topics", "delete", "--topic", "nope", "-b", bs},
		{"topics", "alter-configs", "--topic", "nope", "--config", "retention.ms=1", "-b", bs},
	} {
		r := gregor(t, "", args...)
		if r.exit != 1 || !strings.HasPrefix(r.stderr, "error: UNKNOWN_TOPIC_OR_PARTITION: ") {
			t.Errorf("gregor %s: exit %d, stderr %q; want exit 1 naming UNKNOWN_TOPIC_OR_PARTITION", strings.Join(args[:2], " "), r.exit, r.stderr)
		}
	}
}

func TestTopicsAlterConfigsSetsAndDeletesOverrides(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "1", "--config", "cleanup.policy=compact", "-b", bs)

	r := mustGregor(t, "", "topics", "alter-configs", "--topic", "orders", "--config", "retention.ms=5000", "--config", "segment.bytes=1048576", "-b", bs)
	if r.stdout != "Completed updating config for topic orders.\n" {
		t.Errorf("alter-configs stdout = %q", r.stdout)
	}
	describe := mustGregor(t, "", "topics", "describe", "--topic", "orders", "-b", bs).stdout
	if !strings.Contains(describe, "\tConfigs: cleanup.policy=compact,retention.ms=5000,segment.bytes=1048576\n") {
		t.Errorf("describe after set does not show the three overrides:\n%s", describe)
	}

	mustGregor(t, "", "topics", "alter-configs", "--topic", "orders", "--delete-config", "cleanup.policy", "--delete-config", "segment.bytes", "-b", bs)
	describe = mustGregor(t, "", "topics", "describe", "--topic", "orders", "-b", bs).stdout
	if !strings.Contains(describe, "\tConfigs: retention.ms=5000\n") {
		t.Errorf("describe after delete-config should show only retention.ms:\n%s", describe)
	}
}

func TestUsageErrorsExitWithTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nosuchcommand"},
		{"topics"},
		{"topics", "frobnicate"},
		{"topics", "create"},
		{"topics", "create", "--topic", "t", "--partitions", "0"},
		{"topics", "create", "--topic", "t", "--config", "novalue"},
		{"topics", "create", "--topic", "t", "--no-such-flag"},
		{"produce"},
		{"consume", "--topic", "t", "--offset", "5"},
		{"perf", "produce", "--topic", "t"},
		{"perf", "produce", "--topic", "t", "--num-records", "1", "--acks", "2"},
	} {
		if r := gregor(t, "", args...); r.exit != 2 {
			t.Errorf("gregor %q: exit %d, want 2 (stderr %q)", args, r.exit, r.stderr)
		}
	}
}

func TestHelpExitsZeroAndListsCommands(t *testing.T) {
	r := gregor(t, "", "help")
	if r.exit != 0 {
		t.Fatalf("exit %d", r.exit)
	}
	for _, name := range []string{"server", "dev", "topics", "produce", "consume", "perf"} {
		if !strings.Contains(r.stdout, "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, r.stdout)
		}
	}
	if r := gregor(t, "", "topics", "create", "-h"); r.exit != 0 || !strings.Contains(r.stdout, "--replication-factor") {
		t.Errorf("topics create -h: exit %d, stdout %q", r.exit, r.stdout)
	}
}
