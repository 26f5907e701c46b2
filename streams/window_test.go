package streams_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// at is a record of topic with key, value and timestamp (ms).
func at(topic, key, value string, ts int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: time.UnixMilli(ts)}
}

// readExactly waits until the App's group has processed (and committed) every input record
// produced so far, which means their outputs are acknowledged, then reads topic from its start
// to its end and fails unless it holds exactly n records. It returns them formatted by format,
// in offset order (the topic has one partition).
func readExactly(t *testing.T, app *streams.App, addr, group, topic string, n int, format func(*kgo.Record) string) []string {
	t.Helper()
	waitCaughtUp(t, app, addr, group)
	var got []string
	for _, r := range readToEnd(t, addr, topic) {
		got = append(got, format(r))
	}
	if len(got) != n {
		t.Fatalf("%s: got %d records, want exactly %d:\n%v", topic, len(got), n, got)
	}
	return got
}

// formatWindowed formats a record keyed by a windowed string key with an int64 value (or a
// tombstone) as key@start/end=value.
func formatWindowed(keys statestore.Serde[streams.Windowed[string]]) func(*kgo.Record) string {
	return func(r *kgo.Record) string {
		w, err := keys.Deserialize(r.Key)
		if err != nil {
			return fmt.Sprintf("bad key %x: %v", r.Key, err)
		}
		if r.Value == nil {
			return fmt.Sprintf("%s@%d/%d=<tombstone>", w.Key, w.Start, w.End)
		}
		v, err := statestore.Int64{}.Deserialize(r.Value)
		if err != nil {
			return fmt.Sprintf("%s@%d/%d=bad value %x", w.Key, w.Start, w.End, r.Value)
		}
		return fmt.Sprintf("%s@%d/%d=%d", w.Key, w.Start, w.End, v)
	}
}

// topicConfigs returns the configs of topic by name.
func topicConfigs(t *testing.T, addr, topic string) map[string]string {
	t.Helper()
	cfgs, err := kadm.NewClient(client(t, addr)).DescribeTopicConfigs(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out
}

func TestTumblingWindowCountDropsRecordsLaterThanGraceAndCountsThem(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "clicks", 1)
	createTopic(t, tb.Addr(), "clicks-per-window", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.TumblingWindows(10*time.Second).Grace(5*time.Second)).
		Count(streams.Materialized("clicks-windows")).
		ToStream().To("clicks-per-window", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	produce(t, tb.Addr(),
		at("clicks", "a", "x", 1_000),
		at("clicks", "a", "x", 2_000),
		at("clicks", "b", "x", 3_000),
		at("clicks", "a", "x", 12_000), // stream time 12000: window [0, 10000) closes at 15000
		at("clicks", "a", "x", 500),    // late, within grace: counted
		at("clicks", "a", "x", 16_000), // stream time 16000: window [0, 10000) is closed
		at("clicks", "a", "x", 5_000),  // beyond grace: dropped
		at("clicks", "b", "x", 4_000),  // beyond grace: dropped
	)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "tumbling", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
		CacheMaxBytes: -1, // every update is asserted: no record cache
	})
	keys := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 10 * time.Second}
	format := func(r *kgo.Record) string {
		return fmt.Sprintf("%s ts=%d", formatWindowed(keys)(r), r.Timestamp.UnixMilli())
	}
	got := readExactly(t, app, tb.Addr(), "tumbling", "clicks-per-window", 6, format)
	// Each update carries the largest timestamp of its window's records, as in Kafka 3.x.
	want := []string{
		"a@0/10000=1 ts=1000",
		"a@0/10000=2 ts=2000",
		"b@0/10000=1 ts=3000",
		"a@10000/20000=1 ts=12000",
		"a@0/10000=3 ts=2000",
		"a@10000/20000=2 ts=16000",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("windowed counts\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().DroppedRecords; n != 2 {
		t.Fatalf("Stats().DroppedRecords = %d, want 2", n)
	}
	// Kafka's rule for windowed changelogs: compact,delete, retention = size + grace + 1 day.
	cfg := topicConfigs(t, tb.Addr(), "tumbling-clicks-windows-changelog")
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != strconv.Itoa(15_000+86_400_000) {
		t.Fatalf("window store changelog: cleanup.policy=%q retention.ms=%q, want compact,delete and %d",
			cfg["cleanup.policy"], cfg["retention.ms"], 15_000+86_400_000)
	}
}

func atInt64(topic, key string, value, ts int64) *kgo.Record {
	v, _ := statestore.Int64{}.Serialize(value)
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: v, Timestamp: time.UnixMilli(ts)}
}

