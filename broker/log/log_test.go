package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendReadRoundTripAcrossManySegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	cfg.IndexIntervalBytes = 256
	l := openLog(t, t.TempDir(), cfg, Options{})
	var want []testRecord
	for i := 0; i < 200; i++ {
		n := 1 + i%5
		res := mustAppend(t, l, makeBatch(batchSpec{records: n, valueSize: 40, tag: fmt.Sprint(i)}), 0)
		if res.Records != int64(n) || res.LastOffset-res.BaseOffset != int64(n-1) {
			t.Fatalf("append %d: %+v", i, res)
		}
		for j := 0; j < n; j++ {
			want = append(want, testRecord{res.BaseOffset + int64(j), 1000 + int64(j), fmt.Sprintf("%d-%d", i, j)})
		}
	}
	if l.NumSegments() < 10 {
		t.Fatalf("expected many segments, got %d", l.NumSegments())
	}
	if got := l.LogEndOffset(); got != int64(len(want)) {
		t.Fatalf("LEO %d, want %d", got, len(want))
	}
	got := readAll(t, l, 0, l.LogEndOffset())
	assertRecords(t, got, want)
	// Every offset can start a read, and the chunk starts at the batch holding it.
	for off := int64(0); off < l.LogEndOffset(); off += 7 {
		c, err := l.Read(off, 1, l.LogEndOffset())
		if err != nil || c.Size == 0 {
			t.Fatalf("Read(%d): %v size %d", off, err, c.Size)
		}
		b, _ := c.ReadInto(nil)
		recs := decodeBatches(t, b)
		if recs[0].offset > off || recs[len(recs)-1].offset < off {
			t.Fatalf("Read(%d) returned offsets %d..%d", off, recs[0].offset, recs[len(recs)-1].offset)
		}
	}
}

func assertRecords(t *testing.T, got, want []testRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].offset != want[i].offset || got[i].value != want[i].value {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadHonoursMaxBytesMaxOffsetAndBounds(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	var sizes []int
	for i := 0; i < 5; i++ {
		b := makeBatch(batchSpec{records: 2, valueSize: 100})
		sizes = append(sizes, len(b))
		mustAppend(t, l, b, 0)
	}
	// KIP-74: one whole batch even when larger than maxBytes.
	c, err := l.Read(0, 1, 10)
	if err != nil || c.Size != sizes[0] || c.NextOffset() != 2 {
		t.Fatalf("Read small maxBytes: %+v %v", c, err)
	}
	c, _ = l.Read(0, sizes[0]+sizes[1]+10, 10)
	if c.Size != sizes[0]+sizes[1] || c.NextOffset() != 4 {
		t.Fatalf("Read two batches: %+v", c)
	}
	// Never a batch whose base offset is at or beyond maxOffset.
	c, _ = l.Read(0, 1<<20, 4)
	if c.Size != sizes[0]+sizes[1] || c.NextOffset() != 4 {
		t.Fatalf("Read up to maxOffset 4: %+v", c)
	}
	c, err = l.Read(4, 1<<20, 4)
	if err != nil || c.Size != 0 {
		t.Fatalf("Read at maxOffset: %+v %v", c, err)
	}
	c, err = l.Read(10, 1<<20, 10)
	if err != nil || c.Size != 0 || c.NextOffset() != 10 {
		t.Fatalf("Read at LEO: %+v %v", c, err)
	}
	if _, err := l.Read(11, 1<<20, 20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read beyond LEO: %v", err)
	}
	if _, err := l.Read(-1, 1<<20, 20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	// Reading from the middle of a batch returns the whole batch.
	c, _ = l.Read(3, 1, 10)
	b, _ := c.ReadInto(nil)
	if recs := decodeBatches(t, b); recs[0].offset != 2 {
		t.Fatalf("Read(3) starts at %d", recs[0].offset)
	}
}

func TestSegmentRollsAfterSegmentMs(t *testing.T) {
	clock := &fakeClock{}
	clock.ms.Store(1_000_000)
	cfg := testConfig()
	cfg.SegmentMs = 1000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
	clock.Advance(999 * time.Millisecond)
	mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("rolled too early: %d segments", n)
	}
	clock.Advance(time.Millisecond)
	res := mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("want a roll after segment.ms: %d segments", n)
	}
	if _, err := os.Stat(filepath.Join(l.dir, segmentName(res.BaseOffset)+logSuffix)); err != nil {
		t.Fatalf("new segment file: %v", err)
	}
}

