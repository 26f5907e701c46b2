package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// describeRows runs `groups describe` for group and returns its table rows
// (header excluded) split into fields.
func describeRows(t *testing.T, bs, group string, extra ...string) [][]string {
	t.Helper()
	r := mustGregor(t, "", append([]string{"groups", "describe", "--group", group, "-b", bs}, extra...)...)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// offsetsOf returns "topic/partition=current" for each row of a describe
// table, in order, for compact comparisons.
func offsetsOf(rows [][]string) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, r[1]+"/"+r[2]+"="+r[3])
	}
	return strings.Join(parts, " ")
}

// produceTo writes values to one partition of topic with the produce command.
func produceTo(t *testing.T, bs, topic string, partition int, values ...string) {
	t.Helper()
	mustGregor(t, strings.Join(values, "\n")+"\n", "produce", "--topic", topic, "--partition", fmt.Sprint(partition), "-b", bs)
}

// produceAt writes one record per timestamp to partition 0 of topic, each
// with that CreateTime.
func produceAt(t *testing.T, bs, topic string, timestamps ...time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var records []*kgo.Record
	for i, ts := range timestamps {
		records = append(records, &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "r%d", i), Timestamp: ts})
	}
	if err := cl.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatalf("producing timestamped records: %v", err)
	}
}

