package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func strp(s string) *string { return &s }

func TestParseConfigs(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    map[string]*string
		wantErr bool
	}{
		{in: nil, want: map[string]*string{}},
		{in: []string{"retention.ms=1000"}, want: map[string]*string{"retention.ms": strp("1000")}},
		{in: []string{"a=b=c", "empty="}, want: map[string]*string{"a": strp("b=c"), "empty": strp("")}},
		{in: []string{"novalue"}, wantErr: true},
		{in: []string{"=v"}, wantErr: true},
		{in: []string{"a=1", "a=2"}, wantErr: true},
	} {
		got, err := parseConfigs(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseConfigs(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseConfigs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []kgo.RecordHeader
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "NO_HEADERS", want: nil},
		{in: "k:v", want: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}},
		{in: "k1:v1,k2:a:b", want: []kgo.RecordHeader{{Key: "k1", Value: []byte("v1")}, {Key: "k2", Value: []byte("a:b")}}},
		{in: "flag", want: []kgo.RecordHeader{{Key: "flag"}}},
		{in: "k:", want: []kgo.RecordHeader{{Key: "k", Value: []byte{}}}},
		{in: "k:1,k:2", want: []kgo.RecordHeader{{Key: "k", Value: []byte("1")}, {Key: "k", Value: []byte("2")}}},
		{in: ":v", wantErr: true},
		{in: "a:1,", wantErr: true},
	} {
		got, err := parseHeaders(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseHeaders(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseHeaders(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	static := []kgo.RecordHeader{{Key: "s", Value: []byte("1")}}
	for _, tc := range []struct {
		name    string
		line    string
		format  lineFormat
		want    kgo.Record
		wantErr bool
	}{
		{name: "value only", line: "a\tb", want: kgo.Record{Value: []byte("a\tb")}},
		{name: "empty line is an empty value", line: "", want: kgo.Record{Value: []byte{}}},
		{name: "key split at first separator", line: "k::v::w", format: lineFormat{parseKey: true, keySeparator: "::"},
			want: kgo.Record{Key: []byte("k"), Value: []byte("v::w")}},
		{name: "empty key", line: ":v", format: lineFormat{parseKey: true, keySeparator: ":"},
			want: kgo.Record{Key: []byte{}, Value: []byte("v")}},
		{name: "missing key separator", line: "v", format: lineFormat{parseKey: true, keySeparator: ":"}, wantErr: true},
		{name: "static headers", line: "v", format: lineFormat{staticHeaders: static},
			want: kgo.Record{Value: []byte("v"), Headers: static}},
		{name: "line headers then static", line: "h:x\tk\tv", format: lineFormat{parseHeaders: true, parseKey: true, keySeparator: "\t", staticHeaders: static},
			want: kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, static[0]}}},
		{name: "missing headers delimiter", line: "h:x", format: lineFormat{parseHeaders: true}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLine([]byte(tc.line), tc.format)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if string(got.Key) != string(tc.want.Key) || (got.Key == nil) != (tc.want.Key == nil) ||
				string(got.Value) != string(tc.want.Value) || !reflect.DeepEqual(got.Headers, tc.want.Headers) {
				t.Errorf("got key %q value %q headers %v, want key %q value %q headers %v",
					got.Key, got.Value, got.Headers, tc.want.Key, tc.want.Value, tc.want.Headers)
			}
		})
	}
}