func TestSuppressedHoppingAggregateEmitsOneFinalResultPerWindowAcrossARestart(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "amounts", 1)
	createTopic(t, tb.Addr(), "final-sums", 1)
	topo := func() *streams.Topology {
		b := streams.NewBuilder()
		grouped := streams.Stream(b, "amounts", statestore.String{}, statestore.Int64{}).GroupByKey()
		windows := streams.TumblingWindows(10 * time.Second).AdvanceBy(5 * time.Second).Grace(2 * time.Second)
		streams.WindowedAggregate(streams.WindowedBy(grouped, windows),
			func() int64 { return 0 },
			func(_ string, amount, sum int64) int64 { return sum + amount },
			statestore.Int64{}, streams.Materialized("sums")).
			Suppress(streams.UntilWindowCloses(streams.Unbounded()), streams.Materialized("sums-final")).
			ToStream().To("final-sums", nil, nil)
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	cfg := streams.Config{ApplicationID: "hopping", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()}
	keys := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 10 * time.Second}

	// Windows of 10s every 5s: 1000 is in [0,10000); 6000 in [0,10000) and [5000,15000); 11000
	// in [5000,15000) and [10000,20000); 12500 in [5000,15000) and [10000,20000).
	produce(t, tb.Addr(),
		atInt64("amounts", "k", 1, 1_000),
		atInt64("amounts", "k", 2, 6_000),
		atInt64("amounts", "k", 4, 11_000),
		atInt64("amounts", "j", 100, 12_500), // stream time 12500 passes 10000 + grace 2000
	)
	app := startApp(t, topo(), cfg)
	got := readExactly(t, app, tb.Addr(), "hopping", "final-sums", 1, formatWindowed(keys))
	if want := []string{"k@0/10000=3"}; !slices.Equal(got, want) {
		t.Fatalf("before restart\n got %v\nwant %v", got, want)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	// A new instance with empty local state restores the pending windows from the changelogs,
	// and the stream time (12500) from the buffer's position marker: a late record for the
	// closed window [0,10000) is dropped, not added to a window whose result is out.
	cfg.StateDir = t.TempDir()
	app = startApp(t, topo(), cfg)
	produce(t, tb.Addr(), atInt64("amounts", "k", 50, 2_000))
	produce(t, tb.Addr(), atInt64("amounts", "j", 1000, 30_000)) // closes every window ending by 28000
	got = readExactly(t, app, tb.Addr(), "hopping", "final-sums", 5, formatWindowed(keys))
	want := []string{
		"k@0/10000=3",
		"j@5000/15000=100",
		"k@5000/15000=6",
		"j@10000/20000=100",
		"k@10000/20000=4",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("final results\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().RecordsRestored; n == 0 {
		t.Fatal("second instance restored nothing: the buffer did not come from the changelog")
	}
	if n := app.Stats().DroppedRecords; n != 1 {
		t.Fatalf("DroppedRecords = %d after the restart, want 1 (the late record at 2000)", n)
	}
}

func TestSessionWindowsMergeWhenARecordBridgesThemAndTombstoneTheOldSessions(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "visits", 1)
	createTopic(t, tb.Addr(), "sessions", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "visits", statestore.String{}, statestore.String{}).GroupByKey()
	// A session closes when stream time passes its end + gap + grace: end + 15s here.
	streams.WindowedBy(grouped, streams.SessionWindows(5*time.Second).Grace(10*time.Second)).
		Count(streams.Materialized("visit-sessions")).
		ToStream().To("sessions", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	produce(t, tb.Addr(),
		at("visits", "u", "x", 1_000),  // session [1000,1000]
		at("visits", "u", "x", 9_000),  // 8s later, beyond the gap: session [9000,9000]
		at("visits", "u", "x", 5_000),  // within the gap of both: they merge into [1000,9000]
		at("visits", "u", "x", 30_000), // session [30000,30000]; stream time 30000 closes [1000,9000]
		at("visits", "u", "x", 2_000),  // would extend [1000,9000], which is closed: dropped
	)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "sessions", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
		CacheMaxBytes: -1, // every update is asserted: no record cache
	})
	keys := streams.SessionWindowedSerde[string]{Key: statestore.String{}}
	got := readExactly(t, app, tb.Addr(), "sessions", "sessions", 6, formatWindowed(keys))
	want := []string{
		"u@1000/1000=1",
		"u@9000/9000=1",
		"u@1000/1000=<tombstone>",
		"u@9000/9000=<tombstone>",
		"u@1000/9000=3",
		"u@30000/30000=1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("session counts\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().DroppedRecords; n != 1 {
		t.Fatalf("Stats().DroppedRecords = %d, want 1", n)
	}
	// Kafka's SessionWindowedSerializer layout: key bytes, 8-byte end, 8-byte start.
	k, err := keys.Serialize(streams.Windowed[string]{Key: "u", Start: 1000, End: 9000})
	if err != nil {
		t.Fatal(err)
	}
	if want := "u" + "\x00\x00\x00\x00\x00\x00\x23\x28" + "\x00\x00\x00\x00\x00\x00\x03\xe8"; string(k) != want {
		t.Fatalf("session key bytes = %x, want %x", k, want)
	}
}