// commitOffsets commits offsets (partition to offset) of topic for group,
// as a standalone (member-less) commit.
func commitOffsets(t *testing.T, bs, group, topic string, offsets map[int32]int64) {
	t.Helper()
	adm, closeAdmin, err := newAdmin(t.Context(), &brokerFlags{bootstrap: bs, timeout: defaultTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAdmin()
	var commits kadm.Offsets
	for p, at := range offsets {
		commits.AddOffset(topic, p, at, -1)
	}
	if err := adm.CommitAllOffsets(t.Context(), group, commits); err != nil {
		t.Fatalf("committing offsets for %s: %v", group, err)
	}
}

// consumedGroup creates topic "orders" with two partitions holding 3 and 2
// records, reads all five with `gregor consume --group group`, commits what
// it read, then appends one more record to partition 0: committed offsets
// 3 and 2, log end offsets 4 and 2.
func consumedGroup(t *testing.T, bs, group string) {
	t.Helper()
	mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "2", "-b", bs)
	produceTo(t, bs, "orders", 0, "a", "b", "c")
	produceTo(t, bs, "orders", 1, "d", "e")
	mustGregor(t, "", "consume", "--topic", "orders", "--group", group, "--from-beginning", "--max-messages", "5", "-b", bs)
	// NB: the console consumer autocommits with kgo's default, which commits
	// a poll's records only at the next poll; the records of its last poll
	// stay uncommitted when it exits, so the test commits what it read.
	commitOffsets(t, bs, group, "orders", map[int32]int64{0: 3, 1: 2})
	produceTo(t, bs, "orders", 0, "f")
}

func TestGroupsListAndDescribeShowCommittedOffsetsLogEndAndLag(t *testing.T) {
	bs := startTestCluster(t)
	consumedGroup(t, bs, "readers")

	if r := mustGregor(t, "", "groups", "list", "-b", bs); r.stdout != "readers\n" {
		t.Errorf("list stdout = %q, want readers", r.stdout)
	}
	if r := mustGregor(t, "", "groups", "list", "--state", "-b", bs); r.stdout != "GROUP   STATE\nreaders Empty\n" {
		t.Errorf("list --state stdout = %q", r.stdout)
	}
	if r := mustGregor(t, "", "groups", "list", "--state", "empty,Dead", "-b", bs); !strings.Contains(r.stdout, "readers Empty\n") {
		t.Errorf("list --state empty,Dead stdout = %q, want readers", r.stdout)
	}
	if r := mustGregor(t, "", "groups", "list", "--state=Stable", "-b", bs); r.stdout != "GROUP STATE\n" {
		t.Errorf("list --state=Stable stdout = %q, want only the header", r.stdout)
	}

	r := mustGregor(t, "", "groups", "describe", "--group", "readers", "-b", bs)
	want := "" +
		"GROUP   TOPIC  PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID\n" +
		"readers orders 0         3              4              1   -           -    -\n" +
		"readers orders 1         2              2              0   -           -    -\n"
	if r.stdout != want {
		t.Errorf("describe stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r.stderr != "Consumer group 'readers' has no active members.\n" {
		t.Errorf("describe stderr = %q", r.stderr)
	}

	r = mustGregor(t, "", "groups", "describe", "--group", "readers", "--members", "-b", bs)
	if r.stdout != "" || r.stderr != "Consumer group 'readers' has no active members.\n" {
		t.Errorf("describe --members of an empty group: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	rows := describeRows(t, bs, "readers", "--state")
	// GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS, the coordinator being host:port (id).
	if len(rows) != 1 || len(rows[0]) != 6 || rows[0][0] != "readers" || rows[0][1] != bs || rows[0][2] != "(1)" ||
		rows[0][4] != "Empty" || rows[0][5] != "0" {
		t.Errorf("describe --state rows = %q", rows)
	}

	// --all-groups describes every group, one table each.
	mustGregor(t, "", "groups", "reset-offsets", "--group", "other", "--topic", "orders:1", "--to-offset", "1", "--execute", "-b", bs)
	r = mustGregor(t, "", "groups", "describe", "--all-groups", "-b", bs)
	if n := strings.Count(r.stdout, "GROUP "); n != 2 || !strings.Contains(r.stdout, "\n\nGROUP ") || !strings.Contains(r.stdout, "\nother orders 1 ") {
		t.Errorf("describe --all-groups:\n%s", r.stdout)
	}
}

func TestGroupsResetOffsetsDryRunChangesNothingAndExecuteCommits(t *testing.T) {
	bs := startTestCluster(t)
	consumedGroup(t, bs, "readers")
	const before = "orders/0=3 orders/1=2"

	r := mustGregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest", "-b", bs)
	wantPlan := "GROUP   TOPIC  PARTITION NEW-OFFSET\n" +
		"readers orders 0         0\n" +
		"readers orders 1         0\n"
	if r.stdout != wantPlan {
		t.Errorf("dry-run plan:\n%s\nwant:\n%s", r.stdout, wantPlan)
	}
	if !strings.HasPrefix(r.stderr, "WARN: No action will be performed as the --execute option is missing.") {
		t.Errorf("dry run without --dry-run should warn, stderr %q", r.stderr)
	}
	if r := mustGregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest", "--dry-run", "-b", bs); r.stderr != "" || r.stdout != wantPlan {
		t.Errorf("--dry-run: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if got := offsetsOf(describeRows(t, bs, "readers")); got != before {
		t.Fatalf("offsets after dry runs = %s, want unchanged %s", got, before)
	}

	r = mustGregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest", "--execute", "-b", bs)
	if r.stdout != wantPlan {
		t.Errorf("--execute prints %q, want the plan", r.stdout)
	}
	rows := describeRows(t, bs, "readers")
	if got := offsetsOf(rows); got != "orders/0=0 orders/1=0" {
		t.Errorf("offsets after --to-earliest --execute = %s", got)
	}
	if rows[0][5] != "4" || rows[1][5] != "2" {
		t.Errorf("lag after reset to earliest = %s and %s, want 4 and 2", rows[0][5], rows[1][5])
	}

	r = gregor(t, "", "groups", "reset-offsets", "--group", "fresh", "--topic", "orders", "--shift-by", "1", "-b", bs)
	if want := "error: cannot shift offset for partition orders-0 since there is no current committed offset\n"; r.exit != 1 || r.stderr != want {
		t.Errorf("--shift-by on a group without commits: exit %d, stderr %q; want %q", r.exit, r.stderr, want)
	}

	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "orders", "--to-latest"}, "orders/0=4 orders/1=2"},
		// Shifts are clamped to [log start, log end], like Kafka.
		{[]string{"--topic", "orders", "--shift-by", "-3"}, "orders/0=1 orders/1=0"},
		{[]string{"--topic", "orders:0", "--shift-by", "2"}, "orders/0=3 orders/1=0"},
		{[]string{"--all-topics", "--shift-by", "10"}, "orders/0=4 orders/1=2"},
		{[]string{"--topic", "orders", "--shift-by", "-2"}, "orders/0=2 orders/1=0"},
		{[]string{"--topic", "orders:1", "--to-offset", "1"}, "orders/0=2 orders/1=1"},
		{[]string{"--topic", "orders", "--to-offset", "99"}, "orders/0=4 orders/1=2"},
		{[]string{"--all-topics", "--to-current"}, "orders/0=4 orders/1=2"},
	} {
		args := append([]string{"groups", "reset-offsets", "--group", "readers", "--execute", "-b", bs}, step.args...)
		mustGregor(t, "", args...)
		if got := offsetsOf(describeRows(t, bs, "readers")); got != step.want {
			t.Errorf("after %s: offsets %s, want %s", strings.Join(step.args, " "), got, step.want)
		}
	}
}

func TestGroupsResetOffsetsToDatetimeAndByDuration(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "events", "--partitions", "1", "-b", bs)
	base := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	now := time.Now()
	produceAt(t, bs, "events",
		base, base.Add(time.Minute), base.Add(2*time.Minute), // offsets 0-2
		now.Add(-3*time.Hour), now.Add(-30*time.Minute), now.Add(-10*time.Minute)) // offsets 3-5

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-datetime", "2026-01-02T15:01:00.000Z"}, "events/0=1"},
		{[]string{"--to-datetime", "2026-01-02T15:00:30.500Z"}, "events/0=1"},
		{[]string{"--to-datetime", "2026-01-02T16:02:00.000+01:00"}, "events/0=2"},
		{[]string{"--to-datetime", "2026-01-02T15:02:00+0000"}, "events/0=2"},
		{[]string{"--to-datetime", "2000-01-01T00:00:00.000Z"}, "events/0=0"},
		{[]string{"--to-datetime", "2999-01-01T00:00:00.000Z"}, "events/0=6"}, // after every record: the log end
		{[]string{"--by-duration", "PT1H"}, "events/0=4"},
		{[]string{"--by-duration", "P1D"}, "events/0=3"},
		{[]string{"--by-duration", "PT15M"}, "events/0=5"},
	} {
		args := append([]string{"groups", "reset-offsets", "--group", "g", "--topic", "events", "--execute", "-b", bs}, c.args...)
		mustGregor(t, "", args...)
		if got := offsetsOf(describeRows(t, bs, "g")); got != c.want {
			t.Errorf("%s: offsets %s, want %s", strings.Join(c.args, " "), got, c.want)
		}
	}
}

