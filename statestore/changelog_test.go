package statestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testApp = "app"

func newProducer(t testing.TB, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(ProducerOptions(), kgo.SeedBrokers(addr))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testLogger sends store logs to the test output, shown for failing tests and with -v;
// benchmarks discard them.
func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openLogged opens store "counts" partition 1 of a 3-partition changelog.
func openLogged(t testing.TB, cl *kgo.Client, dir string) *KeyValueStore {
	t.Helper()
	s, err := Open(ctxT(t), Options{
		StateDir: dir, Name: "counts", Partition: 1,
		Changelog: cl, ApplicationID: testApp, ChangelogPartitions: 3,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type changelogRecord struct {
	key       string
	value     string
	tombstone bool
}

// readChangelog reads topic/partition from the start up to its high watermark.
func readChangelog(t testing.TB, addr, topic string, partition int32) []changelogRecord {
	t.Helper()
	ctx := ctxT(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, partition)
	var out []changelogRecord
	last := int64(-1)
	testutil.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		if last >= end.Offset-1 {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		fs := cl.PollFetches(pctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", topic, partition, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition != partition {
				t.Errorf("record in partition %d, want %d", r.Partition, partition)
			}
			out = append(out, changelogRecord{string(r.Key), string(r.Value), r.Value == nil})
			last = r.Offset
		})
		if last < end.Offset-1 {
			return fmt.Errorf("%s/%d: read up to %d of %d", topic, partition, last+1, end.Offset)
		}
		return nil
	})
	return out
}

func TestChangelogReceivesEveryWriteIncludingTombstones(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	s := openLogged(t, cl, t.TempDir())
	if s.ChangelogTopic() != "app-counts-changelog" {
		t.Fatalf("ChangelogTopic = %q", s.ChangelogTopic())
	}

	mustPut(t, s, "a", "1")
	mustPut(t, s, "b", "2")
	mustPut(t, s, "a", "3")
	if err := s.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "e", "")
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	got := readChangelog(t, tb.Addr(), "app-counts-changelog", 1)
	want := []changelogRecord{{"a", "1", false}, {"b", "2", false}, {"a", "3", false}, {"b", "", true}, {"e", "", false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changelog = %v, want %v", got, want)
	}
	if cp, ok := s.Checkpoint(); !ok || cp != 4 {
		t.Fatalf("Checkpoint after Flush = %d, %v; want 4 (offset of the 5th write)", cp, ok)
	}
	for _, p := range []int32{0, 2} {
		if recs := readChangelog(t, tb.Addr(), "app-counts-changelog", p); len(recs) != 0 {
			t.Fatalf("partition %d has %d records; a store writes only its own partition", p, len(recs))
		}
	}
}

func TestEnsureTopicsCreatesCompactedChangelogs(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	ctx := ctxT(t)
	err := EnsureTopics(ctx, cl,
		ChangelogTopicSpec("app-kv-changelog", 4),
		WindowedChangelogTopicSpec("app-win-changelog", 2, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, "app-kv-changelog", "app-win-changelog")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details["app-kv-changelog"].Partitions); n != 4 {
		t.Errorf("app-kv-changelog has %d partitions, want 4", n)
	}
	if n := len(details["app-win-changelog"].Partitions); n != 2 {
		t.Errorf("app-win-changelog has %d partitions, want 2", n)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, "app-kv-changelog", "app-win-changelog")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"app-kv-changelog":  {"cleanup.policy": "compact"},
		"app-win-changelog": {"cleanup.policy": "compact,delete", "retention.ms": fmt.Sprint((25 * time.Hour).Milliseconds())},
	}
	for _, rc := range configs {
		for _, c := range rc.Configs {
			if w, ok := want[rc.Name][c.Key]; ok {
				if c.MaybeValue() != w {
					t.Errorf("%s %s = %q, want %q", rc.Name, c.Key, c.MaybeValue(), w)
				}
				delete(want[rc.Name], c.Key)
			}
		}
	}
	for topic, left := range want {
		if len(left) != 0 {
			t.Errorf("%s: configs not reported: %v", topic, left)
		}
	}

	// Ensuring again is a no-op.
	if err := EnsureTopics(ctx, cl, ChangelogTopicSpec("app-kv-changelog", 4)); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
}

func TestChangelogPartitionCountMismatchIsAClearError(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	if err := EnsureTopics(ctxT(t), cl, ChangelogTopicSpec("app-counts-changelog", 2)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctxT(t), Options{
		StateDir: t.TempDir(), Name: "counts", Partition: 1,
		Changelog: cl, ApplicationID: testApp, ChangelogPartitions: 3,
	})
	if !errors.Is(err, ErrPartitionMismatch) {
		t.Fatalf("Open = %v, want ErrPartitionMismatch", err)
	}
	for _, part := range []string{"app-counts-changelog", "has 2 partitions", "want 3"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestWriteCacheSendsOnlyTheLatestUpdatePerKey(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	open := func(dir string, cacheEntries int) *KeyValueStore {
		s, err := Open(ctxT(t), Options{
			StateDir: dir, Name: "counts", Partition: 0,
			Changelog: cl, ApplicationID: testApp, ChangelogPartitions: 1,
			WriteCacheEntries: cacheEntries, Logger: testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open(t.TempDir(), 1000)
	for i := range 100 {
		mustPut(t, s, "hot", fmt.Sprint(i))
	}
	mustPut(t, s, "cold", "c")
	mustPut(t, s, "gone", "g")
	if err := s.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	// Reads see cached writes before any Flush.
	if v, ok, _ := s.Get([]byte("hot")); !ok || string(v) != "99" {
		t.Fatalf("Get(hot) before Flush = %q, %v", v, ok)
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := map[string]changelogRecord{}
	for _, r := range readChangelog(t, tb.Addr(), "app-counts-changelog", 0) {
		got[r.key] = r
	}
	want := map[string]changelogRecord{"hot": {"hot", "99", false}, "cold": {"cold", "c", false}, "gone": {"gone", "", true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changelog = %v, want %v", got, want)
	}
	if n := s.Stats().ChangelogRecords; n != 3 {
		t.Fatalf("ChangelogRecords = %d, want 3", n)
	}

	// A full cache evicts before Flush: with room for 2 keys, 5 keys produce at least 3 records.
	small := open(t.TempDir(), 2)
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		mustPut(t, small, k, "v")
	}
	if n := small.Stats().ChangelogRecords; n != 3 {
		t.Fatalf("ChangelogRecords before Flush = %d, want 3 (evicted when the third key arrived)", n)
	}
	if err := small.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	wantAll := collect(t, small.All())
	small.Close()
	restored := open(t.TempDir(), 0)
	if got := collect(t, restored.All()); !equal(got, wantAll) {
		t.Fatalf("restored = %v, want %v", got, wantAll)
	}
}
