package crc

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestChecksumMatchesCRC32CForEveryRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 5*ChunkSize+123)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	var b Body
	b.Reset(buf)
	for filled := 0; filled < len(buf); {
		filled = min(len(buf), filled+1+rng.IntN(3000)) // reads of odd sizes
		b.Filled(filled)
	}
	for i := 0; i < 5000; i++ {
		s := rng.IntN(len(buf))
		e := s + 1 + rng.IntN(len(buf)-s)
		got, ok := b.Checksum(buf[s:e])
		if !ok || got != crc32.Checksum(buf[s:e], table) {
			t.Fatalf("[%d,%d): %08x ok=%v, want %08x", s, e, got, ok, crc32.Checksum(buf[s:e], table))
		}
	}
	if _, ok := b.Checksum(make([]byte, 10)); ok {
		t.Fatal("a slice outside the body claimed ok")
	}
	b.Reset(buf)
	b.Filled(100)
	if _, ok := b.Checksum(buf[50:200]); ok {
		t.Fatal("a range past the filled part claimed ok")
	}
}

func BenchmarkChecksumAfterFill(b *testing.B) {
	buf := make([]byte, 1<<20)
	var body Body
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		body.Reset(buf)
		body.Filled(len(buf))
		body.Checksum(buf[21 : 1<<19])
		body.Checksum(buf[1<<19:])
	}
}
