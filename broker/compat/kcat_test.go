package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat runs kcat (librdkafka) with stdin and returns its stdout, failing the test on a non-zero
// exit with kcat's stderr. librdkafka sends old request versions (Produce v3+, Fetch v4+, low
// Metadata versions) negotiated through ApiVersions, so these tests also hold the broker's floors.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	bin := requireTool(t, "kcat")
	// NB: a consumer that never sees the end of a partition (-e) would hang; stop it with SIGTERM so
	// kcat flushes what it printed, and show that in the failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || ctx.Err() != nil {
		t.Fatalf("kcat %s: %v (context: %v)\nstdout:\n%.2000s\nstderr:\n%.4000s", strings.Join(args, " "), err, ctx.Err(), stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestKcatListsTopicMetadata checks `kcat -L` (Metadata through librdkafka): the broker is listed
// at the address clients dialled, and the topic with its partitions, leader, replicas and ISR.
func TestKcatListsTopicMetadata(t *testing.T) {
	requireTool(t, "kcat")
	tb := startBroker(t)
	createTopic(t, tb.Addr(), "kcat-meta", 3, nil)

	out := kcat(t, "", "-b", tb.Addr(), "-L", "-t", "kcat-meta")
	if !strings.Contains(out, fmt.Sprintf(" at %s", tb.Addr())) {
		t.Errorf("kcat -L does not show the broker at %s:\n%s", tb.Addr(), out)
	}
	if !strings.Contains(out, `topic "kcat-meta" with 3 partitions:`) {
		t.Errorf("kcat -L does not list kcat-meta with 3 partitions:\n%s", out)
	}
	part := regexp.MustCompile(`partition (\d+), leader (\d+), replicas: ([\d,]+), isrs: ([\d,]+)`)
	var seen []string
	for _, m := range part.FindAllStringSubmatch(out, -1) {
		replicas, isrs := strings.Split(m[3], ","), strings.Split(m[4], ",")
		slices.Sort(isrs)
		if !slices.Contains(replicas, m[2]) || len(replicas) != tb.brokers || !slices.Equal(slices.Sorted(slices.Values(replicas)), isrs) {
			t.Errorf("kcat -L: %s: want the leader among %d replicas, all in sync", m[0], tb.brokers)
		}
		seen = append(seen, m[1])
	}
	if !slices.Equal(seen, []string{"0", "1", "2"}) {
		t.Errorf("kcat -L: partitions %v, want 0 1 2:\n%s", seen, out)
	}

	var md struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string            `json:"topic"`
			Partitions []json.RawMessage `json:"partitions"`
		} `json:"topics"`
	}
	js := kcat(t, "", "-b", tb.Addr(), "-L", "-J", "-t", "kcat-meta")
	if err := json.Unmarshal([]byte(js), &md); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, js)
	}
	if len(md.Brokers) != tb.brokers || !slices.ContainsFunc(md.Brokers, func(b struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	}) bool {
		return b.Name == tb.Addr()
	}) {
		t.Errorf("kcat -L -J brokers: %+v, want %d, one at %s", md.Brokers, tb.brokers, tb.Addr())
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != "kcat-meta" || len(md.Topics[0].Partitions) != 3 {
		t.Errorf("kcat -L -J -t kcat-meta: %s", js)
	}
}

// TestKcatProducesAndConsumesEveryCodec produces keyed lines with `kcat -P -K: -z <codec>` and
// consumes them with `kcat -C -e -f`, checking the output exactly: keys, values, partition and
// offsets. With -Z an empty value is produced as NULL (a tombstone) and an empty key as a NULL key,
// and both read back as NULL.
func TestKcatProducesAndConsumesEveryCodec(t *testing.T) {
	requireTool(t, "kcat")
	tb := startBroker(t)
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			createTopic(t, tb.Addr(), topic, 1, nil)
			in := "k1:v1\nk2:hello world\nk1:\n:no key\nk3:v=3 with:colon\n"
			kcat(t, in, "-b", tb.Addr(), "-P", "-t", topic, "-K:", "-Z", "-z", codec)

			got := kcat(t, "", "-b", tb.Addr(), "-C", "-t", topic, "-e", "-Z", "-f", `%k=%s %p@%o\n`)
			want := "k1=v1 0@0\n" +
				"k2=hello world 0@1\n" +
				"k1=NULL 0@2\n" +
				"NULL=no key 0@3\n" +
				"k3=v=3 with:colon 0@4\n"
			if got != want {
				t.Errorf("kcat -C output:\n%s\nwant:\n%s", got, want)
			}

			// What kcat wrote, as another client sees it: the tombstone is a null value.
			recs := readAll(t, tb.Addr(), topic, 5)
			if recs[2].Value != nil {
				t.Errorf("franz-go reads the -Z empty value as %q, want null", recs[2].Value)
			}
			if recs[3].Key != nil {
				t.Errorf("franz-go reads the -Z empty key as %q, want null", recs[3].Key)
			}
		})
	}
}