func TestReopenKeepsRecordsAndContinuesOffsets(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1024
	l := openLog(t, dir, cfg, Options{})
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 3, valueSize: 30, tag: fmt.Sprint(i)}), 1)
	}
	want := readAll(t, l, 0, l.LogEndOffset())
	segs := l.NumSegments()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatalf("no clean shutdown marker: %v", err)
	}
	l2 := openLog(t, dir, cfg, Options{})
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean shutdown marker still there after Open: %v", err)
	}
	if l2.LogEndOffset() != 90 || l2.HighWatermark() != 90 || l2.NumSegments() != segs {
		t.Fatalf("after reopen LEO %d HW %d segments %d", l2.LogEndOffset(), l2.HighWatermark(), l2.NumSegments())
	}
	assertRecords(t, readAll(t, l2, 0, 90), want)
	res := mustAppend(t, l2, makeBatch(batchSpec{records: 2}), 1)
	if res.BaseOffset != 90 {
		t.Fatalf("append after reopen at %d, want 90", res.BaseOffset)
	}
	if l2.LatestEpoch() != 1 {
		t.Fatalf("latest epoch %d", l2.LatestEpoch())
	}
}

func TestRecoveryTruncatesTornLastBatch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	for i := 0; i < 5; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 2, valueSize: 50, tag: fmt.Sprint(i)}), 0)
	}
	want := readAll(t, l, 0, 8)
	crash(l)
	name := filepath.Join(dir, segmentName(0)+logSuffix)
	fi, _ := os.Stat(name)
	lastSize := len(makeBatch(batchSpec{records: 2, valueSize: 50, tag: "4"}))
	if err := os.Truncate(name, fi.Size()-int64(lastSize/2)); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, testConfig(), Options{})
	if l2.LogEndOffset() != 8 {
		t.Fatalf("LEO after torn write recovery %d, want 8", l2.LogEndOffset())
	}
	assertRecords(t, readAll(t, l2, 0, 8), want)
	res := mustAppend(t, l2, makeBatch(batchSpec{records: 1, tag: "after"}), 0)
	if res.BaseOffset != 8 {
		t.Fatalf("append after recovery at %d", res.BaseOffset)
	}
	got := readAll(t, l2, 0, 9)
	if got[8].value != "after-0" {
		t.Fatalf("last record %+v", got[8])
	}
}

func TestRecoveryTruncatesTrailingGarbageAndCorruptBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string, sizes []int)
		wantLEO int64
	}{
		{"garbage appended", func(t *testing.T, path string, _ []int) {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(bytes.Repeat([]byte{0xAB}, 100))
			f.Close()
		}, 6},
		{"zeros appended", func(t *testing.T, path string, _ []int) {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 4096))
			f.Close()
		}, 6},
		{"bit flip in third batch", func(t *testing.T, path string, sizes []int) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			pos := int64(sizes[0] + sizes[1] + 70)
			var b [1]byte
			f.ReadAt(b[:], pos)
			b[0] ^= 0xFF
			f.WriteAt(b[:], pos)
			f.Close()
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, testConfig(), Options{})
			var sizes []int
			for i := 0; i < 3; i++ {
				b := makeBatch(batchSpec{records: 2, valueSize: 50, tag: fmt.Sprint(i)})
				sizes = append(sizes, len(b))
				mustAppend(t, l, b, 0)
			}
			crash(l)
			tc.corrupt(t, filepath.Join(dir, segmentName(0)+logSuffix), sizes)
			l2 := openLog(t, dir, testConfig(), Options{})
			if l2.LogEndOffset() != tc.wantLEO {
				t.Fatalf("LEO %d, want %d", l2.LogEndOffset(), tc.wantLEO)
			}
			readAll(t, l2, 0, tc.wantLEO)
			if res := mustAppend(t, l2, makeBatch(batchSpec{records: 1}), 0); res.BaseOffset != tc.wantLEO {
				t.Fatalf("append at %d", res.BaseOffset)
			}
		})
	}
}

func TestMissingOrCorruptIndexIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 128
	l := openLog(t, dir, cfg, Options{})
	for i := 0; i < 100; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 2, valueSize: 30, firstTs: int64(10_000 + i*10), tag: fmt.Sprint(i)}), 0)
	}
	want := readAll(t, l, 0, l.LogEndOffset())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, segmentName(0)+indexSuffix))
	os.Remove(filepath.Join(dir, segmentName(0)+timeIndexSuffix))
	// Second segment: a garbage (preallocated-looking) index.
	entries, _ := os.ReadDir(dir)
	var second string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == indexSuffix && e.Name() != segmentName(0)+indexSuffix {
			second = e.Name()
			break
		}
	}
	os.WriteFile(filepath.Join(dir, second), make([]byte, 80), 0o644)

	l2 := openLog(t, dir, cfg, Options{})
	assertRecords(t, readAll(t, l2, 0, l2.LogEndOffset()), want)
	if _, err := os.Stat(filepath.Join(dir, segmentName(0)+indexSuffix)); err != nil {
		t.Fatalf("index not rewritten: %v", err)
	}
	off, ts, _, err := l2.OffsetForTimestamp(10_000 + 50*10 + 1)
	if err != nil || off != 101 || ts != 10_501 {
		t.Fatalf("OffsetForTimestamp after rebuild: %d %d %v", off, ts, err)
	}
}

func TestAppendRejectsInvalidBatchesAndAppendsNothing(t *testing.T) {
	good := makeBatch(batchSpec{records: 3})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	countMismatch := makeBatch(batchSpec{records: 3})
	binary.BigEndian.PutUint32(countMismatch[57:], 4)
	fixCRC(countMismatch)
	deltaMismatch := makeBatch(batchSpec{records: 3})
	binary.BigEndian.PutUint32(deltaMismatch[23:], 1)
	fixCRC(deltaMismatch)
	zeroRecords := makeBatch(batchSpec{records: 1})
	binary.BigEndian.PutUint32(zeroRecords[57:], 0)
	binary.BigEndian.PutUint32(zeroRecords[23:], 0xFFFFFFFF)
	fixCRC(zeroRecords)
	badRecord := makeBatch(batchSpec{records: 2})
	badRecord[61] = 0x7F // first record's length runs past the batch
	fixCRC(badRecord)
	magic1 := make([]byte, 40)
	magic1[16] = 1

	cases := []struct {
		name    string
		batches []byte
		compact bool
		want    error
	}{
		{"crc mismatch", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), false, ErrCorruptMessage},
		{"magic 1", magic1, false, ErrUnsupportedMessageFormat},
		{"magic 0 short", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0}, false, ErrUnsupportedMessageFormat},
		{"shorter than a header", good[:40], false, ErrCorruptMessage},
		{"length overruns", good[:len(good)-1], false, ErrCorruptMessage},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), false, ErrCorruptMessage},
		{"empty", nil, false, ErrCorruptMessage},
		{"count mismatch", countMismatch, false, ErrInvalidRecord},
		{"last offset delta mismatch", deltaMismatch, false, ErrInvalidRecord},
		{"zero records", zeroRecords, false, ErrInvalidRecord},
		{"record overruns", badRecord, false, ErrInvalidRecord},
		{"too large", makeBatch(batchSpec{records: 1, valueSize: 2000}), false, ErrMessageTooLarge},
		{"null key on compacted topic", makeBatch(batchSpec{records: 2, nullKeys: true}), true, ErrInvalidRecord},
		{"good then bad", append(append([]byte(nil), good...), mod(func(b []byte) []byte { b[70] ^= 1; return b })...), false, ErrCorruptMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxMessageBytes = 1000
			cfg.Compact = tc.compact
			l := openLog(t, t.TempDir(), cfg, Options{})
			mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
			size := l.Size()
			_, err := l.Append(tc.batches, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if l.LogEndOffset() != 1 || l.Size() != size {
				t.Fatalf("something was appended: LEO %d size %d", l.LogEndOffset(), l.Size())
			}
		})
	}
}

