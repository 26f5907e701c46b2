package statestore

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/twmb/franz-go/pkg/kadm"
)

func collectSessions(t testing.TB, it SessionIterator) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%s[%d,%d]=%s", it.Key(), it.Start(), it.End(), it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatalf("session iterator: %v", err)
	}
	return out
}

func openSessions(t testing.TB, opts Options, retention time.Duration) *SessionStore {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "sessions"
	}
	opts.Logger = testLogger(t)
	s, err := OpenSessionStore(ctxT(t), opts, retention)
	if err != nil {
		t.Fatalf("OpenSessionStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPutSession(t testing.TB, s *SessionStore, key string, start, end int64, value string) {
	t.Helper()
	if err := s.Put([]byte(key), start, end, []byte(value)); err != nil {
		t.Fatalf("Put(%s, [%d,%d]): %v", key, start, end, err)
	}
}

func TestSessionStoreFindsTheSessionsARecordMergesWith(t *testing.T) {
	s := openSessions(t, Options{StateDir: t.TempDir()}, time.Hour)
	mustPutSession(t, s, "a", 0, 1000, "a1")
	mustPutSession(t, s, "a", 5000, 6000, "a2")
	mustPutSession(t, s, "a", 20000, 20000, "a3")
	mustPutSession(t, s, "ab", 3000, 3500, "ab1") // shares the prefix "a"
	mustPutSession(t, s, "b", 2000, 2000, "b1")

	tests := []struct {
		name string
		it   SessionIterator
		want []string
	}{
		// A record at 3000 with a gap of 2000 reaches sessions ending >= 1000 and starting <= 5000.
		{"a merges around 3000", s.FindSessions([]byte("a"), 1000, 5000), []string{"a[0,1000]=a1", "a[5000,6000]=a2"}},
		{"a merges around 3000 with gap 1999", s.FindSessions([]byte("a"), 1001, 4999), nil},
		{"a merges around 20500", s.FindSessions([]byte("a"), 19500, 21500), []string{"a[20000,20000]=a3"}},
		{"ab alone", s.Fetch([]byte("ab")), []string{"ab[3000,3500]=ab1"}},
		{"all of a", s.Fetch([]byte("a")), []string{"a[0,1000]=a1", "a[5000,6000]=a2", "a[20000,20000]=a3"}},
		{"by end in [1000, 6000]", s.FindSessionsByEnd(1000, 6000),
			[]string{"a[0,1000]=a1", "b[2000,2000]=b1", "ab[3000,3500]=ab1", "a[5000,6000]=a2"}},
		{"unknown key", s.Fetch([]byte("zz")), nil},
	}
	for _, tt := range tests {
		if got := collectSessions(t, tt.it); !equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}

	// Merging: remove the two sessions, put the merged one.
	for _, r := range [][2]int64{{0, 1000}, {5000, 6000}} {
		if err := s.Remove([]byte("a"), r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	mustPutSession(t, s, "a", 0, 6000, "a1+a2")
	if got := collectSessions(t, s.Fetch([]byte("a"))); !equal(got, []string{"a[0,6000]=a1+a2", "a[20000,20000]=a3"}) {
		t.Fatalf("after merge: %v", got)
	}
	if v, ok, err := s.FetchSession([]byte("a"), 0, 6000); err != nil || !ok || string(v) != "a1+a2" {
		t.Fatalf("FetchSession(a, 0, 6000) = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := s.FetchSession([]byte("a"), 0, 1000); ok {
		t.Fatal("removed session still fetched")
	}
	if err := s.Put([]byte("a"), 10, 5, nil); err == nil {
		t.Error("Put with end before start: want error")
	}
	if err := s.Put([]byte("a"), -1, 5, nil); err == nil {
		t.Error("Put with a negative start: want error")
	}
}

func TestSessionStoreRetentionDropsExpiredSessions(t *testing.T) {
	dir := t.TempDir()
	s := openSessions(t, Options{StateDir: dir}, 10*time.Second)
	mustPutSession(t, s, "x", 0, 2_000, "old")
	mustPutSession(t, s, "y", 1_000, 8_000, "mid")
	mustPutSession(t, s, "x", 9_000, 10_000, "new")
	// Observed end 10000, retention 10000: nothing has expired yet.
	if got := collectSessions(t, s.FindSessionsByEnd(0, math.MaxInt64)); len(got) != 3 {
		t.Fatalf("before expiry: %v", got)
	}
	// Observed end 15000: sessions ending before 5000 go.
	mustPutSession(t, s, "z", 15_000, 15_000, "newest")
	want := []string{"y[1000,8000]=mid", "x[9000,10000]=new", "z[15000,15000]=newest"}
	if got := collectSessions(t, s.FindSessionsByEnd(0, math.MaxInt64)); !equal(got, want) {
		t.Fatalf("after expiry: %v, want %v", got, want)
	}
	if n, _ := s.Store().ApproximateCount(); n != 3 {
		t.Fatalf("store holds %d entries, want 3 (expired data deleted, not hidden)", n)
	}
	mustPutSession(t, s, "late", 100, 4_000, "v")
	if s.DroppedExpired() != 1 {
		t.Fatalf("DroppedExpired = %d, want 1", s.DroppedExpired())
	}
	if got := collectSessions(t, s.Fetch([]byte("late"))); got != nil {
		t.Fatalf("late session was stored: %v", got)
	}
	s.Close()
	reopened := openSessions(t, Options{StateDir: dir}, 10*time.Second)
	if reopened.ObservedTime() != 15_000 {
		t.Fatalf("ObservedTime after reopen = %d, want 15000", reopened.ObservedTime())
	}
}

func TestSessionStoreRestoresFromItsChangelog(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	opts := func(dir string) Options {
		return Options{StateDir: dir, Name: "sess", Partition: 0, Changelog: cl,
			ApplicationID: testApp, ChangelogPartitions: 1}
	}
	s := openSessions(t, opts(t.TempDir()), time.Minute)
	// 20 keys, 10 sessions each, 10s apart; after the second round every key's first two
	// sessions merge into one.
	for r := range int64(10) {
		for i := range 20 {
			mustPutSession(t, s, fmt.Sprintf("k%02d", i), r*10_000, r*10_000+500, strconv.Itoa(int(r)*20+i))
		}
		if r != 1 {
			continue
		}
		for i := range 20 {
			k := []byte(fmt.Sprintf("k%02d", i))
			for _, start := range []int64{0, 10_000} {
				if err := s.Remove(k, start, start+500); err != nil {
					t.Fatal(err)
				}
			}
			mustPutSession(t, s, string(k), 0, 10_500, "merged")
		}
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := collectSessions(t, s.FindSessionsByEnd(0, math.MaxInt64))
	// Observed end 90500, retention 60000: sessions ending before 30500 (those of 0..20000 and
	// the merged ones) expired locally.
	if len(want) != 7*20 {
		t.Fatalf("live sessions = %d, want 140", len(want))
	}
	s.Close()

	recs := readChangelog(t, tb.Addr(), "app-sess-changelog", 0)
	if len(recs) != 200+40+20 {
		t.Fatalf("changelog has %d records, want 260 (200 puts, 40 tombstones, 20 merged puts)", len(recs))
	}
	if !recs[40].tombstone || recs[42].value != "merged" {
		t.Fatalf("records 40, 42 = %+v, %+v; want a tombstone and the merged session", recs[40], recs[42])
	}
	// Kafka's SessionKeySchema: key, then end, then start.
	if k, start, end, err := SplitSessionKey([]byte(recs[0].key)); err != nil || string(k) != "k00" || start != 0 || end != 500 {
		t.Fatalf("first changelog key %q = %q [%d,%d], %v", recs[0].key, k, start, end, err)
	}
	if want := "k00" + string([]byte{0, 0, 0, 0, 0, 0, 1, 0xf4, 0, 0, 0, 0, 0, 0, 0, 0}); recs[0].key != want {
		t.Fatalf("first changelog key bytes = %x, want %x", recs[0].key, want)
	}
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctxT(t), "app-sess-changelog")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cfgs[0].Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != strconv.Itoa(60_000+86_400_000) {
		t.Fatalf("changelog configs cleanup.policy=%q retention.ms=%q, want compact,delete and 86460000",
			got["cleanup.policy"], got["retention.ms"])
	}

	restored := openSessions(t, opts(t.TempDir()), time.Minute)
	if got := collectSessions(t, restored.FindSessionsByEnd(0, math.MaxInt64)); !equal(got, want) {
		t.Fatalf("restored sessions differ: %d, want %d\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if restored.ObservedTime() != 90_500 {
		t.Fatalf("restored ObservedTime = %d, want 90500", restored.ObservedTime())
	}
	if got := collectSessions(t, restored.Fetch([]byte("k03"))); len(got) != 7 || got[0] != "k03[30000,30500]=63" {
		t.Fatalf("restored Fetch(k03) = %v", got)
	}
	if n, _ := restored.Store().ApproximateCount(); n != 140 {
		t.Fatalf("restored store holds %d entries, want 140 (expired sessions dropped after restore)", n)
	}
}

// FuzzSessionKey feeds arbitrary bytes, as a changelog could, to the session key decoder and
// the session index: errors, never panics, and what decodes re-encodes to the same bytes.
func FuzzSessionKey(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("k\x00\x00\x00\x00\x00\x00\x01\xf4\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, start, end, err := SplitSessionKey(b); err == nil {
			if e := SessionKey(k, start, end); string(e) != string(b) {
				t.Fatalf("session key %x → %x [%d,%d] → %x", b, k, start, end, e)
			}
		}
		var batch leveldb.Batch
		indexSession(&batch, b, len(b)%2 == 0)
	})
}