// TestKcatKeepsPartitionOrder produces numbered lines with 7 keys to a 3-partition topic through
// librdkafka's key-hash partitioner and checks, from `kcat -C -e`, that offsets are dense from 0,
// sequence numbers increase within each partition, and each key stays in one partition.
func TestKcatKeepsPartitionOrder(t *testing.T) {
	requireTool(t, "kcat")
	tb := startBroker(t)
	const topic, n = "kcat-order", 600
	createTopic(t, tb.Addr(), topic, 3, nil)
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "key-%d:seq-%d\n", i%7, i)
	}
	kcat(t, in.String(), "-b", tb.Addr(), "-P", "-t", topic, "-K:", "-z", "lz4", "-X", "linger.ms=5")

	out := kcat(t, "", "-b", tb.Addr(), "-C", "-t", topic, "-e", "-f", `%p %o %k %s\n`)
	var recs []record
	keyPartition := map[string]int32{}
	nextOffset := map[int32]int64{}
	for _, l := range lines(out) {
		var r record
		var k, v string
		if _, err := fmt.Sscanf(l, "%d %d %s %s", &r.Partition, &r.Offset, &k, &v); err != nil {
			t.Fatalf("kcat line %q: %v", l, err)
		}
		r.Key, r.Value = []byte(k), []byte(v)
		if r.Offset != nextOffset[r.Partition] {
			t.Errorf("partition %d: offset %d, want %d", r.Partition, r.Offset, nextOffset[r.Partition])
		}
		nextOffset[r.Partition] = r.Offset + 1
		if p, ok := keyPartition[k]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		keyPartition[k] = r.Partition
		recs = append(recs, r)
	}
	if len(recs) != n {
		t.Fatalf("kcat consumed %d records, want %d", len(recs), n)
	}
	if counts := checkOrdering(t, "kcat", recs); len(counts) < 2 {
		t.Errorf("7 keys landed in %d partitions: %v", len(counts), counts)
	}
}

// kcatJSON is one message of `kcat -C -J`.
type kcatJSON struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	TSType    string    `json:"tstype"`
	TS        int64     `json:"ts"`
	Headers   []*string `json:"headers"`
	Key       *string   `json:"key"`
	Payload   *string   `json:"payload"`
}

// TestKcatReadsHeadersTimestampsAndNulls writes the sample records with franz-go (headers,
// explicit create timestamps, null key, tombstone, empty value, 1 MiB value; gzip) and reads them
// with `kcat -C -J`, where null keys and payloads are JSON null. Then kcat produces with -H headers
// and a 1 MiB line, and franz-go reads those back.
func TestKcatReadsHeadersTimestampsAndNulls(t *testing.T) {
	requireTool(t, "kcat")
	tb := startBroker(t)
	const topic = "kcat-json"
	createTopic(t, tb.Addr(), topic, 1, map[string]string{"max.message.bytes": bigTopicMaxMessageBytes})

	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ProducerBatchCompression(kgo.GzipCompression()),
		kgo.ProducerBatchMaxBytes(3<<20), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := sampleRecords(true)
	var krs []*kgo.Record
	for _, r := range want {
		kr := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		krs = append(krs, kr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}

	out := kcat(t, "", "-b", tb.Addr(), "-C", "-t", topic, "-e", "-J")
	var got []record
	for _, l := range lines(out) {
		var m kcatJSON
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("kcat -J line: %v: %.200s", err, l)
		}
		if m.TSType != "create" {
			t.Errorf("offset %d: tstype %q, want create", m.Offset, m.TSType)
		}
		r := record{Partition: m.Partition, Offset: m.Offset, Timestamp: time.UnixMilli(m.TS)}
		if m.Key != nil {
			r.Key = []byte(*m.Key)
		}
		if m.Payload != nil {
			r.Value = []byte(*m.Payload)
		}
		if len(m.Headers)%2 != 0 {
			t.Fatalf("offset %d: odd header list %v", m.Offset, m.Headers)
		}
		for i := 0; i < len(m.Headers); i += 2 {
			r.Headers = append(r.Headers, header{*m.Headers[i], *m.Headers[i+1]})
		}
		got = append(got, r)
	}
	checkRecords(t, "kcat -J", got, want)

	// kcat as the producer: headers on every message, librdkafka's own timestamps, a 1 MiB line.
	before := time.Now().Add(-time.Second)
	in := "hk:with headers\nbig:" + string(bigValue()) + "\n"
	kcat(t, in, "-b", tb.Addr(), "-P", "-t", topic, "-K:", "-z", "zstd",
		"-H", "trace=abc", "-H", "empty=", "-X", "message.max.bytes=3000000")
	after := time.Now().Add(time.Second)
	recs := readAll(t, tb.Addr(), topic, len(want)+2)
	for i, r := range recs[len(want):] {
		if len(r.Headers) != 2 || r.Headers[0].Key != "trace" || string(r.Headers[0].Value) != "abc" ||
			r.Headers[1].Key != "empty" || len(r.Headers[1].Value) != 0 {
			t.Errorf("kcat record %d: headers %+v, want trace=abc empty=", i, r.Headers)
		}
		if r.Timestamp.Before(before) || r.Timestamp.After(after) {
			t.Errorf("kcat record %d: timestamp %v not within the produce call", i, r.Timestamp)
		}
	}
	if v := recs[len(want)].Value; string(v) != "with headers" {
		t.Errorf("kcat record: value %s", show(v))
	}
	if v := recs[len(want)+1].Value; !bytes.Equal(v, bigValue()) {
		t.Errorf("kcat 1 MiB record: value %s, want the 1 MiB pattern", show(v))
	}
}
