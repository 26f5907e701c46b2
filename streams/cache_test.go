package streams_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cachedCounts counts "clicks" per key twice: into "counts" (cached unless the App turns
// caching off) and into "counts-uncached" (WithCachingDisabled); and sums the cached counts per
// parity of the key's last letter through a table re-aggregation, which subtracts each count's
// old value: "parity-sums" stays right only if the cache forwards the right old values.
func cachedCounts(t *testing.T) *streams.Topology {
	t.Helper()
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
	counts := grouped.Count(streams.Materialized("counts"))
	counts.ToStream().To("counts", nil, nil)
	grouped.Count(streams.Materialized("counts-uncached"), streams.WithCachingDisabled()).ToStream().To("counts-uncached", nil, nil)
	streams.GroupTableBy(counts, func(k string, n int64) (string, int64) { return fmt.Sprint(k[len(k)-1] % 2), n },
		statestore.String{}, statestore.Int64{}).
		Reduce(func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v }, streams.Materialized("parity-sums")).
		ToStream().To("parity-sums", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// clicks writes n records, round robin over keys, to the one partition of "clicks".
func clicks(t *testing.T, addr string, n int, keys ...string) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = at("clicks", keys[i%len(keys)], "x", int64(i))
	}
	produce(t, addr, recs...)
}

func readCounts(t *testing.T, addr, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range readToEnd(t, addr, topic) {
		n, err := statestore.Int64{}.Deserialize(r.Value)
		if err != nil {
			t.Fatalf("%s: bad value at %d: %v", topic, r.Offset, err)
		}
		out = append(out, fmt.Sprintf("%s=%d", r.Key, n))
	}
	return out
}

func TestRecordCacheForwardsTheLatestCountPerKeyWhenTheTaskCommits(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"clicks", "counts", "counts-uncached", "parity-sums"} {
		createTopic(t, tb.Addr(), topic, 1)
	}
	clicks(t, tb.Addr(), 300, "k1", "k2", "k3")
	// NB: an hour between commits: only Close commits, so the caches flush once.
	app := startApp(t, cachedCounts(t), streams.Config{ApplicationID: "cached", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: time.Hour})
	waitProcessed(t, app, 300)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readCounts(t, tb.Addr(), "counts"), []string{"k1=100", "k2=100", "k3=100"}; !slices.Equal(got, want) {
		t.Fatalf("cached counts: got %v, want the latest count of each key once: %v", got, want)
	}
	if got := readCounts(t, tb.Addr(), "counts-uncached"); len(got) != 300 || got[299] != "k3=100" {
		t.Fatalf("counts WithCachingDisabled: %d records ending %v, want every one of the 300 updates", len(got), got[len(got)-1:])
	}
	// The re-aggregation reads what the counts' flush wrote to its repartition topic: a new
	// instance processes it (and flushes its own cache when it closes).
	cfg := streams.Config{ApplicationID: "cached", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(), CommitInterval: time.Hour}
	app = startApp(t, cachedCounts(t), cfg)
	waitProcessed(t, app, 3)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	// 1 and 3 are odd, 2 even.
	sums := map[string]string{}
	for _, s := range readCounts(t, tb.Addr(), "parity-sums") {
		sums[s[:1]] = s
	}
	if sums["0"] != "0=100" || sums["1"] != "1=200" {
		t.Fatalf("sums of the cached counts per parity: %v, want 0=100 and 1=200", sums)
	}
}

func TestRecordCacheFlushesWhenFullAndAtEveryCommit(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"clicks", "counts", "counts-uncached", "parity-sums"} {
		createTopic(t, tb.Addr(), topic, 1)
	}
	// A cache smaller than one entry flushes on every update: all of them go downstream.
	app := startApp(t, cachedCounts(t), streams.Config{ApplicationID: "tiny-cache", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: time.Hour, CacheMaxBytes: 1})
	clicks(t, tb.Addr(), 30, "k1", "k2", "k3")
	waitProcessed(t, app, 30)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readCounts(t, tb.Addr(), "counts"); len(got) != 30 {
		t.Fatalf("counts through a full cache: %d records, want all 30 updates: %v", len(got), got)
	}

	// With the default cache, each commit forwards what changed since the last one.
	app = startApp(t, cachedCounts(t), streams.Config{ApplicationID: "tiny-cache", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: 50 * time.Millisecond})
	clicks(t, tb.Addr(), 30, "k1")
	waitCaughtUp(t, app, tb.Addr(), "tiny-cache")
	got := readCounts(t, tb.Addr(), "counts")
	if len(got) < 31 || len(got) > 60 || got[len(got)-1] != "k1=40" {
		t.Fatalf("counts after 30 more records of k1 at a 50ms commit interval: %d records ending %v, want 1 to 30 more ending k1=40",
			len(got), got[len(got)-1:])
	}
	// k1 went from 10 to 40 over several flushes, each retracting the count forwarded before.
	sums := map[string]string{}
	for _, s := range readCounts(t, tb.Addr(), "parity-sums") {
		sums[s[:1]] = s
	}
	if sums["0"] != "0=10" || sums["1"] != "1=50" {
		t.Fatalf("sums of the cached counts per parity: %v, want 0=10 and 1=50", sums)
	}
}

func TestRecordCacheOfAWindowedCountForwardsTheLatestCountPerWindow(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "clicks", 1)
	createTopic(t, tb.Addr(), "windowed", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.TumblingWindows(100*time.Millisecond)).Count(streams.Materialized("per-window")).
		ToStream().To("windowed", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	clicks(t, tb.Addr(), 300, "k1", "k2") // timestamps 0..299: three windows per key
	app := startApp(t, topo, streams.Config{ApplicationID: "cached-windows", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: time.Hour})
	waitProcessed(t, app, 300)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	keys := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 100 * time.Millisecond}
	var got []string
	for _, r := range readToEnd(t, tb.Addr(), "windowed") {
		got = append(got, formatWindowed(keys)(r))
	}
	want := []string{"k1@0/100=50", "k2@0/100=50", "k1@100/200=50", "k2@100/200=50", "k1@200/300=50", "k2@200/300=50"}
	if !slices.Equal(got, want) {
		t.Fatalf("cached windowed counts\n got %v\nwant %v", got, want)
	}
}
