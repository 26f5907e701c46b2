package statestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func benchKey(buf []byte, i int) []byte {
	return binary.BigEndian.AppendUint64(buf[:0], uint64(i))
}

// BenchmarkPut measures Put of 100-byte values over 100,000 keys (1,000 hot keys for the write
// cache runs), with a Flush every 10,000 writes as a task's commit would do.
func BenchmarkPut(b *testing.B) {
	value := make([]byte, 100)
	run := func(b *testing.B, s *KeyValueStore, keys int) {
		key := make([]byte, 0, 8)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			if err := s.Put(benchKey(key, i%keys), value); err != nil {
				b.Fatal(err)
			}
			if i%10_000 == 9_999 {
				if err := s.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	}
	b.Run("changelog=off", func(b *testing.B) {
		s, err := Open(context.Background(), Options{StateDir: b.TempDir(), Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s, 100_000)
	})
	b.Run("changelog=on", func(b *testing.B) {
		tb := testbroker.Start(b)
		cl := newProducer(b, tb.Addr())
		s := openLogged(b, cl, b.TempDir())
		run(b, s, 100_000)
	})
	for _, cache := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("changelog=on/hotkeys=1000/cache=%d", cache), func(b *testing.B) {
			tb := testbroker.Start(b)
			cl := newProducer(b, tb.Addr())
			s, err := Open(context.Background(), Options{StateDir: b.TempDir(), Name: "bench",
				Changelog: cl, ApplicationID: testApp, ChangelogPartitions: 1,
				WriteCacheEntries: cache, Logger: testLogger(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			run(b, s, 1000)
			b.ReportMetric(float64(s.Stats().ChangelogRecords)/float64(b.N), "changelog-records/put")
		})
	}
}

// BenchmarkRestore measures restoring a store from a changelog of 100,000 records of 100-byte
// values over 20,000 keys into an empty state dir.
func BenchmarkRestore(b *testing.B) {
	const records = 100_000
	tb := testbroker.Start(b)
	cl := newProducer(b, tb.Addr())
	s := openLogged(b, cl, b.TempDir())
	value := make([]byte, 100)
	key := make([]byte, 0, 8)
	for i := range records {
		if err := s.Put(benchKey(key, i%20_000), value); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	s.Close()

	b.ResetTimer()
	var restored int64
	var took time.Duration
	for b.Loop() {
		r := openLogged(b, cl, b.TempDir())
		st := r.Stats()
		restored += st.RecordsRestored
		took += st.RestoreDuration
		r.Close()
	}
	if restored != int64(b.N)*records {
		b.Fatalf("restored %d records, want %d", restored, int64(b.N)*records)
	}
	b.ReportMetric(float64(restored)/took.Seconds(), "records/s")
}