func TestCompactedTopicAcceptsKeyedRecordsIncludingCompressed(t *testing.T) {
	cfg := testConfig()
	cfg.Compact = true
	l := openLog(t, t.TempDir(), cfg, Options{})
	mustAppend(t, l, makeBatch(batchSpec{records: 3}), 0)
	for codec := int16(1); codec <= 4; codec++ {
		for _, nullKeys := range []bool{false, true} {
			s := batchSpec{records: 3, nullKeys: nullKeys, attributes: codec}
			b := makeBatchFromRecords(s, compress(t, int(codec), encodeRecords(s)))
			_, err := l.Append(b, 0)
			if nullKeys && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("codec %d null keys: %v", codec, err)
			}
			if !nullKeys && err != nil {
				t.Fatalf("codec %d: %v", codec, err)
			}
		}
	}
	if l.LogEndOffset() != 15 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

func TestRetentionByTimeMovesLogStart(t *testing.T) {
	clock := &fakeClock{}
	clock.ms.Store(100_000)
	cfg := testConfig()
	cfg.SegmentBytes = 500
	cfg.RetentionMs = 10_000
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 2, valueSize: 60, firstTs: int64(50_000 + i*1000)}), 0)
	}
	l.SetHighWatermark(l.LogEndOffset())
	segs := l.NumSegments()
	// now=100s, retention 10s: everything with max timestamp < 90s is expired: all of it.
	clock.ms.Store(80_000)
	n, err := l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || l.LogStartOffset() == 0 {
		t.Fatalf("nothing deleted: %d segments of %d, log start %d", n, segs, l.LogStartOffset())
	}
	ls := l.LogStartOffset()
	if _, err := l.Read(ls-1, 1<<20, l.LogEndOffset()); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below log start: %v", err)
	}
	readAll(t, l, ls, l.LogEndOffset())
	// Everything expired: the active segment is rolled and deleted too, leaving one empty segment.
	clock.ms.Store(200_000)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 1 || l.LogStartOffset() != 40 || l.Size() != 0 {
		t.Fatalf("after full expiry: %d segments, log start %d, size %d", l.NumSegments(), l.LogStartOffset(), l.Size())
	}
	if res := mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0); res.BaseOffset != 40 {
		t.Fatalf("append at %d", res.BaseOffset)
	}
}

func TestRetentionBySizeKeepsAtLeastRetentionBytes(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 500
	cfg.RetentionBytes = 1500
	l := openLog(t, t.TempDir(), cfg, Options{})
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 1, valueSize: 100}), 0)
	}
	// Nothing goes above the high watermark.
	l.SetHighWatermark(0)
	if n, _ := l.EnforceRetention(); n != 0 {
		t.Fatalf("deleted %d segments above the high watermark", n)
	}
	l.SetHighWatermark(l.LogEndOffset())
	n, err := l.EnforceRetention()
	if err != nil || n == 0 {
		t.Fatalf("EnforceRetention: %d %v", n, err)
	}
	if l.Size() < 1500 || l.Size() > 1500+500 {
		t.Fatalf("size after retention %d", l.Size())
	}
	if _, err := l.Read(0, 100, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(0): %v", err)
	}
	cfg.Delete = false
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if n, _ := l.EnforceRetention(); n != 0 {
		t.Fatalf("retention without cleanup.policy=delete deleted %d", n)
	}
}

func TestDeleteRecordsBeforePersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 500
	l := openLog(t, dir, cfg, Options{})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 2, valueSize: 60}), 3)
	}
	if _, err := l.DeleteRecordsBefore(50); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond HW: %v", err)
	}
	l.SetHighWatermark(30)
	segs := l.NumSegments()
	ls, err := l.DeleteRecordsBefore(13)
	if err != nil || ls != 13 || l.LogStartOffset() != 13 {
		t.Fatalf("DeleteRecordsBefore: %d %v", ls, err)
	}
	if l.NumSegments() >= segs {
		t.Fatal("no segment deleted")
	}
	if _, err := l.Read(12, 100, 40); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(12): %v", err)
	}
	got := readAll(t, l, 13, 40)
	if got[0].offset != 13 {
		t.Fatalf("first offset %d", got[0].offset)
	}
	crash(l)
	l2 := openLog(t, dir, cfg, Options{})
	if l2.LogStartOffset() != 13 {
		t.Fatalf("log start after reopen %d", l2.LogStartOffset())
	}
	if _, err := l2.Read(12, 100, 40); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(12) after reopen: %v", err)
	}
	if e, off := l2.EndOffsetForEpoch(3); e != 3 || off != 40 {
		t.Fatalf("EndOffsetForEpoch(3) = %d %d", e, off)
	}
}