func TestGroupsActiveGroupIsDescribedWithMembersAndRefusesResetDeleteAndSubscribedOffsetDelete(t *testing.T) {
	bs := startTestCluster(t)
	consumedGroup(t, bs, "readers")

	member, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ClientID("held-member"),
		kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeMember := func() {
		if !closed {
			closed = true
			member.Close()
		}
	}
	defer closeMember()
	// NB: polling is what makes kgo join the group; the bounded poll
	// returns once records arrive or the context ends.
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		pollCtx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		member.PollFetches(pollCtx)
		cancel()
		rows := describeRows(t, bs, "readers", "--members")
		if !(len(rows) == 1 && rows[0][4] == "2") {
			return errors.New("the held member to be assigned both partitions")
		}
		return nil
	})

	rows := describeRows(t, bs, "readers", "--members")
	if got := rows[0]; got[0] != "readers" || got[3] != "held-member" || got[5] != "orders(0,1)" {
		t.Errorf("describe --members row = %q, want client held-member assigned orders(0,1)", got)
	}
	memberID := rows[0][1]

	r := mustGregor(t, "", "groups", "describe", "--group", "readers", "-b", bs)
	if r.stderr != "" {
		t.Errorf("describe of an active group wrote stderr %q", r.stderr)
	}
	rows = describeRows(t, bs, "readers")
	if len(rows) != 2 {
		t.Fatalf("describe rows = %q", rows)
	}
	for i, want := range [][]string{{"readers", "orders", "0", "3", "4", "1"}, {"readers", "orders", "1", "2", "2", "0"}} {
		got := rows[i]
		if strings.Join(got[:6], " ") != strings.Join(want, " ") || got[6] != memberID || got[8] != "held-member" {
			t.Errorf("describe row %d = %q, want %q owned by %s/held-member", i, got, want, memberID)
		}
	}

	rows = describeRows(t, bs, "readers", "--state")
	if len(rows) != 1 || rows[0][4] != "Stable" || rows[0][5] != "1" || rows[0][3] == "-" {
		t.Errorf("describe --state of the active group = %q, want Stable with 1 member and a strategy", rows)
	}

	r = gregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest", "--execute", "-b", bs)
	if want := "error: Assignments can only be reset if the group 'readers' is inactive, but the current state is Stable.\n"; r.exit != 1 || r.stderr != want {
		t.Errorf("reset of an active group: exit %d, stderr %q; want exit 1 and %q", r.exit, r.stderr, want)
	}
	if got := offsetsOf(describeRows(t, bs, "readers")); got != "orders/0=3 orders/1=2" {
		t.Errorf("refused reset changed offsets to %s", got)
	}

	r = gregor(t, "", "groups", "delete", "--group", "readers", "-b", bs)
	if want := "error: NON_EMPTY_GROUP: consumer group \"readers\" is not empty: it still has active members\n"; r.exit != 1 || r.stderr != want {
		t.Errorf("delete of an active group: exit %d, stderr %q; want %q", r.exit, r.stderr, want)
	}

	r = gregor(t, "", "groups", "delete-offsets", "--group", "readers", "--topic", "orders:0", "-b", bs)
	if want := "TOPIC  PARTITION STATUS\norders 0         Error: GROUP_SUBSCRIBED_TO_TOPIC\n"; r.exit != 1 || r.stdout != want ||
		r.stderr != "error: GROUP_SUBSCRIBED_TO_TOPIC: consumer group \"readers\" is subscribed to topic \"orders\", so its offsets cannot be deleted\n" {
		t.Errorf("delete-offsets of a subscribed topic: exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	}

	closeMember()
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		rows := describeRows(t, bs, "readers", "--state")
		if !(len(rows) == 1 && rows[0][4] == "Empty") {
			return errors.New("the group to become Empty once its member left")
		}
		return nil
	})
	mustGregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest", "--execute", "-b", bs)
	if got := offsetsOf(describeRows(t, bs, "readers")); got != "orders/0=0 orders/1=0" {
		t.Errorf("reset after the member left: offsets %s", got)
	}
}