func TestWindowedKeySerdesFollowKafkaByteLayout(t *testing.T) {
	tw := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: time.Minute}
	b, err := tw.Serialize(streams.Windowed[string]{Key: "key", Start: 60_000, End: 120_000})
	if err != nil {
		t.Fatal(err)
	}
	if want := "key\x00\x00\x00\x00\x00\x00\xea\x60"; string(b) != want {
		t.Fatalf("time-windowed key = %x, want %x", b, want)
	}
	w, err := tw.Deserialize(b)
	if err != nil || w != (streams.Windowed[string]{Key: "key", Start: 60_000, End: 120_000}) {
		t.Fatalf("Deserialize = %+v, %v", w, err)
	}
	for _, bad := range [][]byte{nil, []byte("short")} {
		if _, err := tw.Deserialize(bad); err == nil {
			t.Errorf("time-windowed Deserialize(%q): want error", bad)
		}
		if _, err := (streams.SessionWindowedSerde[string]{Key: statestore.String{}}).Deserialize(bad); err == nil {
			t.Errorf("session-windowed Deserialize(%q): want error", bad)
		}
	}
}

func TestInvalidWindowsAndSuppressionFailTheBuild(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *streams.Builder, g *streams.KGroupedStream[string, string])
		want  string
	}{
		{"zero size", func(_ *streams.Builder, g *streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.TumblingWindows(0)).Count()
		}, "window size"},
		{"advance above size", func(_ *streams.Builder, g *streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.TumblingWindows(time.Second).AdvanceBy(2*time.Second)).Count()
		}, "advance"},
		{"negative grace", func(_ *streams.Builder, g *streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.SessionWindows(time.Second).Grace(-time.Second)).Count()
		}, "grace"},
		{"session aggregate without merger", func(_ *streams.Builder, g *streams.KGroupedStream[string, string]) {
			streams.WindowedAggregate(streams.WindowedBy(g, streams.SessionWindows(time.Second)),
				func() int64 { return 0 }, func(string, string, int64) int64 { return 0 }, statestore.Int64{})
		}, "SessionAggregate"},
		{"suppress on a plain table", func(_ *streams.Builder, g *streams.KGroupedStream[string, string]) {
			g.Count().Suppress(streams.UntilWindowCloses(streams.Unbounded()))
		}, "windowed table"},
	}
	for _, tt := range tests {
		b := streams.NewBuilder()
		tt.build(b, streams.Stream(b, "in", statestore.String{}, statestore.String{}).GroupByKey())
		_, err := b.Build()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build error = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestSlidingWindowCountFollowsKafkaWindowsPerRecord(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 1)
	createTopic(t, tb.Addr(), "sliding-counts", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "events", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.SlidingWindows(10*time.Second).Grace(5*time.Second)).
		Count(streams.Materialized("sliding")).
		ToStream().To("sliding-counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	produce(t, tb.Addr(),
		at("events", "e", "x", 3_000),  // early (before the time difference): window [0,10000]
		at("events", "k", "x", 20_000), // left window [10000,20000]
		at("events", "k", "x", 25_000), // right window of 20000, left window [15000,25000]
		at("events", "k", "x", 22_000), // out of order: updates two windows, creates its left and right ones
		at("events", "k", "x", 1_000),  // 1000 + 1 + 10000 <= stream time 25000 - grace: dropped
	)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "sliding", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
		CacheMaxBytes: -1, // every update is asserted: no record cache
	})
	keys := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 10 * time.Second}
	got := readExactly(t, app, tb.Addr(), "sliding", "sliding-counts", 8, formatWindowed(keys))
	want := []string{
		"e@0/10000=1",
		"k@10000/20000=1",
		"k@20001/30001=1",
		"k@15000/25000=2",
		"k@15000/25000=3",
		"k@20001/30001=2",
		"k@12000/22000=2",
		"k@22001/32001=1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sliding counts\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().DroppedRecords; n != 1 {
		t.Fatalf("Stats().DroppedRecords = %d, want 1", n)
	}
}
