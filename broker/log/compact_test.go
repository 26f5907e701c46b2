package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func compactConfig() Config {
	c := testConfig()
	c.Compact, c.Delete = true, false
	c.SegmentBytes = 64 << 10
	c.SegmentMs = -1
	c.DeleteRetentionMs = time.Hour.Milliseconds()
	return c
}

// rollForTest commits everything (high watermark = log end) and seals the active segment if it
// holds anything.
func rollForTest(t testing.TB, l *Log) {
	t.Helper()
	l.SetHighWatermark(l.LogEndOffset())
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.active().size.Load() == 0 {
		return
	}
	if _, err := l.rollLocked(); err != nil {
		t.Fatalf("roll: %v", err)
	}
}

type keptRecord struct {
	offset    int64
	timestamp int64
	key       string
	value     []byte // nil for a tombstone
}

// scanAll reads every record from the log start, checking that offsets strictly increase.
func scanAll(t testing.TB, l *Log) []keptRecord {
	t.Helper()
	var out []keptRecord
	err := l.ScanRecords(0, func(r Record) error {
		if n := len(out); n > 0 && r.Offset <= out[n-1].offset {
			return fmt.Errorf("offset %d after %d", r.Offset, out[n-1].offset)
		}
		var v []byte
		if r.Value != nil {
			v = append([]byte{}, r.Value...)
		}
		out = append(out, keptRecord{r.Offset, r.Timestamp, string(r.Key), v})
		return nil
	})
	if err != nil {
		t.Fatalf("ScanRecords: %v", err)
	}
	return out
}

// latestWrite is the last record written for a key.
type latestWrite struct {
	offset int64
	value  []byte
}

// writeUpdates appends n updates over keys key-0..key-(keys-1), batch records per batch, values
// "v-<sequence>", recording the latest offset of each key in latest.
func writeUpdates(t testing.TB, l *Log, clock *fakeClock, n, keys, batch int, seq *int, latest map[string]latestWrite) {
	t.Helper()
	for i := 0; i < n; i += batch {
		var recs []KeyValue
		for j := i; j < min(i+batch, n); j++ {
			*seq++
			recs = append(recs, KeyValue{Key: fmt.Appendf(nil, "key-%d", *seq%keys), Value: fmt.Appendf(nil, "v-%d", *seq)})
		}
		res := mustAppend(t, l, EncodeBatch(clock.Now().UnixMilli(), recs), 0)
		for j, kv := range recs {
			latest[string(kv.Key)] = latestWrite{res.BaseOffset + int64(j), kv.Value}
		}
	}
}

func checkLatest(t testing.TB, got []keptRecord, latest map[string]latestWrite) {
	t.Helper()
	if len(got) != len(latest) {
		t.Fatalf("scanned %d records, want one per key: %d", len(got), len(latest))
	}
	for _, r := range got {
		w, ok := latest[r.key]
		if !ok {
			t.Fatalf("unexpected key %q at offset %d", r.key, r.offset)
		}
		if r.offset != w.offset || !bytes.Equal(r.value, w.value) || (r.value == nil) != (w.value == nil) {
			t.Fatalf("key %q: got offset %d value %q, want offset %d value %q", r.key, r.offset, r.value, w.offset, w.value)
		}
	}
}

