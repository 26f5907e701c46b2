package statestore

import (
	"context"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/twmb/franz-go/pkg/kgo"
)

func openBuffered(t testing.TB, cl *kgo.Client, dir string) *KeyValueStore {
	t.Helper()
	s, err := Open(ctxT(t), Options{
		StateDir: dir, Name: "counts", Partition: 0,
		Changelog: cl, ApplicationID: testApp, ChangelogPartitions: 1,
		WriteCacheEntries: 100, TrackPositions: true, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBufferedStoreReadsAndIteratorsSeePendingWrites(t *testing.T) {
	s, err := Open(context.Background(), Options{StateDir: t.TempDir(), Name: "b", WriteCacheEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, kv := range [][2]string{{"a", "1"}, {"c", "3"}, {"e", "5"}} {
		mustPut(t, s, kv[0], kv[1])
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Pending on top of stored: an update, an insert between stored keys, a delete, an insert
	// after the last stored key.
	mustPut(t, s, "c", "33")
	mustPut(t, s, "b", "2")
	if err := s.Delete([]byte("e")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "f", "6")
	if got, want := collect(t, s.All()), []string{"a=1", "b=2", "c=33", "f=6"}; !equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	if got, want := collect(t, s.Range([]byte("b"), []byte("f"))), []string{"b=2", "c=33"}; !equal(got, want) {
		t.Fatalf("Range[b,f) = %v, want %v", got, want)
	}
	if _, ok, _ := s.Get([]byte("e")); ok {
		t.Fatal("Get(e) finds a deleted key")
	}
	if v, ok, _ := s.Get([]byte("c")); !ok || string(v) != "33" {
		t.Fatalf("Get(c) = %q, %v", v, ok)
	}
	if n, _ := s.ApproximateCount(); n != 4 {
		t.Fatalf("count = %d, want 4", n)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, s.All()), []string{"a=1", "b=2", "c=33", "f=6"}; !equal(got, want) {
		t.Fatalf("All after Flush = %v, want %v", got, want)
	}
}

func TestRestoreStopsAtTheLastPositionMarkerAndSupersedesACutShortCommit(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	ctx := ctxT(t)

	s := openBuffered(t, cl, t.TempDir())
	mustPut(t, s, "a", "1")
	mustPut(t, s, "b", "1")
	if err := s.Commit(ctx, []byte("pos-1")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a", "2")
	if err := s.Commit(ctx, []byte("pos-2")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crashed owner's commit cut short: updates after the last marker, no marker of their own.
	topic := ChangelogTopic(testApp, "counts")
	for _, r := range []*kgo.Record{
		{Topic: topic, Partition: 0, Key: []byte("a"), Value: []byte("99")},
		{Topic: topic, Partition: 0, Key: []byte("z"), Value: []byte("99")},
		{Topic: topic, Partition: 0, Key: []byte("b")}, // tombstone
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	fresh := openBuffered(t, cl, t.TempDir())
	if got, want := collect(t, fresh.All()), []string{"a=2", "b=1"}; !equal(got, want) {
		t.Fatalf("restored = %v, want the state of the last marker %v", got, want)
	}
	if got := string(fresh.RestoredPosition()); got != "pos-2" {
		t.Fatalf("RestoredPosition = %q, want pos-2", got)
	}
	// The next commit re-writes the cut-short keys after a new marker, so a later restore from
	// scratch (which applies everything up to the last marker) sees the right state too.
	mustPut(t, fresh, "c", "1")
	if err := fresh.Commit(ctx, []byte("pos-3")); err != nil {
		t.Fatal(err)
	}
	fresh.Close()
	again := openBuffered(t, cl, t.TempDir())
	if got, want := collect(t, again.All()), []string{"a=2", "b=1", "c=1"}; !equal(got, want) {
		t.Fatalf("restored after supersede = %v, want %v", got, want)
	}
	if got := string(again.RestoredPosition()); got != "pos-3" {
		t.Fatalf("RestoredPosition = %q, want pos-3", got)
	}
}

func TestUncommittedBufferedWritesNeverReachLocalState(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	ctx := ctxT(t)
	dir := t.TempDir()
	s := openBuffered(t, cl, dir)
	mustPut(t, s, "a", "1")
	if err := s.Commit(ctx, []byte("p1")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a", "2") // never committed: the owner crashes
	s.Close()
	reopened := openBuffered(t, cl, dir)
	if v, _, _ := reopened.Get([]byte("a")); string(v) != "1" {
		t.Fatalf("a = %q after reopening, want the committed 1", v)
	}
	if st := reopened.Stats(); st.RecordsRestored != 0 {
		t.Fatalf("restored %d records on reopen, want 0 (local state is at the last marker)", st.RecordsRestored)
	}
	if !reopened.NeedsCommit() {
		for i := range 101 {
			mustPut(t, reopened, string(rune('A'+i%26))+string(rune('a'+i/26)), "x")
		}
	}
	if !reopened.NeedsCommit() {
		t.Fatal("NeedsCommit false with more pending keys than WriteCacheEntries")
	}
}

func TestAnIdleCommitAtTheSamePositionWritesNothing(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	ctx := ctxT(t)
	s := openBuffered(t, cl, t.TempDir())
	mustPut(t, s, "a", "1")
	if err := s.Commit(ctx, []byte("p1")); err != nil {
		t.Fatal(err)
	}
	written := s.Stats().ChangelogRecords // the update and the marker
	for range 3 {
		if err := s.Commit(ctx, []byte("p1")); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().ChangelogRecords; got != written {
		t.Fatalf("idle commits wrote %d changelog records, want none", got-written)
	}
	if err := s.Commit(ctx, []byte("p2")); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().ChangelogRecords; got != written+1 {
		t.Fatalf("a moved position wrote %d records, want one marker", got-written)
	}
}
