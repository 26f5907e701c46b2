package main

import (
	"strings"
	"testing"
)

func TestGroupsResetOffsetsExecutePrintsProgressWhileCommittingManyPartitions(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "wide", "--partitions", "25", "-b", bs)
	saved := resetCommitBatch
	resetCommitBatch = 10
	t.Cleanup(func() { resetCommitBatch = saved })

	r := mustGregor(t, "", "groups", "reset-offsets", "--group", "wide-readers", "--topic", "wide", "--to-earliest",
		"--execute", "--progress-interval", "0", "-b", bs)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	want := []string{"Resetting offsets of group 'wide-readers': 10/25 partitions (40.0%), ", "Resetting offsets of group 'wide-readers': 20/25 partitions (80.0%), "}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d progress lines:\n%s", len(lines), len(want), r.stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) || !strings.Contains(lines[i], "/s, ETA ") {
			t.Errorf("progress line %d = %q, want %q... with a rate and an ETA", i, lines[i], w)
		}
	}
	if rows := describeRows(t, bs, "wide-readers"); len(rows) != 25 {
		t.Errorf("the group has offsets for %d partitions after the reset, want all 25", len(rows))
	}

	// The default interval prints nothing for a reset this quick.
	r = mustGregor(t, "", "groups", "reset-offsets", "--group", "wide-readers", "--topic", "wide", "--to-latest", "--execute", "-b", bs)
	if r.stderr != "" {
		t.Errorf("a quick reset printed %q to stderr", r.stderr)
	}
}