func TestOffsetForTimestampAndMaxTimestamp(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 600
	cfg.IndexIntervalBytes = 100
	l := openLog(t, t.TempDir(), cfg, Options{})
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("MaxTimestamp of an empty log: %d %d", off, ts)
	}
	if off, _, _, _ := l.OffsetForTimestamp(0); off != -1 {
		t.Fatalf("OffsetForTimestamp on empty log: %d", off)
	}
	// Batch i holds records at 1000+10i, 1000+10i+1, 1000+10i+2 (offsets 3i..3i+2).
	for i := 0; i < 30; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 3, valueSize: 20, firstTs: int64(1000 + 10*i)}), int32(i/10))
	}
	// An out-of-order older batch does not move the max.
	mustAppend(t, l, makeBatch(batchSpec{records: 1, firstTs: 500}), 2)
	for _, tc := range []struct {
		ts        int64
		offset    int64
		timestamp int64
		epoch     int32
	}{
		{0, 0, 1000, 0},
		{1000, 0, 1000, 0},
		{1001, 1, 1001, 0},
		{1003, 3, 1010, 0},
		{1152, 47, 1152, 1},
		{1291, 88, 1291, 2},
		{1292, 89, 1292, 2},
		{1293, -1, -1, -1},
	} {
		off, ts, epoch, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || off != tc.offset || ts != tc.timestamp || epoch != tc.epoch {
			t.Errorf("OffsetForTimestamp(%d) = %d %d %d %v, want %d %d %d", tc.ts, off, ts, epoch, err, tc.offset, tc.timestamp, tc.epoch)
		}
	}
	if off, ts := l.MaxTimestamp(); off != 89 || ts != 1292 {
		t.Fatalf("MaxTimestamp = %d %d", off, ts)
	}
}

func TestLeaderEpochsFollowKafkaSemantics(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	if e, o := l.EndOffsetForEpoch(0); e != -1 || o != -1 || l.LatestEpoch() != -1 {
		t.Fatalf("empty: %d %d", e, o)
	}
	mustAppend(t, l, makeBatch(batchSpec{records: 5}), 2) // epoch 2 at 0
	mustAppend(t, l, makeBatch(batchSpec{records: 5}), 2)
	mustAppend(t, l, makeBatch(batchSpec{records: 5}), 4) // epoch 4 at 10
	mustAppend(t, l, makeBatch(batchSpec{records: 5}), 7) // epoch 7 at 15
	c, _ := l.Read(10, 1, 20)
	b, _ := c.ReadInto(nil)
	if h, _ := ParseBatchHeader(b); h.PartitionLeaderEpoch != 4 || h.BaseOffset != 10 {
		t.Fatalf("stored header %+v", h)
	}
	check := func(l *Log) {
		t.Helper()
		for _, tc := range []struct {
			ask, epoch int32
			end        int64
		}{{7, 7, 20}, {4, 4, 15}, {5, 4, 15}, {2, 2, 10}, {3, 2, 10}, {1, 1, 0}, {8, -1, -1}, {-1, -1, -1}} {
			if e, o := l.EndOffsetForEpoch(tc.ask); e != tc.epoch || o != tc.end {
				t.Errorf("EndOffsetForEpoch(%d) = %d %d, want %d %d", tc.ask, e, o, tc.epoch, tc.end)
			}
		}
		if l.LatestEpoch() != 7 {
			t.Errorf("LatestEpoch %d", l.LatestEpoch())
		}
	}
	check(l)
	crash(l)
	check(openLog(t, dir, testConfig(), Options{}))
}

