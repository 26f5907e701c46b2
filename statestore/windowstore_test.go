package statestore

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/twmb/franz-go/pkg/kadm"
)

func collectWindows(t testing.TB, it WindowIterator) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%s@%d=%s", it.Key(), it.WindowStart(), it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatalf("window iterator: %v", err)
	}
	return out
}

func openWindows(t testing.TB, opts Options, retention time.Duration) *WindowStore {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "windows"
	}
	opts.Logger = testLogger(t)
	w, err := OpenWindowStore(context.Background(), opts, retention)
	if err != nil {
		t.Fatalf("OpenWindowStore: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWindowStoreFetchesByKeyAndTimeRange(t *testing.T) {
	w := openWindows(t, Options{StateDir: t.TempDir()}, time.Hour)
	for _, start := range []int64{0, 1000, 2000, 3000} {
		for _, k := range []string{"a", "ab", "b"} {
			if err := w.Put([]byte(k), start, []byte(fmt.Sprint(k, start/1000))); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		it   WindowIterator
		want []string
	}{
		// "ab" shares the prefix "a" and must not leak into a's fetch.
		{"a in [1000, 2000]", w.Fetch([]byte("a"), 1000, 2000), []string{"a@1000=a1", "a@2000=a2"}},
		{"ab in [0, 0]", w.Fetch([]byte("ab"), 0, 0), []string{"ab@0=ab0"}},
		{"b unbounded", w.Fetch([]byte("b"), math.MinInt64, math.MaxInt64),
			[]string{"b@0=b0", "b@1000=b1", "b@2000=b2", "b@3000=b3"}},
		{"empty range", w.Fetch([]byte("a"), 2000, 1000), nil},
		{"all in [2000, 3000]", w.FetchAll(2000, 3000),
			[]string{"a@2000=a2", "ab@2000=ab2", "b@2000=b2", "a@3000=a3", "ab@3000=ab3", "b@3000=b3"}},
	}
	for _, tt := range tests {
		if got := collectWindows(t, tt.it); !equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := w.Delete([]byte("a"), 1000); err != nil {
		t.Fatal(err)
	}
	if got := collectWindows(t, w.FetchAll(1000, 1000)); !equal(got, []string{"ab@1000=ab1", "b@1000=b1"}) {
		t.Errorf("after Delete, FetchAll(1000) = %v", got)
	}
	if v, ok, err := w.Get([]byte("b"), 3000); err != nil || !ok || string(v) != "b3" {
		t.Errorf("Get(b, 3000) = %q, %v, %v", v, ok, err)
	}
	if err := w.Put([]byte("a"), -1, nil); err == nil {
		t.Error("Put with a negative window start: want error")
	}
}

func TestWindowStoreRetentionDropsWholeExpiredWindows(t *testing.T) {
	dir := t.TempDir()
	w := openWindows(t, Options{StateDir: dir}, 10*time.Second)
	for start := int64(0); start <= 10_000; start += 5_000 {
		for _, k := range []string{"x", "y"} {
			if err := w.Put([]byte(k), start, []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Observed time 10000: nothing is older than 10000-10000 = 0 yet.
	if got := collectWindows(t, w.FetchAll(0, math.MaxInt64)); len(got) != 6 {
		t.Fatalf("before expiry: %v", got)
	}
	// Observed time 17000: windows starting before 7000 (0 and 5000) go, for every key.
	if err := w.Put([]byte("x"), 17_000, []byte("v")); err != nil {
		t.Fatal(err)
	}
	want := []string{"x@10000=v", "y@10000=v", "x@17000=v"}
	if got := collectWindows(t, w.FetchAll(0, math.MaxInt64)); !equal(got, want) {
		t.Fatalf("after expiry: %v, want %v", got, want)
	}
	if got := collectWindows(t, w.Fetch([]byte("y"), 0, math.MaxInt64)); !equal(got, []string{"y@10000=v"}) {
		t.Fatalf("Fetch(y) after expiry: %v", got)
	}
	// The expired data is gone from LevelDB, not only hidden.
	if n, _ := w.Store().ApproximateCount(); n != 3 {
		t.Fatalf("store holds %d entries, want 3", n)
	}
	// A late put into an expired window is dropped and counted.
	if err := w.Put([]byte("late"), 1_000, []byte("v")); err != nil {
		t.Fatal(err)
	}
	if w.DroppedExpired() != 1 {
		t.Fatalf("DroppedExpired = %d, want 1", w.DroppedExpired())
	}
	if _, ok, _ := w.Get([]byte("late"), 1_000); ok {
		t.Fatal("late put into expired window was stored")
	}

	// Reopening recovers the observed time from the time index.
	w.Close()
	w2 := openWindows(t, Options{StateDir: dir}, 10*time.Second)
	if w2.ObservedTime() != 17_000 {
		t.Fatalf("ObservedTime after reopen = %d, want 17000", w2.ObservedTime())
	}
}

func TestWindowStoreRestoresFromItsWindowedChangelog(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	opts := func(dir string) Options {
		return Options{StateDir: dir, Name: "win", Partition: 0, Changelog: cl,
			ApplicationID: testApp, ChangelogPartitions: 1}
	}
	w := openWindows(t, opts(t.TempDir()), time.Minute)
	for i := range 300 {
		if err := w.Put([]byte(fmt.Sprintf("k%02d", i%30)), int64(i/30)*10_000, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Observed 90000, retention 60000: windows 0..20000 expired locally (no tombstones sent).
	want := collectWindows(t, w.FetchAll(0, math.MaxInt64))
	if len(want) != 210 {
		t.Fatalf("live windows = %d, want 210", len(want))
	}
	w.Close()

	recs := readChangelog(t, tb.Addr(), "app-win-changelog", 0)
	if len(recs) != 300 {
		t.Fatalf("changelog has %d records, want 300 (expiry sends no tombstones)", len(recs))
	}
	if k, start, err := SplitWindowKey([]byte(recs[299].key)); err != nil || string(k) != "k29" || start != 90_000 {
		t.Fatalf("last changelog key = %q → %q@%d, %v", recs[299].key, k, start, err)
	}
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctxT(t), "app-win-changelog")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfgs[0].Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact,delete" {
			t.Fatalf("cleanup.policy = %q", c.MaybeValue())
		}
	}

	restored := openWindows(t, opts(t.TempDir()), time.Minute)
	if got := collectWindows(t, restored.FetchAll(0, math.MaxInt64)); !equal(got, want) {
		t.Fatalf("restored windows differ: %d, want %d", len(got), len(want))
	}
	if restored.ObservedTime() != 90_000 {
		t.Fatalf("restored ObservedTime = %d", restored.ObservedTime())
	}
	if n, _ := restored.Store().ApproximateCount(); n != 210 {
		t.Fatalf("restored store holds %d entries, want 210 (expired windows dropped after restore)", n)
	}
}