func TestCleanKeepsLatestValuePerKeyAndDropsTombstonesAfterDeleteRetention(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	cfg := compactConfig()
	l := openLog(t, dir, cfg, Options{Now: clock.Now})

	latest := map[string]latestWrite{}
	seq := 0
	writeUpdates(t, l, clock, 100_000, 1000, 100, &seq, latest)
	var tombs []KeyValue
	for k := 0; k < 100; k++ {
		tombs = append(tombs, KeyValue{Key: fmt.Appendf(nil, "key-%d", k)})
	}
	res := mustAppend(t, l, EncodeBatch(clock.Now().UnixMilli(), tombs), 0)
	for j, kv := range tombs {
		latest[string(kv.Key)] = latestWrite{res.BaseOffset + int64(j), nil}
	}
	rollForTest(t, l)
	leo := l.LogEndOffset()
	before, segsBefore := l.Size(), l.NumSegments()
	if segsBefore < 20 {
		t.Fatalf("only %d segments; the test wants many", segsBefore)
	}
	if r := l.DirtyRatio(); r != 1 {
		t.Fatalf("dirty ratio before the first clean = %v, want 1", r)
	}

	st, err := l.Clean(clock.Now())
	if err != nil || !st.Cleaned {
		t.Fatalf("Clean = %+v, %v", st, err)
	}
	t.Logf("cleaned %d records (%d bytes) in %v: %.0f records/s; %d segments → %d, %d bytes → %d",
		st.RecordsRead, st.BytesRead, st.Duration, float64(st.RecordsRead)/st.Duration.Seconds(),
		segsBefore, l.NumSegments(), before, l.Size())
	if st.RecordsRetained != 1000 || st.EndOffset != leo || l.FirstDirtyOffset() != leo {
		t.Fatalf("stats %+v, first dirty offset %d, want 1000 retained up to %d", st, l.FirstDirtyOffset(), leo)
	}
	if l.LogEndOffset() != leo || l.LogStartOffset() != 0 {
		t.Fatalf("offsets moved: log end %d, log start %d", l.LogEndOffset(), l.LogStartOffset())
	}
	got := scanAll(t, l)
	checkLatest(t, got, latest)
	if l.DirtyRatio() != 0 {
		t.Fatalf("dirty ratio after clean = %v", l.DirtyRatio())
	}
	if st, err := l.Clean(clock.Now()); err != nil || st.Cleaned {
		t.Fatalf("second Clean with nothing dirty = %+v, %v", st, err)
	}

	// A few more updates (of live keys): below min.cleanable.dirty.ratio, so not due.
	seq += 499
	writeUpdates(t, l, clock, 10, 1000, 10, &seq, latest)
	rollForTest(t, l)
	if r := l.DirtyRatio(); r <= 0 || r >= 0.5 {
		t.Fatalf("dirty ratio %v, want small", r)
	}
	if st, err := l.Clean(clock.Now()); err != nil || st.Cleaned {
		t.Fatalf("Clean below the dirty ratio = %+v, %v", st, err)
	}

	// The tombstones survive a reopen, and delete.retention.ms later a pass drops them.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Duration(cfg.DeleteRetentionMs-1) * time.Millisecond)
	l = openLog(t, dir, cfg, Options{Now: clock.Now})
	if st, err := l.Clean(clock.Now()); err != nil || st.Cleaned {
		t.Fatalf("Clean before delete.retention.ms = %+v, %v", st, err)
	}
	if got := scanAll(t, l); len(got) != 1010 {
		t.Fatalf("%d records after reopening, want the 1000 cleaned ones and 10 dirty ones", len(got))
	}
	clock.Advance(time.Millisecond)
	st, err = l.Clean(clock.Now())
	if err != nil || !st.Cleaned || st.TombstonesDropped != 100 {
		t.Fatalf("Clean after delete.retention.ms = %+v, %v", st, err)
	}
	for k := range 100 {
		delete(latest, fmt.Sprintf("key-%d", k))
	}
	if len(latest) != 900 {
		t.Fatalf("test wants 900 live keys, has %d", len(latest))
	}
	checkLatest(t, scanAll(t, l), latest)
}

func TestCleanNeverTouchesTheActiveSegment(t *testing.T) {
	clock := &fakeClock{}
	l := openLog(t, t.TempDir(), compactConfig(), Options{Now: clock.Now})
	latest := map[string]latestWrite{}
	seq := 0
	writeUpdates(t, l, clock, 2000, 10, 50, &seq, latest)
	rollForTest(t, l)
	activeFrom := l.LogEndOffset()
	writeUpdates(t, l, clock, 500, 10, 50, &seq, map[string]latestWrite{})
	active, size := l.active(), l.active().size.Load()

	if st, err := l.Clean(clock.Now()); err != nil || !st.Cleaned {
		t.Fatalf("Clean = %+v, %v", st, err)
	}
	if l.active() != active || active.size.Load() != size {
		t.Fatal("the active segment changed")
	}
	var inActive int
	for _, r := range scanAll(t, l) {
		if r.offset >= activeFrom {
			inActive++
		}
	}
	if inActive != 500 {
		t.Fatalf("%d records left in the active segment, want all 500", inActive)
	}
}