// TestTruncateToLogEndDropsAnEpochWithNoRecords: a broker that became leader at epoch 3 and wrote
// nothing before losing leadership holds an epoch entry starting at its log end; the follower's
// truncation to that log end must drop it (and persist that), or the follower's fetches keep
// naming an epoch the leader never had and diverge at the same offset forever.
func TestTruncateToLogEndDropsAnEpochWithNoRecords(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, makeBatch(batchSpec{records: 5}), 2)  // epoch 2 at 0
	if err := l.AssignEpochStartOffset(3, 5); err != nil { // led epoch 3, wrote nothing
		t.Fatal(err)
	}
	if l.LatestEpoch() != 3 {
		t.Fatalf("LatestEpoch %d, want 3", l.LatestEpoch())
	}
	if err := l.TruncateTo(5); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if e := l.LatestEpoch(); e != 2 {
			t.Errorf("LatestEpoch after truncating to the log end = %d, want 2", e)
		}
		if e, o := l.EndOffsetForEpoch(2); e != 2 || o != 5 {
			t.Errorf("EndOffsetForEpoch(2) = %d %d, want 2 5", e, o)
		}
		if l.LogEndOffset() != 5 {
			t.Errorf("log end %d, want 5", l.LogEndOffset())
		}
	}
	check(l)
	crash(l)
	check(openLog(t, dir, testConfig(), Options{}))
}

func TestIdempotentProducerDeduplicatesAndRejectsGaps(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0) // offset 0, not idempotent
	first := mustAppend(t, l, makeBatch(batchSpec{records: 3, producerID: 9, firstSeq: 0}), 0)
	mustAppend(t, l, makeBatch(batchSpec{records: 2, producerID: 9, firstSeq: 3}), 0)
	dup, err := l.Append(makeBatch(batchSpec{records: 3, producerID: 9, firstSeq: 0}), 0)
	if err != nil || !dup.Duplicate || dup.BaseOffset != first.BaseOffset || dup.LastOffset != first.LastOffset {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	if l.LogEndOffset() != 6 {
		t.Fatalf("duplicate was appended: LEO %d", l.LogEndOffset())
	}
	if _, err := l.Append(makeBatch(batchSpec{records: 1, producerID: 9, firstSeq: 7}), 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := l.Append(makeBatch(batchSpec{records: 1, producerID: 10, firstSeq: 4}), 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("unknown producer mid-sequence: %v", err)
	}
	if _, err := l.Append(makeBatch(batchSpec{records: 1, producerID: 9, producerEpoch: 1, firstSeq: 5}), 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("new epoch not at 0: %v", err)
	}
	mustAppend(t, l, makeBatch(batchSpec{records: 1, producerID: 9, producerEpoch: 1, firstSeq: 0}), 0)
	if _, err := l.Append(makeBatch(batchSpec{records: 1, producerID: 9, producerEpoch: 0, firstSeq: 5}), 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	// Two batches of one producer in one call are sequenced against each other.
	two := append(makeBatch(batchSpec{records: 2, producerID: 9, producerEpoch: 1, firstSeq: 1}),
		makeBatch(batchSpec{records: 2, producerID: 9, producerEpoch: 1, firstSeq: 3})...)
	mustAppend(t, l, two, 0)
	bad := append(makeBatch(batchSpec{records: 2, producerID: 9, producerEpoch: 1, firstSeq: 5}),
		makeBatch(batchSpec{records: 2, producerID: 9, producerEpoch: 1, firstSeq: 8})...)
	if _, err := l.Append(bad, 0); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap inside one call: %v", err)
	}
	// The rejected call left no state behind: seq 5 is still next.
	mustAppend(t, l, makeBatch(batchSpec{records: 1, producerID: 9, producerEpoch: 1, firstSeq: 5}), 0)
}

func TestSequenceWrapsAtMaxInt32(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	mustAppend(t, l, makeBatch(batchSpec{records: 1, producerID: 1, firstSeq: 0}), 0)
	p := l.producers.producers[1]
	p.batches[0].lastSeq = 1<<31 - 3
	mustAppend(t, l, makeBatch(batchSpec{records: 4, producerID: 1, firstSeq: 1<<31 - 2}), 0) // -2, -1(max), 0, 1
	mustAppend(t, l, makeBatch(batchSpec{records: 1, producerID: 1, firstSeq: 2}), 0)
}

func TestProducerStateSurvivesCleanCloseAndCrash(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 400
			l := openLog(t, dir, cfg, Options{})
			var last AppendResult
			for seq := int32(0); seq < 30; seq += 2 {
				last = mustAppend(t, l, makeBatch(batchSpec{records: 2, valueSize: 30, producerID: 5, producerEpoch: 2, firstSeq: seq}), 0)
			}
			if clean {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crash(l)
			}
			l2 := openLog(t, dir, cfg, Options{})
			dup, err := l2.Append(makeBatch(batchSpec{records: 2, valueSize: 30, producerID: 5, producerEpoch: 2, firstSeq: 28}), 0)
			if err != nil || !dup.Duplicate || dup.BaseOffset != last.BaseOffset {
				t.Fatalf("duplicate after reopen: %+v %v", dup, err)
			}
			if _, err := l2.Append(makeBatch(batchSpec{records: 1, producerID: 5, producerEpoch: 1, firstSeq: 30}), 0); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("old epoch after reopen: %v", err)
			}
			if _, err := l2.Append(makeBatch(batchSpec{records: 1, producerID: 5, producerEpoch: 2, firstSeq: 31}), 0); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap after reopen: %v", err)
			}
			mustAppend(t, l2, makeBatch(batchSpec{records: 1, producerID: 5, producerEpoch: 2, firstSeq: 30}), 0)
		})
	}
}

