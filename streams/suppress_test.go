package streams_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// suppressedCounts is a count per key in tumbling windows of 10ms with a grace of 20ms (a
// window [s, s+10) closes when stream time reaches s+30), suppressed until each window closes,
// from topic "events" to topic "finals".
func suppressedCounts(t *testing.T) *streams.Topology {
	t.Helper()
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "events", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.TumblingWindows(10*time.Millisecond).Grace(20*time.Millisecond)).
		Count(streams.Materialized("counts")).
		Suppress(streams.UntilWindowCloses(streams.Unbounded()), streams.Materialized("counts-final")).
		ToStream().To("finals", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

var suppressedCountKeys = streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 10 * time.Millisecond}

// produceTo writes records to the partitions they name.
func produceTo(t *testing.T, addr string, records ...*kgo.Record) {
	t.Helper()
	cl := client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// onPartition is at() on an explicit partition.
func onPartition(p int32, topic, key string, ts int64) *kgo.Record {
	r := at(topic, key, "x", ts)
	r.Partition = p
	return r
}

// byPrefix keeps the formatted records whose key starts with prefix, in order.
func byPrefix(got []string, prefix string) []string {
	var out []string
	for _, g := range got {
		if strings.HasPrefix(g, prefix) {
			out = append(out, g)
		}
	}
	return out
}

func TestSuppressEmitsAWindowOpenedOutOfOrderAfterLaterWindowsWereBuffered(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 1)
	createTopic(t, tb.Addr(), "finals", 1)
	cfg := streams.Config{ApplicationID: "suppress-ooo", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()}
	app := startApp(t, suppressedCounts(t), cfg)
	produce(t, tb.Addr(),
		at("events", "a", "x", 25), // [20,30) buffered: the buffer's first open window ends at 30
		at("events", "b", "x", 5),  // in grace: opens [0,10), which ends before the buffered [20,30)
		at("events", "c", "x", 31), // stream time 31 closes [0,10) (closes at 30), not [20,30)
		at("events", "d", "x", 100),
	)
	got := readExactly(t, app, tb.Addr(), cfg.ApplicationID, "finals", 3, formatWindowed(suppressedCountKeys))
	if want := []string{"b@0/10=1", "a@20/30=1", "c@30/40=1"}; !slices.Equal(got, want) {
		t.Fatalf("final results before the restart\n got %v\nwant %v", got, want)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	// A new instance with empty local state restores the buffer from its changelog: nothing
	// is emitted again, and what was pending comes in window-end order.
	cfg.StateDir = t.TempDir()
	app = startApp(t, suppressedCounts(t), cfg)
	produce(t, tb.Addr(),
		at("events", "b", "x", 8), // [0,10) is closed and out: dropped
		at("events", "e", "x", 200),
	)
	got = readExactly(t, app, tb.Addr(), cfg.ApplicationID, "finals", 4, formatWindowed(suppressedCountKeys))
	if want := []string{"b@0/10=1", "a@20/30=1", "c@30/40=1", "d@100/110=1"}; !slices.Equal(got, want) {
		t.Fatalf("final results after the restart\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().DroppedRecords; n != 1 {
		t.Fatalf("DroppedRecords = %d after the restart, want 1 (the late record at 8)", n)
	}
}

// TestSuppressOnSparsePartitionsEmitsEveryClosedWindowOnceInEndOrderAcrossARestart runs three
// partitions with little data each, windows opened by out-of-order records, and a restart
// without record caches, where stream time is not restored with the stores: the buffer's own
// emission time keeps a late record from emitting a window a second time.
func TestSuppressOnSparsePartitionsEmitsEveryClosedWindowOnceInEndOrderAcrossARestart(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 3)
	createTopic(t, tb.Addr(), "finals", 1)
	cfg := streams.Config{ApplicationID: "suppress-sparse", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CacheMaxEntries: -1}
	app := startApp(t, suppressedCounts(t), cfg)
	produceTo(t, tb.Addr(),
		onPartition(0, "events", "p0-a", 25),
		onPartition(0, "events", "p0-b", 5), // out of order, first record of [0,10)
		onPartition(0, "events", "p0-c", 31),
		onPartition(0, "events", "p0-d", 100),
		onPartition(1, "events", "p1-e", 7), // the partition's only record: nothing closes
		onPartition(2, "events", "p2-f", 50),
		onPartition(2, "events", "p2-g", 35), // out of order, first record of [30,40)
		onPartition(2, "events", "p2-h", 61),
	)
	want := map[string][]string{
		"p0": {"p0-b@0/10=1", "p0-a@20/30=1", "p0-c@30/40=1"},
		"p2": {"p2-g@30/40=1"},
	}
	got := readExactly(t, app, tb.Addr(), cfg.ApplicationID, "finals", 4, formatWindowed(suppressedCountKeys))
	for _, p := range []string{"p0", "p1", "p2"} {
		if g := byPrefix(got, p); !slices.Equal(g, want[p]) {
			t.Fatalf("partition %s before the restart: got %v, want %v (all: %v)", p, g, want[p], got)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	app = startApp(t, suppressedCounts(t), cfg)
	produceTo(t, tb.Addr(),
		onPartition(0, "events", "p0-b", 8), // [0,10) is out: dropped, not emitted again
		onPartition(0, "events", "p0-z", 300),
		onPartition(2, "events", "p2-i", 200),
	)
	want = map[string][]string{
		"p0": {"p0-b@0/10=1", "p0-a@20/30=1", "p0-c@30/40=1", "p0-d@100/110=1"},
		"p2": {"p2-g@30/40=1", "p2-f@50/60=1", "p2-h@60/70=1"},
	}
	got = readExactly(t, app, tb.Addr(), cfg.ApplicationID, "finals", 7, formatWindowed(suppressedCountKeys))
	for _, p := range []string{"p0", "p1", "p2"} {
		if g := byPrefix(got, p); !slices.Equal(g, want[p]) {
			t.Fatalf("partition %s after the restart: got %v, want %v (all: %v)", p, g, want[p], got)
		}
	}
}

func TestABoundedSuppressBufferEmitsWhatClosesAndStopsTheAppWhenStillFull(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 1)
	createTopic(t, tb.Addr(), "finals", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "events", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.TumblingWindows(10*time.Millisecond).Grace(20*time.Millisecond)).
		Count(streams.Materialized("counts")).
		Suppress(streams.UntilWindowCloses(streams.MaxRecords(2).ShutDownWhenFull()), streams.Materialized("counts-final")).
		ToStream().To("finals", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	cfg := streams.Config{ApplicationID: "suppress-bounded", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()}
	app := startApp(t, topo, cfg)
	produce(t, tb.Addr(),
		at("events", "a", "x", 1),
		at("events", "b", "x", 2),  // two windows buffered: at the bound
		at("events", "c", "x", 35), // [0,10) closes at 30: a and b go out, c stays
	)
	got := readExactly(t, app, tb.Addr(), cfg.ApplicationID, "finals", 2, formatWindowed(suppressedCountKeys))
	if want := []string{"a@0/10=1", "b@0/10=1"}; !slices.Equal(got, want) {
		t.Fatalf("final results within the bound: got %v, want %v", got, want)
	}
	produce(t, tb.Addr(), at("events", "d", "x", 36), at("events", "e", "x", 37)) // c, d, e: over the bound
	select {
	case <-app.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the App still runs with a full ShutDownWhenFull buffer")
	}
	if err := app.Err(); !errors.Is(err, streams.ErrSuppressBufferFull) || !strings.Contains(err.Error(), "holds 3 windows") {
		t.Fatalf("Err() = %v, want ErrSuppressBufferFull naming 3 windows", err)
	}
}

func TestASuppressThatCouldEmitEarlyFailsTheBuild(t *testing.T) {
	for _, buf := range []streams.BufferConfig{streams.MaxRecords(10), streams.MaxBytes(0).ShutDownWhenFull()} {
		b := streams.NewBuilder()
		grouped := streams.Stream(b, "events", statestore.String{}, statestore.String{}).GroupByKey()
		streams.WindowedBy(grouped, streams.TumblingWindows(time.Second)).Count().Suppress(streams.UntilWindowCloses(buf))
		if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "Suppress") {
			t.Errorf("Build with buffer %+v: %v, want an error naming the Suppress", buf, err)
		}
	}
}