func TestTrimLineEndingAndUnescapeSeparator(t *testing.T) {
	for in, want := range map[string]string{"a\n": "a", "a\r\n": "a", "a": "a", "a\r": "a", "\n": "", "a\n\n": "a\n"} {
		if got := string(trimLineEnding([]byte(in))); got != want {
			t.Errorf("trimLineEnding(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{`\t`: "\t", "\t": "\t", `a\nb`: "a\nb", `\\t`: `\t`, ":": ":"} {
		if got := unescapeSeparator(in); got != want {
			t.Errorf("unescapeSeparator(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendRecordMatchesConsoleConsumer(t *testing.T) {
	ts := time.UnixMilli(1700000000123)
	rec := func(key, value []byte, headers ...kgo.RecordHeader) *kgo.Record {
		return &kgo.Record{Key: key, Value: value, Headers: headers, Timestamp: ts, Partition: 2, Offset: 7}
	}
	all := recordFormat{printTimestamp: true, printPartition: true, printOffset: true, printHeaders: true, printKey: true, separator: "\t"}
	for _, tc := range []struct {
		name   string
		r      *kgo.Record
		format recordFormat
		want   string
	}{
		{"value only", rec([]byte("k"), []byte("v")), recordFormat{separator: "\t"}, "v\n"},
		{"key and value", rec([]byte("k"), []byte("v")), recordFormat{printKey: true, separator: "\t"}, "k\tv\n"},
		{"null key and value", rec(nil, nil), recordFormat{printKey: true, separator: "\t"}, "null\tnull\n"},
		{"empty key is not null", rec([]byte{}, []byte("v")), recordFormat{printKey: true, separator: "\t"}, "\tv\n"},
		{"no headers", rec(nil, []byte("v")), recordFormat{printHeaders: true, separator: "\t"}, "NO_HEADERS\tv\n"},
		{"headers", rec(nil, []byte("v"), kgo.RecordHeader{Key: "a", Value: []byte("1")}, kgo.RecordHeader{Key: "b"}),
			recordFormat{printHeaders: true, separator: "\t"}, "a:1,b:null\tv\n"},
		{"everything in kafka's order", rec([]byte("k"), []byte("v"), kgo.RecordHeader{Key: "h", Value: []byte("x")}), all,
			"CreateTime:1700000000123\tPartition:2\tOffset:7\th:x\tk\tv\n"},
		{"custom separator", rec([]byte("k"), []byte("v")), recordFormat{printKey: true, printTimestamp: true, separator: " | "},
			"CreateTime:1700000000123 | k | v\n"},
	} {
		if got := string(appendRecord(nil, tc.r, tc.format)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseConsumeStart(t *testing.T) {
	for _, tc := range []struct {
		fromBeginning bool
		offset        string
		partition     int
		group         string
		want          string // kgo.Offset's String, or "error"
		partitions    bool
	}{
		{partition: -1, want: kgo.NewOffset().AtEnd().String()},
		{partition: -1, fromBeginning: true, want: kgo.NewOffset().AtStart().String()},
		{partition: 1, offset: "earliest", want: kgo.NewOffset().AtStart().String(), partitions: true},
		{partition: 1, offset: "latest", want: kgo.NewOffset().AtEnd().String(), partitions: true},
		{partition: 0, offset: "42", want: kgo.NewOffset().At(42).String(), partitions: true},
		{partition: 0, fromBeginning: true, want: kgo.NewOffset().AtStart().String(), partitions: true},
		{partition: -1, offset: "42", want: "error"},
		{partition: 0, offset: "-3", want: "error"},
		{partition: 0, offset: "soon", want: "error"},
		{partition: 0, offset: "1", fromBeginning: true, want: "error"},
		{partition: 0, group: "g", want: "error"},
	} {
		got, err := parseConsumeStart(tc.fromBeginning, tc.offset, tc.partition, tc.group)
		if tc.want == "error" {
			if err == nil {
				t.Errorf("%+v: want a usage error", tc)
			}
			continue
		}
		if err != nil || got.offset.String() != tc.want || got.partitions != tc.partitions {
			t.Errorf("%+v: got %v partitions=%v err=%v", tc, got.offset, got.partitions, err)
		}
	}
}

func TestExplainTopicError(t *testing.T) {
	for _, tc := range []struct {
		err        error
		brokerMsg  string
		want       string
		wantIsCode *kerr.Error
	}{
		{kerr.TopicAlreadyExists, "", `TOPIC_ALREADY_EXISTS: topic "orders" already exists`, kerr.TopicAlreadyExists},
		{kerr.UnknownTopicOrPartition, "", `UNKNOWN_TOPIC_OR_PARTITION: topic "orders" does not exist`, kerr.UnknownTopicOrPartition},
		{kerr.InvalidConfig, "retention.ms must be a number", `INVALID_CONFIG: topic "orders": retention.ms must be a number`, kerr.InvalidConfig},
		{kerr.PolicyViolation, "", `POLICY_VIOLATION: topic "orders": request parameters do not satisfy the configured policy`, kerr.PolicyViolation},
		{fmt.Errorf("wrapped: %w", kerr.MessageTooLarge), "", `MESSAGE_TOO_LARGE: topic "orders": the request included a message larger than the max message size the server will accept`, kerr.MessageTooLarge},
		{errors.New("dial tcp: refused"), "", `topic "orders": dial tcp: refused`, nil},
	} {
		got := explainTopicError("orders", tc.err, tc.brokerMsg)
		if got.Error() != tc.want {
			t.Errorf("explainTopicError(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if tc.wantIsCode != nil && !errors.Is(got, tc.wantIsCode) {
			t.Errorf("explainTopicError(%v) does not unwrap to %v", tc.err, tc.wantIsCode)
		}
	}
	if explainTopicError("t", nil, "") != nil {
		t.Error("nil error should stay nil")
	}
}

func TestBuildAlterConfigs(t *testing.T) {
	got, err := buildAlterConfigs([]string{"z=1", "a=2"}, []string{"m"})
	if err != nil {
		t.Fatal(err)
	}
	want := []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "a", Value: strp("2")},
		{Op: kadm.SetConfig, Name: "z", Value: strp("1")},
		{Op: kadm.DeleteConfig, Name: "m"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range [][2][]string{{nil, nil}, {{"a=1"}, {"a"}}, {nil, {" "}}, {{"bad"}, nil}} {
		if _, err := buildAlterConfigs(bad[0], bad[1]); err == nil {
			t.Errorf("buildAlterConfigs(%q, %q) should fail", bad[0], bad[1])
		}
	}
}

func TestFormatTopicDescription(t *testing.T) {
	d := kadm.TopicDetail{
		Topic: "orders",
		ID:    kadm.TopicID{0xfb, 0xff},
		Partitions: kadm.PartitionDetails{
			1: {Partition: 1, Leader: -1, Replicas: []int32{2, 3}, ISR: nil, OfflineReplicas: []int32{2, 3}},
			0: {Partition: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
		},
	}
	want := "Topic: orders\tTopicId: -_8AAAAAAAAAAAAAAAAAAA\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: a=1,b=x\n" +
		"\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n" +
		"\tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 2,3\tIsr: \tOffline: 2,3\n"
	if got := formatTopicDescription(d, map[string]string{"b": "x", "a": "1"}); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestParseFlagsAllowsInterleavedPositionals(t *testing.T) {
	fs := newFlagSet("x", "x")
	topic := fs.String("topic", "", "")
	bootstrap := addBootstrapFlag(fs)
	var configs stringList
	fs.Var(&configs, "config", "")
	pos, err := parseFlags(fs, []string{"--topic", "t", "create", "-b", "h:1", "--config", "a=1", "more", "--config", "b=2", "--", "-x"}, nil, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if *topic != "t" || bootstrap.bootstrap != "h:1" || !reflect.DeepEqual([]string(configs), []string{"a=1", "b=2"}) ||
		!reflect.DeepEqual(pos, []string{"create", "more", "-x"}) {
		t.Errorf("topic %q bootstrap %q configs %q positional %q", *topic, bootstrap.bootstrap, configs, pos)
	}

	_, err = parseFlags(newFlagSet("x", "x"), []string{"--nope"}, nil, new(strings.Builder))
	if !errors.As(err, new(*usageError)) {
		t.Errorf("unknown flag: got %v, want a usageError", err)
	}
	var out strings.Builder
	if _, err := parseFlags(newFlagSet("x", "gregor x"), []string{"-h"}, &out, nil); !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(out.String(), "Usage: gregor x") {
		t.Errorf("-h: err %v, stdout %q", err, out.String())
	}
}

func TestLatencyHistogramPercentiles(t *testing.T) {
	var h latencyHistogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want float64 // ms
	}{{0.5, 500}, {0.95, 950}, {0.99, 990}, {0.999, 999}, {1, 1000}} {
		got := h.percentileMs(tc.q)
		if got < tc.want || got > tc.want*(1+1.0/64) {
			t.Errorf("p%v = %v ms, want within 1/64 above %v", tc.q*100, got, tc.want)
		}
	}
	if h.avgMs() != 500.5 || h.maxMs() != 1000 {
		t.Errorf("avg %v max %v, want 500.5 and 1000", h.avgMs(), h.maxMs())
	}

	var empty latencyHistogram
	if s := empty.summary(); s != (latencySummary{}) {
		t.Errorf("empty histogram summary = %+v, want zeros", s)
	}

	var small latencyHistogram
	for _, us := range []int{5, 5, 5, 100} {
		small.record(time.Duration(us) * time.Microsecond)
	}
	small.record(-time.Second)
	if got := small.percentileMs(0.5); got != 0.005 {
		t.Errorf("exact small values: p50 = %v ms, want 0.005", got)
	}
	if got := small.percentileMs(0.2); got != 0 {
		t.Errorf("negative latency counts as 0: p20 = %v", got)
	}

	var merged latencyHistogram
	merged.merge(&h)
	merged.merge(&small)
	if merged.count != h.count+small.count || merged.maxMs() != 1000 {
		t.Errorf("merge: count %d max %v", merged.count, merged.maxMs())
	}
}

func TestHistBucketBoundsAreConsistent(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456, 1 << 40, math.MaxUint64} {
		i := histBucket(v)
		if i >= histMaxBuckets {
			t.Fatalf("histBucket(%d) = %d beyond %d buckets", v, i, histMaxBuckets)
		}
		if high := histBucketHigh(i); high < v || (i > 0 && histBucketHigh(i-1) >= v) {
			t.Errorf("value %d in bucket %d with bounds (%d, %d]", v, i, histBucketHigh(max(i-1, 0)), high)
		}
	}
}

func TestThrottleDelay(t *testing.T) {
	for _, tc := range []struct {
		sent    int64
		rate    float64
		elapsed time.Duration
		want    time.Duration
	}{
		{100, -1, 0, 0},
		{100, 0, 0, 0},
		{100, 1000, 0, 100 * time.Millisecond},
		{100, 1000, 40 * time.Millisecond, 60 * time.Millisecond},
		{100, 1000, time.Second, 0},
		{0, 1000, 0, 0},
	} {
		if got := throttleDelay(tc.sent, tc.rate, tc.elapsed); got != tc.want {
			t.Errorf("throttleDelay(%d, %v, %v) = %v, want %v", tc.sent, tc.rate, tc.elapsed, got, tc.want)
		}
	}
}

func TestPerfLineFormats(t *testing.T) {
	start := time.Date(2024, 5, 6, 7, 8, 9, 10e6, time.UTC)
	w := produceWindow{start: start, records: 500, bytes: 500 * 1024, latency: 500 * 2 * time.Millisecond, maxLat: 9 * time.Millisecond}
	if got, want := formatProduceProgress(w, start.Add(5*time.Second)), "500 records sent, 100.0 records/sec (0.10 MB/sec), 2.0 ms avg latency, 9.0 ms max latency.\n"; got != want {
		t.Errorf("progress = %q, want %q", got, want)
	}
	r := produceResult{Records: 10, RecordsPerSec: 2.5, MBPerSec: 0.001, latencySummary: latencySummary{AvgMs: 1, MaxMs: 4, P50Ms: 1, P95Ms: 2, P99Ms: 3, P999Ms: 4}}
	if got, want := formatProduceResult(r), "10 records sent, 2.5 records/sec (0.00 MB/sec), 1.00 ms avg latency, 4.00 ms max latency, 1.00 ms 50th, 2.00 ms 95th, 3.00 ms 99th, 4.00 ms 99.9th.\n"; got != want {
		t.Errorf("final = %q, want %q", got, want)
	}
	c := newConsumeResult(start, start.Add(2*time.Second), 4*bytesPerMB, 1000, 500*time.Millisecond)
	if got, want := formatConsumeResult(c), "2024-05-06 07:08:09:010, 2024-05-06 07:08:11:010, 4.0000, 2.0000, 1000, 500.0000, 500, 1500, 2.6667, 666.6667\n"; got != want {
		t.Errorf("consume = %q, want %q", got, want)
	}
}

func TestE2EValueRoundTrip(t *testing.T) {
	payload := randomPayload(32)
	v := encodeE2EValue(payload, 0xdeadbeef, 12345)
	id, seq, ok := decodeE2EValue(v)
	if !ok || id != 0xdeadbeef || seq != 12345 || len(v) != 32 || string(v[16:]) != string(payload[16:]) {
		t.Errorf("decode = %x %d %v", id, seq, ok)
	}
	if _, _, ok := decodeE2EValue([]byte("short")); ok {
		t.Error("a value shorter than the header must not decode")
	}
}

// Passwords and secrets are printed as Kafka's [hidden], URLs with their password masked.
func TestMaskSecretHidesPasswordsAndSecrets(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"database.password", "s3cret", "[hidden]"},
		{"connection.password", "x", "[hidden]"},
		{"ssl.key.password", "x", "[hidden]"},
		{"aws.secret", "x", "[hidden]"},
		{"client.secret.value", "x", "[hidden]"},
		{"connection.url", "postgres://app:pw@db:5432/shop", "postgres://app:[hidden]@db:5432/shop"},
		{"connection.url", "postgres://app@db:5432/shop", "postgres://app@db:5432/shop"},
		{"database.user", "postgres", "postgres"},
		{"file", "in.txt", "in.txt"},
	} {
		if got := maskSecret(tc.key, tc.value); got != tc.want {
			t.Errorf("maskSecret(%q, %q) = %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
}