func TestProducerStateRebuiltWithoutSnapshots(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 400
	l := openLog(t, dir, cfg, Options{})
	for seq := int32(0); seq < 20; seq++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 1, valueSize: 50, producerID: 5, firstSeq: seq}), 0)
	}
	crash(l)
	matches, _ := filepath.Glob(filepath.Join(dir, "*"+snapshotSuffix))
	for _, m := range matches {
		os.Remove(m)
	}
	l2 := openLog(t, dir, cfg, Options{})
	if dup, err := l2.Append(makeBatch(batchSpec{records: 1, valueSize: 50, producerID: 5, firstSeq: 19}), 0); err != nil || !dup.Duplicate || dup.BaseOffset != 19 {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
}

func TestLogAppendTimeRewritesTimestampAndCRC(t *testing.T) {
	clock := &fakeClock{}
	clock.ms.Store(1_700_000_000_000)
	cfg := testConfig()
	cfg.LogAppendTime = true
	l := openLog(t, t.TempDir(), cfg, Options{Now: clock.Now})
	res := mustAppend(t, l, makeBatch(batchSpec{records: 3, firstTs: 5}), 0)
	if res.LogAppendTime != clock.ms.Load() {
		t.Fatalf("LogAppendTime %d", res.LogAppendTime)
	}
	c, _ := l.Read(0, 1<<20, 3)
	b, _ := c.ReadInto(nil)
	h, err := ParseBatchHeader(b)
	if err != nil || h.Attributes&0x08 == 0 || h.MaxTimestamp != clock.ms.Load() {
		t.Fatalf("header %+v %v", h, err)
	}
	for _, r := range decodeBatches(t, b) { // checks the CRC
		if r.timestamp != clock.ms.Load() {
			t.Fatalf("record timestamp %d", r.timestamp)
		}
	}
	if off, ts, _, _ := l.OffsetForTimestamp(clock.ms.Load()); off != 0 || ts != clock.ms.Load() {
		t.Fatalf("OffsetForTimestamp: %d %d", off, ts)
	}
	cfg.LogAppendTime = false
	l.SetConfig(cfg)
	if res := mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0); res.LogAppendTime != -1 {
		t.Fatalf("CreateTime append returned LogAppendTime %d", res.LogAppendTime)
	}
}

