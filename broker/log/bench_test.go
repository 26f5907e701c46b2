package log

import (
	"encoding/binary"
	"testing"
)

// BenchmarkAppend appends 100-record batches of 1 KiB values.
func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), testConfig(), Options{})
	batch := makeBatch(batchSpec{records: 100, valueSize: 1024})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// NB: Append rewrites only the base offset and leader epoch, so the buffer can be reused.
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRead reads 1 MiB chunks sequentially through a log of 1 KiB × 100-record batches.
func BenchmarkRead(b *testing.B) {
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 20
	l := openLog(b, b.TempDir(), cfg, Options{})
	batch := makeBatch(batchSpec{records: 100, valueSize: 1024})
	for i := 0; i < 1000; i++ { // ~100 MiB
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	buf := make([]byte, 0, 2<<20)
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	next := int64(0)
	for i := 0; i < b.N; i++ {
		if next >= leo {
			next = 0
		}
		c, err := l.Read(next, 1<<20, leo)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = c.ReadInto(buf[:0]); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(buf))
		next = c.NextOffset()
	}
	b.StopTimer()
	b.ReportMetric(float64(bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkReadLocate measures finding a chunk (index lookup and header walk) without copying.
func BenchmarkReadLocate(b *testing.B) {
	cfg := testConfig()
	l := openLog(b, b.TempDir(), cfg, Options{})
	batch := makeBatch(batchSpec{records: 10, valueSize: 100})
	for i := 0; i < 20000; i++ {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Read(int64(i*7919)%leo, 1<<20, leo); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendAsFollower appends what one replica fetch brings for a partition at the default
// replica.fetch.max.bytes: 1 MiB of 16 batches of 64 × 1 KiB records, as the leader stored them
// (CRC checked once per batch, written as one buffer). Only the base offsets change between
// iterations, which the CRC does not cover.
func BenchmarkAppendAsFollower(b *testing.B) {
	cfg := testConfig()
	cfg.SegmentBytes = 256 << 20
	l := openLog(b, b.TempDir(), cfg, Options{})
	one := makeBatch(batchSpec{records: 64, valueSize: 1024})
	var chunk []byte
	for range 16 {
		chunk = append(chunk, one...)
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	next := int64(0)
	for range b.N {
		for pos := 0; pos < len(chunk); pos += len(one) {
			binary.BigEndian.PutUint64(chunk[pos:], uint64(next))
			next += 64
		}
		if _, err := l.AppendAsFollower(chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*16*64)/b.Elapsed().Seconds(), "records/s")
}
