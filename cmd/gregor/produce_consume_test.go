package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestProduceKeysAndHeadersThenConsumeFromBeginningPrintsThemExactly(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "1", "-b", bs)

	mustGregor(t, "k1:hello\nk2:world, with: colons\r\n:empty key\n",
		"produce", "--topic", "orders", "--key-separator", ":", "--headers", "source:cli,trace:abc", "-b", bs)
	mustGregor(t, "no key here\n", "produce", "--topic", "orders", "-b", bs)

	r := mustGregor(t, "", "consume", "--topic", "orders", "--from-beginning", "--max-messages", "4",
		"--print-key", "--print-headers", "-b", bs)
	want := "source:cli,trace:abc\tk1\thello\n" +
		"source:cli,trace:abc\tk2\tworld, with: colons\n" +
		"source:cli,trace:abc\t\tempty key\n" +
		"NO_HEADERS\tnull\tno key here\n"
	if r.stdout != want {
		t.Errorf("consume stdout:\n%q\nwant:\n%q", r.stdout, want)
	}
	if r.stderr != "Processed a total of 4 messages\n" {
		t.Errorf("consume stderr = %q", r.stderr)
	}

	// Values only by default; --max-messages stops early.
	r = mustGregor(t, "", "consume", "--topic", "orders", "--from-beginning", "--max-messages", "2", "-b", bs)
	if r.stdout != "hello\nworld, with: colons\n" {
		t.Errorf("value-only consume stdout = %q", r.stdout)
	}

	// --print-timestamp prefixes CreateTime; --partition/--offset pick the start.
	r = mustGregor(t, "", "consume", "--topic", "orders", "--partition", "0", "--offset", "3", "--max-messages", "1",
		"--print-timestamp", "--print-offset", "--key-separator", "|", "-b", bs)
	if !regexp.MustCompile(`^CreateTime:\d{13}\|Offset:3\|no key here\n$`).MatchString(r.stdout) {
		t.Errorf("timestamped consume stdout = %q", r.stdout)
	}
}

func TestProduceParsesPerLineHeadersSoConsumerOutputReplays(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "t", "--partitions", "1", "-b", bs)
	lines := "a:1,b:2\tk\tv1\nNO_HEADERS\tk2\tv2\n"
	mustGregor(t, lines, "produce", "--topic", "t", "--parse-headers", "--key-separator", `\t`, "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "t", "--from-beginning", "--max-messages", "2", "--print-headers", "--print-key", "-b", bs)
	if r.stdout != lines {
		t.Errorf("replayed output = %q, want %q", r.stdout, lines)
	}
}

func TestProduceAndConsumeTwoMiBLine(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "big", "--partitions", "1", "--config", "max.message.bytes=10485760", "-b", bs)
	line := strings.Repeat("0123456789abcdef", 2<<20/16)
	mustGregor(t, line+"\nsmall\n", "produce", "--topic", "big", "--compression", "lz4", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "big", "--from-beginning", "--max-messages", "2", "-b", bs)
	if r.stdout != line+"\nsmall\n" {
		t.Errorf("round trip of a 2 MiB line lost data: got %d bytes, want %d", len(r.stdout), len(line)+7)
	}
}

func TestProduceLineWithoutKeySeparatorFails(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "t", "-b", bs)
	r := gregor(t, "k:v\nnoseparator\n", "produce", "--topic", "t", "--key-separator", ":", "-b", bs)
	if r.exit == 0 || !strings.Contains(r.stderr, "line 2") {
		t.Errorf("exit %d, stderr %q; want a failure naming line 2", r.exit, r.stderr)
	}
}

func TestConsumeTimeoutExitsCleanlyWithoutRecords(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "empty", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "empty", "--from-beginning", "--timeout-ms", "300", "-b", bs)
	if r.stdout != "" || r.stderr != "Processed a total of 0 messages\n" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}

func TestConsumeAsGroupMemberReadsAllPartitions(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "g", "--partitions", "3", "-b", bs)
	mustGregor(t, "a:1\nb:2\nc:3\nd:4\n", "produce", "--topic", "g", "--key-separator", ":", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "g", "--group", "readers", "--from-beginning", "--max-messages", "4", "-b", bs)
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(got) != 4 {
		t.Fatalf("group consume printed %q, want 4 values", r.stdout)
	}
	// The group committed what it printed: the next run reads only what came after.
	mustGregor(t, "e:5\nf:6\n", "produce", "--topic", "g", "--key-separator", ":", "-b", bs)
	r = mustGregor(t, "", "consume", "--topic", "g", "--group", "readers", "--from-beginning", "--max-messages", "2", "--timeout-ms", "15000", "-b", bs)
	if got := strings.Fields(r.stdout); len(got) != 2 || !(got[0] == "5" && got[1] == "6" || got[0] == "6" && got[1] == "5") {
		t.Fatalf("second group run printed %q, want only 5 and 6", r.stdout)
	}
}

func TestProduceToChosenPartitionIsReadFromThatPartition(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "p", "--partitions", "2", "-b", bs)
	mustGregor(t, "x\ny\n", "produce", "--topic", "p", "--partition", "1", "--acks", "1", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "p", "--partition", "1", "--offset", "earliest", "--max-messages", "2", "--print-partition", "-b", bs)
	if r.stdout != "Partition:1\tx\nPartition:1\ty\n" {
		t.Errorf("partition 1 holds %q", r.stdout)
	}
	r = mustGregor(t, "", "consume", "--topic", "p", "--partition", "0", "--offset", "earliest", "--timeout-ms", "200", "-b", bs)
	if r.stdout != "" {
		t.Errorf("partition 0 should be empty, holds %q", r.stdout)
	}
}

// --null-marker and Kafka's --property forms produce tombstones and keys as
// kafka-console-producer does.
func TestProduceNullMarkerAndPropertiesWriteTombstones(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "t", "--partitions", "1", "-b", bs)
	mustGregor(t, "k1:v1\nk1:NULL\nNULL:no key\n", "produce", "--topic", "t", "--key-separator", ":", "--null-marker", "NULL", "-b", bs)
	mustGregor(t, "k2|v2\nk2|<null>\n", "produce", "--topic", "t",
		"--property", "parse.key=true", "--property", "key.separator=|", "--property", "null.marker=<null>", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "t", "--from-beginning", "--max-messages", "5", "--print-key", "-b", bs)
	want := "k1\tv1\nk1\tnull\nnull\tno key\nk2\tv2\nk2\tnull\n"
	if r.stdout != want {
		t.Errorf("consumed %q, want %q", r.stdout, want)
	}
	r = gregor(t, "x\n", "produce", "--topic", "t", "--property", "ignore.error=true", "-b", bs)
	wantErr := "error: --property \"ignore.error\" is not supported; the console producer takes parse.key, key.separator, parse.headers, null.marker, schema.registry.url, key.schema.id, value.schema.id, key.schema, value.schema, key.schema.file, value.schema.file, auto.register.schemas\n"
	if r.exit != 2 || r.stderr != wantErr {
		t.Errorf("unsupported property: exit %d, stderr %q; want exit 2, %q", r.exit, r.stderr, wantErr)
	}
}