func TestFailedWriteLeavesLogConsistent(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{FS: OSFS()}
	l := openLog(t, dir, testConfig(), Options{FS: ffs})
	mustAppend(t, l, makeBatch(batchSpec{records: 2, tag: "a"}), 0)
	mustAppend(t, l, makeBatch(batchSpec{records: 2, producerID: 3, tag: "p"}), 0)
	size := l.Size()
	ffs.failWrites.Store(true)
	if _, err := l.Append(makeBatch(batchSpec{records: 2, producerID: 3, firstSeq: 2, tag: "lost"}), 0); !errors.Is(err, errInjected) {
		t.Fatalf("Append with failing disk: %v", err)
	}
	if l.LogEndOffset() != 4 || l.Size() != size {
		t.Fatalf("after failed write: LEO %d size %d (want 4, %d)", l.LogEndOffset(), l.Size(), size)
	}
	if fi, _ := os.Stat(filepath.Join(dir, segmentName(0)+logSuffix)); fi.Size() != size {
		t.Fatalf("partial write left in the file: %d bytes", fi.Size())
	}
	ffs.failWrites.Store(false)
	// The producer's sequence did not advance, so the retry is accepted, not a duplicate.
	res := mustAppend(t, l, makeBatch(batchSpec{records: 2, producerID: 3, firstSeq: 2, tag: "b"}), 0)
	if res.BaseOffset != 4 || res.Duplicate {
		t.Fatalf("append after failure: %+v", res)
	}
	got := readAll(t, l, 0, 6)
	if got[4].value != "b-0" {
		t.Fatalf("records %+v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, testConfig(), Options{})
	if l2.LogEndOffset() != 6 {
		t.Fatalf("LEO after reopen %d", l2.LogEndOffset())
	}
}

func TestFailedFsyncOnFlushMessagesRefusesFurtherAppends(t *testing.T) {
	ffs := &faultFS{FS: OSFS()}
	cfg := testConfig()
	cfg.FlushMessages = 1
	l := openLog(t, t.TempDir(), cfg, Options{FS: ffs})
	mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
	ffs.failSyncs.Store(true)
	if _, err := l.Append(makeBatch(batchSpec{records: 1}), 0); !errors.Is(err, errInjected) {
		t.Fatalf("fsync failure not reported: %v", err)
	}
	ffs.failSyncs.Store(false)
	if _, err := l.Append(makeBatch(batchSpec{records: 1}), 0); err == nil {
		t.Fatal("append accepted after a failed fsync")
	}
	readAll(t, l, 0, l.LogEndOffset())
}

func TestCloseIsIdempotentAndDeleteRemovesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, makeBatch(batchSpec{records: 1}), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(batchSpec{records: 1}), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Read(0, 100, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	l2 := openLog(t, dir, testConfig(), Options{})
	if err := l2.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
}

func TestConcurrentReadsDuringAppends(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	cfg.Delete = true
	cfg.RetentionBytes = 64 << 10
	l := openLog(t, t.TempDir(), cfg, Options{})
	const batches = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < batches; i++ {
			if _, err := l.Append(makeBatch(batchSpec{records: 4, valueSize: 50, tag: fmt.Sprint(i)}), int32(i/100)); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			l.SetHighWatermark(l.LogEndOffset())
			if i%50 == 0 {
				if _, err := l.EnforceRetention(); err != nil {
					t.Errorf("EnforceRetention: %v", err)
				}
			}
		}
	}()
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := int64(0)
			for {
				select {
				case <-done:
					return
				default:
				}
				hw := l.HighWatermark()
				if next >= hw {
					continue
				}
				c, err := l.Read(next, 4096, hw)
				if errors.Is(err, ErrOffsetOutOfRange) {
					next = l.LogStartOffset()
					continue
				}
				if err != nil {
					t.Errorf("Read(%d): %v", next, err)
					return
				}
				b, err := c.ReadInto(nil)
				if err != nil {
					next = l.LogStartOffset() // segment deleted under us
					continue
				}
				recs := decodeBatches(t, b)
				if len(recs) == 0 || recs[len(recs)-1].offset+1 != c.NextOffset() {
					t.Errorf("chunk at %d ends at %d, NextOffset %d", next, recs[len(recs)-1].offset, c.NextOffset())
					return
				}
				next = c.NextOffset()
				_, _, _, _ = l.OffsetForTimestamp(1001)
				l.MaxTimestamp()
				l.EndOffsetForEpoch(1)
			}
		}()
	}
	wg.Wait()
	if l.LogEndOffset() != 4*batches {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

func TestHighWatermarkOnlyMovesForward(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	for i := 0; i < 3; i++ {
		mustAppend(t, l, makeBatch(batchSpec{records: 10, valueSize: 4}), 0)
	}
	l.SetHighWatermark(30)
	l.SetHighWatermark(10) // a concurrent producer's late, stale value
	if hw := l.HighWatermark(); hw != 30 {
		t.Fatalf("high watermark %d after a stale update, want 30", hw)
	}
	l.SetHighWatermark(100)
	if hw := l.HighWatermark(); hw != 30 {
		t.Fatalf("high watermark %d beyond the log end offset 30", hw)
	}
}
