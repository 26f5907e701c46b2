package statestore

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/twmb/franz-go/pkg/kadm"
)

// writeWorkload writes n puts over n/3 keys, deleting every seventh key after it, and flushes.
func writeWorkload(t testing.TB, s *KeyValueStore, n int) {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("key-%05d", i%(n/3+1))
		mustPut(t, s, k, fmt.Sprintf("value-%d", i))
		if i%7 == 0 {
			if err := s.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestRestoreIntoEmptyDirYieldsIdenticalContents(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	s := openLogged(t, cl, t.TempDir())
	writeWorkload(t, s, 1500)
	want := collect(t, s.All())
	if len(want) < 100 {
		t.Fatalf("workload left only %d keys", len(want))
	}
	s.Close()

	restored := openLogged(t, cl, t.TempDir())
	if got := collect(t, restored.All()); !equal(got, want) {
		t.Fatalf("restored store has %d entries, want %d (or contents differ)", len(got), len(want))
	}
	st := restored.Stats()
	// 1500 puts + 215 deletes.
	if st.RecordsRestored != 1715 || st.RestoredFrom != 0 || st.RestoredTo != 1715 {
		t.Fatalf("Stats = %+v, want 1715 records restored from 0 to 1715", st)
	}
	if cp, ok := restored.Checkpoint(); !ok || cp != 1714 {
		t.Fatalf("Checkpoint = %d, %v; want 1714", cp, ok)
	}
}

func TestRestoreFromCheckpointReadsOnlyTheTail(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	dir := t.TempDir()
	s := openLogged(t, cl, dir)
	writeWorkload(t, s, 1200)
	s.Close()

	// Another instance (same partition, other dir) writes 50 more records to the changelog.
	other := openLogged(t, cl, t.TempDir())
	for i := range 50 {
		mustPut(t, other, fmt.Sprintf("tail-%02d", i), "t")
	}
	if err := other.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := collect(t, other.All())
	other.Close()

	s2 := openLogged(t, cl, dir)
	if st := s2.Stats(); st.RecordsRestored != 50 || st.Rebuilt {
		t.Fatalf("Stats = %+v, want exactly the 50 tail records restored, no rebuild", st)
	}
	if got := collect(t, s2.All()); !equal(got, want) {
		t.Fatalf("after tail restore: %d entries, want %d", len(got), len(want))
	}

	// Reopening an up-to-date store restores nothing.
	s2.Close()
	s3 := openLogged(t, cl, dir)
	if st := s3.Stats(); st.RecordsRestored != 0 {
		t.Fatalf("reopen of up-to-date store restored %d records", st.RecordsRestored)
	}
}

// setCheckpoint rewrites the checkpoint of a closed store directly in LevelDB.
func setCheckpoint(t testing.TB, dir string, offset int64) {
	t.Helper()
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b leveldb.Batch
	putCheckpoint(&b, offset)
	b.Put(dataKey([]byte("only-local")), []byte("x"))
	if err := db.Write(&b, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestCheckpointAheadOfChangelogWipesAndRebuilds(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	dir := t.TempDir()
	s := openLogged(t, cl, dir)
	writeWorkload(t, s, 300)
	want := collect(t, s.All())
	s.Close()

	// As if the changelog had been deleted and recreated shorter than the store's history.
	setCheckpoint(t, StoreDir(dir, "counts", 1), 1_000_000)

	s2 := openLogged(t, cl, dir)
	st := s2.Stats()
	if !st.Rebuilt || st.RestoredFrom != 0 || st.RecordsRestored != 343 {
		t.Fatalf("Stats = %+v, want a rebuild restoring all 343 records", st)
	}
	if got := collect(t, s2.All()); !equal(got, want) {
		t.Fatalf("rebuilt store: %d entries, want %d (local-only key must be gone)", len(got), len(want))
	}
	if cp, _ := s2.Checkpoint(); cp != 342 {
		t.Fatalf("Checkpoint = %d, want 342", cp)
	}
}

func TestStoreWithDataButNoCheckpointIsRebuilt(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	dir := t.TempDir()
	s := openLogged(t, cl, dir)
	mustPut(t, s, "a", "1")
	if err := s.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A crash before the first Flush of a fresh store: data, no checkpoint.
	sdir := StoreDir(dir, "counts", 1)
	if err := os.RemoveAll(sdir); err != nil {
		t.Fatal(err)
	}
	db, err := leveldb.OpenFile(sdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Put(dataKey([]byte("unacked")), []byte("x"), nil)
	db.Close()

	s2 := openLogged(t, cl, dir)
	if got := collect(t, s2.All()); !equal(got, []string{"a=1"}) || !s2.Stats().Rebuilt {
		t.Fatalf("All = %v, Stats = %+v; want only the changelog's a=1, rebuilt", got, s2.Stats())
	}
}

func TestWritesAfterRestoreAdvanceTheCheckpoint(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	dir := t.TempDir()
	s := openLogged(t, cl, dir)
	writeWorkload(t, s, 30) // 30 puts + 5 deletes: offsets 0..34
	s.Close()
	s2 := openLogged(t, cl, dir)
	mustPut(t, s2, "x", "1")
	mustPut(t, s2, "y", "2")
	if err := s2.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s2.Checkpoint(); cp != 36 {
		t.Fatalf("Checkpoint = %d, want 36", cp)
	}
}

func TestRecreatedChangelogTopicIsDetectedAndTheStoreRebuilt(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	dir := t.TempDir()
	s := openLogged(t, cl, dir)
	writeWorkload(t, s, 90)
	s.Close()

	adm := kadm.NewClient(cl)
	if _, err := adm.DeleteTopic(ctxT(t), "app-counts-changelog"); err != nil {
		t.Fatalf("delete changelog: %v", err)
	}
	// Another instance writes a longer history into the recreated topic (through a new
	// client: kgo fails produces to a recreated topic until it is purged from the client), so
	// only the topic ID, not the offsets, shows that the topic changed.
	cl2 := newProducer(t, tb.Addr())
	other := openLogged(t, cl2, t.TempDir())
	for i := range 150 {
		mustPut(t, other, fmt.Sprintf("new-%03d", i), "1")
	}
	if err := other.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := collect(t, other.All())
	other.Close()

	s2 := openLogged(t, cl2, dir)
	if got := collect(t, s2.All()); !equal(got, want) || !s2.Stats().Rebuilt || s2.Stats().RecordsRestored != 150 {
		t.Fatalf("%d entries, Stats = %+v; want the recreated topic's 150 entries, rebuilt", len(got), s2.Stats())
	}
}

func TestOpenFailsClearlyWhenTheChangelogLacksThePartition(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	if err := EnsureTopics(ctxT(t), cl, ChangelogTopicSpec("app-counts-changelog", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctxT(t), Options{StateDir: t.TempDir(), Name: "counts", Partition: 4,
		Changelog: cl, ApplicationID: testApp, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "app-counts-changelog") || !strings.Contains(err.Error(), "partition 4") {
		t.Fatalf("Open = %v, want an error naming the topic and partition 4", err)
	}
}

func TestRestoreLogsProgressWithRateAndETA(t *testing.T) {
	tb := testbroker.Start(t)
	cl := newProducer(t, tb.Addr())
	s := openLogged(t, cl, t.TempDir())
	writeWorkload(t, s, 3000)
	s.Close()

	var logs syncBuffer
	var progress [][2]int64
	r, err := Open(ctxT(t), Options{
		StateDir: t.TempDir(), Name: "counts", Partition: 1, Changelog: cl, ApplicationID: testApp,
		RestoreBatchRecords: 100, RestoreProgressInterval: time.Nanosecond,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
		RestoreListener: func(restored, total int64) { progress = append(progress, [2]int64{restored, total}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(progress) < 2 {
		t.Fatalf("RestoreListener called %d times, want once per fetch and at the end", len(progress))
	}
	for i, p := range progress {
		if p[1] != progress[0][1] || p[0] > p[1] || (i > 0 && p[0] < progress[i-1][0]) {
			t.Fatalf("RestoreListener progress %v is not monotonic within a fixed total", progress)
		}
	}
	if last := progress[len(progress)-1]; last[0] != last[1] || last[1] == 0 {
		t.Fatalf("last RestoreListener call %v, want restored == total > 0", last)
	}
	out := logs.String()
	for _, want := range []string{"msg=\"restoring store from changelog\"", "rate_per_sec=", "eta=",
		"store=counts", "percent=", "msg=\"restored store from changelog\"", "records=3429", "component=statestore"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore log lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