func TestCleanKeepsRecordsYoungerThanMinCompactionLag(t *testing.T) {
	clock := &fakeClock{}
	clock.ms.Store(1_000_000)
	cfg := compactConfig()
	cfg.MinCompactionLagMs = time.Minute.Milliseconds()
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	old := map[string]latestWrite{}
	seq := 0
	writeUpdates(t, l, clock, 3000, 10, 100, &seq, old)
	rollForTest(t, l)
	young := l.LogEndOffset()
	clock.Advance(2 * time.Minute)
	writeUpdates(t, l, clock, 3000, 10, 100, &seq, map[string]latestWrite{})
	rollForTest(t, l)
	clock.Advance(30 * time.Second) // the young records are 30 s old, below the lag

	st, err := l.Clean(clock.Now())
	if err != nil || !st.Cleaned || st.EndOffset != young {
		t.Fatalf("Clean = %+v, %v; want the section to end at %d", st, err, young)
	}
	var below []keptRecord
	var above int
	for _, r := range scanAll(t, l) {
		if r.offset < young {
			below = append(below, r)
		} else {
			above++
		}
	}
	checkLatest(t, below, old)
	if above != 3000 {
		t.Fatalf("%d records younger than min.compaction.lag.ms left, want 3000", above)
	}
}

// kvRecords encodes records with keys and values, timestamp delta i, for a hand-made batch.
func kvRecords(recs []KeyValue) []byte {
	var out []byte
	for i, kv := range recs {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: kv.Key, Value: kv.Value}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		out = r.AppendTo(out)
	}
	return out
}

func TestCleanCompressedBatchesKeepsTheirCodecAndProducerSequence(t *testing.T) {
	for codec, name := range map[int]string{1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"} {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{}
			clock.ms.Store(5_000)
			l := openLog(t, t.TempDir(), compactConfig(), Options{Now: clock.Now})
			latest := map[string]latestWrite{}
			for j := 0; j < 40; j++ {
				var recs []KeyValue
				for i := 0; i < 10; i++ {
					recs = append(recs, KeyValue{Key: fmt.Appendf(nil, "k%d", (j*7+i*3)%25), Value: fmt.Appendf(nil, "%s-%d-%d", name, j, i)})
				}
				spec := batchSpec{records: 10, firstTs: 5_000 + int64(j)*10, attributes: int16(codec), producerID: 7, firstSeq: int32(j * 10)}
				res := mustAppend(t, l, makeBatchFromRecords(spec, compress(t, codec, kvRecords(recs))), 0)
				for i, kv := range recs {
					latest[string(kv.Key)] = latestWrite{res.BaseOffset + int64(i), kv.Value}
				}
			}
			rollForTest(t, l)
			st, err := l.Clean(clock.Now())
			if err != nil || !st.Cleaned {
				t.Fatalf("Clean = %+v, %v", st, err)
			}
			checkLatest(t, scanAll(t, l), latest)
			rebuilt := 0
			for _, s := range l.segmentsSnapshot() {
				err := s.forEachBatch(0, func(h BatchHeader, _ int64) bool {
					if h.Compression() != codec {
						t.Errorf("batch at %d has codec %d, want %d", h.BaseOffset, h.Compression(), codec)
					}
					// The producer wrote sequence == offset; a rebuilt batch keeps that.
					if int64(h.FirstSequence) != h.BaseOffset || h.ProducerID != 7 {
						t.Errorf("batch at %d: producer %d first sequence %d", h.BaseOffset, h.ProducerID, h.FirstSequence)
					}
					if h.NumRecords < 10 {
						rebuilt++
					}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if rebuilt == 0 {
				t.Fatal("no batch was rebuilt; the test wants partial batches")
			}
		})
	}
}

// checkBatches verifies that b holds whole, CRC-valid batches with well-formed records.
func checkBatches(b []byte) error {
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			return err
		}
		if h.Size() > int64(len(b)) || h.Length < minLength {
			return fmt.Errorf("batch at %d: length %d overruns %d bytes", h.BaseOffset, h.Length, len(b))
		}
		batch := b[:h.Size()]
		if batchCRC(batch) != h.CRC {
			return fmt.Errorf("batch at %d: bad crc", h.BaseOffset)
		}
		recs := batch[BatchHeaderSize:]
		if h.Compression() != 0 {
			if recs, err = decompress(h.Compression(), recs); err != nil {
				return err
			}
		}
		var deltas []int64
		if err := forEachCleanerRecord(recs, h.NumRecords, func(r *cleanerRecord) error {
			deltas = append(deltas, r.offsetDelta)
			return nil
		}); err != nil {
			return err
		}
		if len(deltas) == 0 || deltas[len(deltas)-1] != int64(h.LastOffsetDelta) {
			return fmt.Errorf("batch at %d: deltas %v, last offset delta %d", h.BaseOffset, deltas, h.LastOffsetDelta)
		}
		b = b[h.Size():]
	}
	return nil
}

