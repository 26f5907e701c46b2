package statestore

import (
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/twmb/franz-go/pkg/kgo"
)

func openTrackedWindows(t *testing.T, cl *kgo.Client, dir string) *WindowStore {
	t.Helper()
	w, err := OpenWindowStore(ctxT(t), Options{StateDir: dir, Name: "windows", Changelog: cl, ApplicationID: testApp,
		ChangelogPartitions: 1, WriteCacheEntries: 100, TrackPositions: true, Logger: testLogger(t)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func fetchAll(t *testing.T, it WindowIterator) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"@"+time.UnixMilli(it.WindowStart()).UTC().Format("15:04:05.000")+"="+string(it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A window store with position tracking holds its writes until Commit (reads see them), writes
// them with their time index at Commit, and restores exactly to its last marker: what a crash
// cut short, locally or in the changelog, never shows.
func TestTrackedWindowStoreRestoresExactlyToItsLastMarker(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	ctx := ctxT(t)
	dir := t.TempDir()
	w := openTrackedWindows(t, cl, dir)
	for _, p := range []struct {
		key   string
		start int64
		value string
	}{{"a", 0, "1"}, {"b", 0, "1"}, {"a", 1000, "1"}} {
		if err := w.Put([]byte(p.key), p.start, []byte(p.value)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := fetchAll(t, w.Fetch([]byte("a"), 0, 5000)), []string{"a@00:00:00.000=1", "a@00:00:01.000=1"}; !equal(got, want) {
		t.Fatalf("Fetch before Commit = %v, want %v", got, want)
	}
	if err := w.Store().Commit(ctx, []byte("pos-1")); err != nil {
		t.Fatal(err)
	}
	if got, want := fetchAll(t, w.FetchAll(0, 5000)), []string{"a@00:00:00.000=1", "b@00:00:00.000=1", "a@00:00:01.000=1"}; !equal(got, want) {
		t.Fatalf("FetchAll after Commit = %v, want %v (the time index is written at Commit)", got, want)
	}
	// Updates after the marker, then a crash: locally nothing of them is stored...
	if err := w.Put([]byte("a"), 0, []byte("2")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	local := openTrackedWindows(t, cl, dir)
	if v, _, _ := local.Get([]byte("a"), 0); string(v) != "1" {
		t.Fatalf("a@0 = %q after a local restart, want the committed 1", v)
	}
	local.Close()
	// ... and a changelog tail after the last marker (a commit cut short) is not restored.
	topic := ChangelogTopic(testApp, "windows")
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: WindowKey([]byte("b"), 0), Value: []byte("9")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fresh := openTrackedWindows(t, cl, t.TempDir())
	if got, want := fetchAll(t, fresh.FetchAll(0, 5000)), []string{"a@00:00:00.000=1", "b@00:00:00.000=1", "a@00:00:01.000=1"}; !equal(got, want) {
		t.Fatalf("restored = %v, want the state of the last marker %v", got, want)
	}
	if got := string(fresh.Store().RestoredPosition()); got != "pos-1" {
		t.Fatalf("RestoredPosition = %q, want pos-1", got)
	}
}

// Retention expires a window's pending update as it expires committed windows: it never
// reaches LevelDB afterwards.
func TestTrackedWindowStoreExpiresPendingWindows(t *testing.T) {
	w, err := OpenWindowStore(ctxT(t), Options{StateDir: t.TempDir(), Name: "w", WriteCacheEntries: 100, TrackPositions: true}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Put([]byte("a"), 0, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := w.Put([]byte("a"), 5000, []byte("new")); err != nil { // observed 5000: 0 expires
		t.Fatal(err)
	}
	if err := w.Store().Commit(ctxT(t), []byte("p")); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, w.Store().All()), []string{string(WindowKey([]byte("a"), 5000)) + "=new"}; !equal(got, want) {
		t.Fatalf("stored after Commit = %q, want only the window that has not expired %q", got, want)
	}
}

// A session store with position tracking buffers like a window store: sessions found before
// Commit, removed sessions gone, and the index written at Commit.
func TestTrackedSessionStoreSeesPendingSessionsAndIndexesThemAtCommit(t *testing.T) {
	s, err := OpenSessionStore(ctxT(t), Options{StateDir: t.TempDir(), Name: "s", WriteCacheEntries: 100, TrackPositions: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put([]byte("u"), 1000, 1000, []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]byte("u"), 9000, 9000, []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove([]byte("u"), 9000, 9000); err != nil {
		t.Fatal(err)
	}
	it := s.FindSessions([]byte("u"), 0, 10_000)
	var found []int64
	for it.Next() {
		found = append(found, it.Start(), it.End())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0] != 1000 || found[1] != 1000 {
		t.Fatalf("pending sessions found = %v, want [1000 1000]", found)
	}
	if err := s.Store().Commit(ctxT(t), []byte("p")); err != nil {
		t.Fatal(err)
	}
	byEnd := s.FindSessionsByEnd(0, 10_000)
	n := 0
	for byEnd.Next() {
		n++
		if byEnd.Start() != 1000 || byEnd.End() != 1000 {
			t.Fatalf("indexed session [%d,%d], want [1000,1000]", byEnd.Start(), byEnd.End())
		}
	}
	if err := byEnd.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("FindSessionsByEnd after Commit found %d sessions, want 1", n)
	}
}
