package compat_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bigValueSize is a value of 1 MiB. Topics that carry it are created with max.message.bytes raised
// to bigTopicMaxMessageBytes, since the broker default (message.max.bytes=1048588) leaves no room for
// the batch and record overhead around a full MiB.
const (
	bigValueSize            = 1 << 20
	bigTopicMaxMessageBytes = "2097152"
)

// codecs are the compression codecs every client that supports them must round-trip.
var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// requireTool returns the path of an external program, or skips the test when it is missing on a
// developer machine. In CI (CI set) a missing program fails the test: scripts/test-deps.sh must
// have installed it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, fmt.Sprintf("%s not on PATH", name))
	}
	return p
}

// missing skips (developer machine) or fails (CI) because a test dependency is not installed.
func missing(t *testing.T, what string) {
	t.Helper()
	msg := what + "; run scripts/test-deps.sh (or make test) to install the compat test dependencies"
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", msg)
	}
	t.Skip(msg)
}

// repoRoot is the module root, found from this file's location.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// adminClient returns a franz-go admin client for setting up topics independently of the client
// under test.
func adminClient(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates a topic with franz-go and fails the test on any error.
func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adminClient(t, addr).CreateTopic(ctx, partitions, -1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if tg := clusterOf(t); tg != nil {
		tg.waitTopicEverywhere(t, topic, int(partitions))
	}
}

// readAll reads want records from every partition of topic with franz-go (no consumer group),
// starting at the earliest offset, and returns them in order per partition. It fails the test if
// fewer arrive within the deadline.
func readAll(t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(8<<20),
		kgo.FetchMaxPartitionBytes(4<<20),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go read %s: got %d of %d records before the deadline", topic, len(recs), want)
		}
		fs.EachError(func(tp string, p int32, err error) {
			t.Fatalf("franz-go read %s[%d]: %v", tp, p, err)
		})
		recs = append(recs, fs.Records()...)
	}
	if len(recs) > want {
		t.Fatalf("franz-go read %s: got %d records, want %d", topic, len(recs), want)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}

// header is one record header, in the order written.
type header struct{ Key, Value string }

// record is the client-neutral view of a record that tests compare: a nil Key is a null key, a
// nil Value is a tombstone.
type record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []header
	Timestamp time.Time
}

// fromKgo converts a franz-go record.
func fromKgo(r *kgo.Record) record {
	out := record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, header{h.Key, string(h.Value)})
	}
	return out
}

// sampleRecords is the common round-trip set: keyed records with headers and explicit
// millisecond timestamps, a null key, a tombstone (nil value) and, when big is set, a 1 MiB value.
// All go to partition 0 so their order is known.
func sampleRecords(big bool) []record {
	base := time.UnixMilli(1_700_000_000_123)
	recs := []record{
		{Key: []byte("k1"), Value: []byte("v1"), Headers: []header{{"h1", "a"}, {"h2", "b"}}, Timestamp: base},
		{Key: []byte("k2"), Value: []byte("v2"), Timestamp: base.Add(time.Second)},
		{Key: nil, Value: []byte("null-key"), Headers: []header{{"only", "one"}}, Timestamp: base.Add(2 * time.Second)},
		{Key: []byte("k1"), Value: nil, Timestamp: base.Add(3 * time.Second)},                        // tombstone
		{Key: []byte("empty"), Value: []byte{}, Timestamp: base.Add(4 * time.Second)},                // empty, not null
		{Key: []byte("k3"), Value: []byte("héllo \x00 wörld"), Timestamp: base.Add(5 * time.Second)}, // bytes pass through
	}
	if big {
		recs = append(recs, record{Key: []byte("big"), Value: bigValue(), Timestamp: base.Add(6 * time.Second)})
	}
	return recs
}

// bigValue is a 1 MiB value with a pattern, so a truncated or shifted read is caught.
func bigValue() []byte {
	v := make([]byte, bigValueSize)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// checkRecords compares what was read with what was written: same count, and per record the
// partition, key (null vs empty), value (tombstone vs empty), headers and timestamp (to the ms).
// Offsets are checked to be consecutive from 0 per partition.
func checkRecords(t *testing.T, who string, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: read %d records, want %d", who, len(got), len(want))
	}
	next := map[int32]int64{}
	for i := range want {
		g, w := got[i], want[i]
		if g.Partition != w.Partition {
			t.Errorf("%s: record %d: partition %d, want %d", who, i, g.Partition, w.Partition)
		}
		if g.Offset != next[g.Partition] {
			t.Errorf("%s: record %d: offset %d, want %d", who, i, g.Offset, next[g.Partition])
		}
		next[g.Partition] = g.Offset + 1
		if (g.Key == nil) != (w.Key == nil) || !bytes.Equal(g.Key, w.Key) {
			t.Errorf("%s: record %d: key %s, want %s", who, i, show(g.Key), show(w.Key))
		}
		if (g.Value == nil) != (w.Value == nil) || !bytes.Equal(g.Value, w.Value) {
			t.Errorf("%s: record %d: value %s, want %s", who, i, show(g.Value), show(w.Value))
		}
		if fmt.Sprint(g.Headers) != fmt.Sprint(w.Headers) {
			t.Errorf("%s: record %d: headers %v, want %v", who, i, g.Headers, w.Headers)
		}
		if !w.Timestamp.IsZero() && g.Timestamp.UnixMilli() != w.Timestamp.UnixMilli() {
			t.Errorf("%s: record %d: timestamp %d, want %d", who, i, g.Timestamp.UnixMilli(), w.Timestamp.UnixMilli())
		}
	}
}

// show prints a key or value for a failure message: null, a short string, or a length.
func show(b []byte) string {
	switch {
	case b == nil:
		return "null"
	case len(b) > 64:
		return fmt.Sprintf("<%d bytes>", len(b))
	default:
		return fmt.Sprintf("%q", b)
	}
}

// checkOrdering checks that sequence numbers (values "seq-<n>") strictly increase within each
// partition, in offset order, and returns how many records each partition holds.
func checkOrdering(t *testing.T, who string, recs []record) map[int32]int {
	t.Helper()
	last := map[int32]int{}
	count := map[int32]int{}
	for _, r := range recs {
		var n int
		if _, err := fmt.Sscanf(string(r.Value), "seq-%d", &n); err != nil {
			t.Fatalf("%s: value %q is not a sequence number", who, r.Value)
		}
		if l, ok := last[r.Partition]; ok && n <= l {
			t.Errorf("%s: partition %d offset %d: seq %d after %d", who, r.Partition, r.Offset, n, l)
		}
		last[r.Partition] = n
		count[r.Partition]++
	}
	return count
}

// lines splits command output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