func TestGroupsDeleteOffsetsRemovesOnlyTheGivenPartitions(t *testing.T) {
	bs := startTestCluster(t)
	consumedGroup(t, bs, "readers")
	mustGregor(t, "", "topics", "create", "--topic", "audit", "--partitions", "1", "-b", bs)
	produceTo(t, bs, "audit", 0, "x")
	mustGregor(t, "", "groups", "reset-offsets", "--group", "readers", "--topic", "audit", "--to-latest", "--execute", "-b", bs)

	r := mustGregor(t, "", "groups", "delete-offsets", "--group", "readers", "--topic", "orders:1", "--topic", "audit", "-b", bs)
	want := "TOPIC  PARTITION STATUS\n" +
		"audit  0         Successful\n" +
		"orders 1         Successful\n"
	if r.stdout != want {
		t.Errorf("delete-offsets stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if got := offsetsOf(describeRows(t, bs, "readers")); got != "orders/0=3" {
		t.Errorf("offsets after delete-offsets = %s, want only orders/0=3", got)
	}

	r = gregor(t, "", "groups", "delete-offsets", "--group", "nobody", "--topic", "orders", "-b", bs)
	if want := "error: GROUP_ID_NOT_FOUND: consumer group \"nobody\" does not exist\n"; r.exit != 1 || r.stderr != want {
		t.Errorf("delete-offsets of an unknown group: exit %d, stderr %q", r.exit, r.stderr)
	}
	r = gregor(t, "", "groups", "delete-offsets", "--group", "readers", "--topic", "missing", "-b", bs)
	if r.exit != 1 || !strings.HasPrefix(r.stderr, "error: UNKNOWN_TOPIC_OR_PARTITION: topic \"missing\"") {
		t.Errorf("delete-offsets of an unknown topic: exit %d, stderr %q", r.exit, r.stderr)
	}
}

func TestGroupsDeleteRemovesEmptyGroupsAndNamesUnknownOnes(t *testing.T) {
	bs := startTestCluster(t)
	consumedGroup(t, bs, "readers")
	mustGregor(t, "", "groups", "reset-offsets", "--group", "audit", "--topic", "orders", "--to-earliest", "--execute", "-b", bs)

	r := mustGregor(t, "", "groups", "delete", "--group", "readers", "--group", "audit", "-b", bs)
	if want := "Deletion of requested consumer groups ('readers', 'audit') was successful.\n"; r.stdout != want {
		t.Errorf("delete stdout = %q, want %q", r.stdout, want)
	}
	if r := mustGregor(t, "", "groups", "list", "-b", bs); r.stdout != "" {
		t.Errorf("list after delete = %q, want nothing", r.stdout)
	}

	// Groups that can be deleted are, and each failure is named.
	mustGregor(t, "", "groups", "reset-offsets", "--group", "audit", "--topic", "orders", "--to-earliest", "--execute", "-b", bs)
	r = gregor(t, "", "groups", "delete", "--group", "audit", "--group", "nope", "-b", bs)
	if r.exit != 1 || r.stdout != "Deletion of requested consumer groups ('audit') was successful.\n" ||
		r.stderr != "error: GROUP_ID_NOT_FOUND: consumer group \"nope\" does not exist\n" {
		t.Errorf("delete of one deletable and one unknown group: exit %d, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	}

	for _, args := range [][]string{
		{"groups", "delete", "--group", "readers"},
		{"groups", "describe", "--group", "readers"},
	} {
		r = gregor(t, "", append(args, "-b", bs)...)
		if want := "error: GROUP_ID_NOT_FOUND: consumer group \"readers\" does not exist\n"; r.exit != 1 || r.stderr != want {
			t.Errorf("gregor %s of a deleted group: exit %d, stderr %q; want %q", strings.Join(args[:2], " "), r.exit, r.stderr, want)
		}
	}
}

func TestGroupsUsageErrorsExitWithTwo(t *testing.T) {
	for _, args := range [][]string{
		{"groups"},
		{"groups", "frobnicate"},
		{"groups", "list", "--state", "Sleeping"},
		{"groups", "describe"},
		{"groups", "describe", "--group", "g", "--all-groups"},
		{"groups", "describe", "--group", "g", "--members", "--state"},
		{"groups", "delete"},
		{"groups", "reset-offsets", "--group", "g", "--to-earliest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--all-topics", "--to-earliest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--dry-run", "--execute"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t:x", "--to-earliest"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--shift-by", "two"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"},
		{"groups", "reset-offsets", "--group", "g", "--topic", "t", "--by-duration", "1h"},
		{"groups", "delete-offsets", "--group", "g"},
	} {
		if r := gregor(t, "", args...); r.exit != 2 {
			t.Errorf("gregor %q: exit %d, want 2 (stderr %q)", args, r.exit, r.stderr)
		}
	}
}

func TestGroupsHelp(t *testing.T) {
	if r := gregor(t, "", "help"); r.exit != 0 || !strings.Contains(r.stdout, "  groups ") {
		t.Errorf("help does not list groups: %q", r.stdout)
	}
	if r := gregor(t, "", "groups", "reset-offsets", "-h"); r.exit != 0 || !strings.Contains(r.stdout, "--by-duration") {
		t.Errorf("groups reset-offsets -h: exit %d, stdout %q", r.exit, r.stdout)
	}
}