func TestReadsDuringCleanNeverSeeACorruptBatch(t *testing.T) {
	clock := &fakeClock{}
	cfg := compactConfig()
	cfg.SegmentBytes = 16 << 10
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	seq := 0
	writeUpdates(t, l, clock, 20_000, 200, 50, &seq, map[string]latestWrite{})
	rollForTest(t, l)

	var stop atomic.Bool
	var reads, failedReads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for !stop.Load() {
				for off := l.LogStartOffset(); off < l.LogEndOffset(); {
					c, err := l.Read(off, 8<<10, l.LogEndOffset())
					if err == nil {
						buf, err = c.ReadInto(buf[:0])
					}
					if err != nil {
						failedReads.Add(1) // allowed: a replaced segment may fail, never lie
						break
					}
					if c.Size == 0 {
						break
					}
					if err := checkBatches(buf); err != nil {
						errs <- fmt.Errorf("read at %d: %w", off, err)
						return
					}
					reads.Add(1)
					off = c.NextOffset()
				}
			}
		}()
	}
	// Appends go on during the passes too.
	wg.Add(1)
	var appendErr error
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && i < 2000; i++ {
			if _, err := l.Append(EncodeBatch(clock.Now().UnixMilli(), []KeyValue{{Key: []byte("live"), Value: []byte("x")}}), 0); err != nil {
				appendErr = err
				return
			}
		}
	}()
	for pass := 0; pass < 5; pass++ {
		writeUpdates(t, l, clock, 4000, 200, 50, &seq, map[string]latestWrite{})
		rollForTest(t, l)
		if _, err := l.Clean(clock.Now()); err != nil {
			t.Fatalf("Clean: %v", err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if appendErr != nil {
		t.Fatal(appendErr)
	}
	t.Logf("%d good reads, %d failed reads during 5 passes", reads.Load(), failedReads.Load())
}

// crashFS wraps the OS filesystem and fails one operation the way a crash would stop it.
type crashFS struct {
	FS
	failRename func(oldpath, newpath string) bool
	failRemove func(name string) bool
}

var errCrash = errors.New("simulated crash")

func (f *crashFS) Rename(oldpath, newpath string) error {
	if f.failRename != nil && f.failRename(oldpath, newpath) {
		return errCrash
	}
	return f.FS.Rename(oldpath, newpath)
}

func (f *crashFS) Remove(name string) error {
	if f.failRemove != nil && f.failRemove(name) {
		return errCrash
	}
	return f.FS.Remove(name)
}

// filledLog writes updates (with a tombstone) into closed segments, cleans once, writes as much
// again (so the next pass merges small cleaned segments into groups) and returns the latest
// writes. fs's failures are armed (by arm) only after the first pass.
func filledLog(t *testing.T, dir string, fs *crashFS, arm func(*crashFS)) (*Log, *fakeClock, map[string]latestWrite) {
	t.Helper()
	clock := &fakeClock{}
	l := openLog(t, dir, compactConfig(), Options{Now: clock.Now, FS: fs})
	latest := map[string]latestWrite{}
	seq := 0
	writeUpdates(t, l, clock, 20_000, 300, 100, &seq, latest)
	res := mustAppend(t, l, EncodeBatch(clock.Now().UnixMilli(), []KeyValue{{Key: []byte("key-1")}}), 0)
	latest["key-1"] = latestWrite{res.BaseOffset, nil}
	rollForTest(t, l)
	if st, err := l.Clean(clock.Now()); err != nil || !st.Cleaned {
		t.Fatalf("first Clean = %+v, %v", st, err)
	}
	writeUpdates(t, l, clock, 20_000, 300, 100, &seq, latest)
	rollForTest(t, l)
	arm(fs)
	mustAppend(t, l, EncodeBatch(clock.Now().UnixMilli(), []KeyValue{{Key: []byte("active"), Value: []byte("a")}}), 0)
	latest["active"] = latestWrite{l.LogEndOffset() - 1, []byte("a")}
	return l, clock, latest
}

func withSuffix(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenDeletesACleanedFileLeftByACrash(t *testing.T) {
	dir := t.TempDir()
	// The crash comes before the .cleaned file becomes a .swap.
	l, _, _ := filledLog(t, dir, &crashFS{FS: OSFS()}, func(fs *crashFS) {
		fs.failRename = func(oldpath, _ string) bool { return strings.HasSuffix(oldpath, cleanedSuffix) }
		fs.failRemove = func(name string) bool { return strings.HasSuffix(name, cleanedSuffix) }
	})
	before := scanAll(t, l)
	if _, err := l.Clean(l.now()); !errors.Is(err, errCrash) {
		t.Fatalf("Clean = %v, want the simulated crash", err)
	}
	crash(l)
	if len(withSuffix(t, dir, cleanedSuffix)) == 0 {
		t.Fatal("the crash left no .cleaned file")
	}

	l = openLog(t, dir, compactConfig(), Options{})
	if m := withSuffix(t, dir, cleanedSuffix); len(m) != 0 {
		t.Fatalf("Open left %v", m)
	}
	after := scanAll(t, l)
	if len(after) != len(before) {
		t.Fatalf("%d records after reopening, want the %d uncleaned ones", len(after), len(before))
	}
	if st, err := l.Clean(l.now()); err != nil || !st.Cleaned {
		t.Fatalf("Clean after reopen = %+v, %v", st, err)
	}
}

func TestOpenCompletesASwapLeftByACrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   func(fs *crashFS)
	}{
		// Old segment files all still there: the crash came right after the .swap rename.
		{"before removing old segments", func(fs *crashFS) {
			fs.failRemove = func(name string) bool { return strings.HasSuffix(name, indexSuffix) }
		}},
		// Old segment files gone: the .swap file is the group's only copy.
		{"after removing old segments", func(fs *crashFS) {
			fs.failRename = func(oldpath, _ string) bool { return strings.HasSuffix(oldpath, swapSuffix) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _, latest := filledLog(t, dir, &crashFS{FS: OSFS()}, tc.fs)
			if _, err := l.Clean(l.now()); !errors.Is(err, errCrash) {
				t.Fatalf("Clean = %v, want the simulated crash", err)
			}
			crash(l)
			if len(withSuffix(t, dir, swapSuffix)) != 1 {
				t.Fatalf("want one .swap file, have %v", withSuffix(t, dir, swapSuffix))
			}

			l = openLog(t, dir, compactConfig(), Options{})
			if m := withSuffix(t, dir, swapSuffix); len(m) != 0 {
				t.Fatalf("Open left %v", m)
			}
			// The first group is compacted, the rest of the log is as written: every key's latest
			// write is there, at its offset, and offsets increase.
			got := scanAll(t, l)
			byKey := map[string]keptRecord{}
			for _, r := range got {
				byKey[r.key] = r
			}
			for k, w := range latest {
				r, ok := byKey[k]
				if !ok || r.offset != w.offset || !bytes.Equal(r.value, w.value) {
					t.Fatalf("key %q: got %+v, want offset %d value %q", k, r, w.offset, w.value)
				}
			}
			if st, err := l.Clean(l.now()); err != nil || !st.Cleaned {
				t.Fatalf("Clean after reopen = %+v, %v", st, err)
			}
			checkLatest(t, scanAll(t, l), latest)
		})
	}
}

func TestCleanDropsAGroupThatRetentionDeletedMeanwhile(t *testing.T) {
	clock := &fakeClock{}
	l := openLog(t, t.TempDir(), compactConfig(), Options{Now: clock.Now})
	seq := 0
	writeUpdates(t, l, clock, 5000, 50, 100, &seq, map[string]latestWrite{})
	rollForTest(t, l)
	segs := l.segmentsSnapshot()
	g := groupSegments(segs[:len(segs)-1], segs[len(segs)-1].baseOffset, 1<<30)[0]
	swap := filepath.Join(l.dir, segmentName(g.segs[0].baseOffset)+logSuffix+swapSuffix)
	if err := os.WriteFile(swap, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRecordsBefore(segs[1].baseOffset); err != nil {
		t.Fatal(err)
	}
	ok, err := l.swapIn(g, newSegment(l.dir, g.segs[0].baseOffset), swap)
	if ok || err != nil {
		t.Fatalf("swapIn of a deleted group = %v, %v", ok, err)
	}
	if _, err := os.Stat(swap); !os.IsNotExist(err) {
		t.Fatalf("swap file left: %v", err)
	}
	if l.NumSegments() != len(segs)-1 {
		t.Fatalf("%d segments, want %d", l.NumSegments(), len(segs)-1)
	}
}

func BenchmarkClean100kRecords(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		clock := &fakeClock{}
		l := openLog(b, b.TempDir(), compactConfig(), Options{Now: clock.Now})
		seq := 0
		writeUpdates(b, l, clock, 100_000, 1000, 100, &seq, map[string]latestWrite{})
		rollForTest(b, l)
		b.StartTimer()
		st, err := l.Clean(clock.Now())
		if err != nil || !st.Cleaned {
			b.Fatalf("Clean = %+v, %v", st, err)
		}
		b.ReportMetric(float64(st.RecordsRead)/st.Duration.Seconds(), "records/s")
		b.ReportMetric(float64(st.BytesRead)/st.Duration.Seconds()/1e6, "MB/s")
	}
}

func TestCleanRacingRetentionKeepsTheLogReadable(t *testing.T) {
	clock := &fakeClock{}
	cfg := compactConfig()
	cfg.Delete = true
	cfg.SegmentBytes = 16 << 10
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	latest := map[string]latestWrite{}
	seq := 0
	for round := 0; round < 6; round++ {
		writeUpdates(t, l, clock, 5000, 400, 50, &seq, latest)
		rollForTest(t, l)
		done := make(chan error, 1)
		go func() {
			_, err := l.Clean(clock.Now())
			done <- err
		}()
		segs := l.segmentsSnapshot()
		if _, err := l.DeleteRecordsBefore(segs[len(segs)/3].baseOffset); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Clean: %v", err)
		}
	}
	if st, err := l.Clean(clock.Now()); err != nil {
		t.Fatalf("Clean = %+v, %v", st, err)
	}
	got := scanAll(t, l)
	byKey := map[string]keptRecord{}
	for _, r := range got {
		if _, dup := byKey[r.key]; dup {
			t.Fatalf("key %q twice after a full clean", r.key)
		}
		byKey[r.key] = r
	}
	for k, w := range latest {
		if w.offset < l.LogStartOffset() {
			continue
		}
		if r, ok := byKey[k]; !ok || r.offset != w.offset || !bytes.Equal(r.value, w.value) {
			t.Fatalf("key %q: got %+v, want offset %d value %q", k, r, w.offset, w.value)
		}
	}
}

// A pass that loses a group to retention (its first segment deleted between the rewrite and the
// swap) must leave the group's other segments dirty, so the next pass still removes their
// duplicate keys.
func TestCleanThatLosesAGroupToRetentionLeavesTheRestDirty(t *testing.T) {
	clock := &fakeClock{}
	cfg := compactConfig()
	cfg.Delete = true
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	latest := map[string]latestWrite{}
	seq := 0
	for range 4 { // small segments: one cleaning group
		writeUpdates(t, l, clock, 200, 20, 10, &seq, latest)
		rollForTest(t, l)
	}
	testHookBeforeSwap = func(g segmentGroup) {
		testHookBeforeSwap = nil
		if len(g.segs) < 2 {
			t.Errorf("group of %d segments, want several for this test", len(g.segs))
			return
		}
		if _, err := l.DeleteRecordsBefore(g.segs[1].baseOffset); err != nil {
			t.Errorf("DeleteRecordsBefore: %v", err)
		}
	}
	t.Cleanup(func() { testHookBeforeSwap = nil })
	if st, err := l.Clean(clock.Now()); err != nil || !st.Cleaned {
		t.Fatalf("first Clean = %+v, %v", st, err)
	}
	if _, err := l.Clean(clock.Now()); err != nil {
		t.Fatalf("second Clean: %v", err)
	}
	seen := map[string]int64{}
	for _, r := range scanAll(t, l) {
		if prev, dup := seen[r.key]; dup {
			t.Fatalf("key %q at offsets %d and %d after the second clean", r.key, prev, r.offset)
		}
		seen[r.key] = r.offset
	}
}
