package streams_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkWindowedCount measures a per-key count in 1-minute tumbling windows, and the same
// count suppressed to final results, over GREGOR_BENCH_RECORDS records (default 1,000,000;
// use e.g. GREGOR_BENCH_RECORDS=200000 on a small machine) with 10,000 keys on 6 partitions,
// timestamps advancing 1ms per record. Run with
//
//	go test -run=NONE -bench=WindowedCount -benchtime=1x ./streams/
func BenchmarkWindowedCount(b *testing.B) {
	for _, suppress := range []bool{false, true} {
		b.Run(fmt.Sprintf("suppress=%v", suppress), func(b *testing.B) {
			n := benchRecords(b)
			tb := testbroker.Start(b)
			adm := kadm.NewClient(benchClient(b, tb.Addr()))
			if _, err := adm.CreateTopics(b.Context(), benchPartitions, 1, nil, "bench-events", "bench-window-counts"); err != nil {
				b.Fatal(err)
			}
			benchProduce(b, benchClient(b, tb.Addr()), n, func(i int) *kgo.Record {
				return &kgo.Record{Topic: "bench-events", Key: benchKey(i), Value: []byte("x"),
					Timestamp: time.UnixMilli(int64(i))}
			})
			for b.Loop() {
				sb := streams.NewBuilder()
				grouped := streams.Stream(sb, "bench-events", statestore.Bytes{}, statestore.Bytes{}).GroupByKey()
				counts := streams.WindowedBy(grouped, streams.TumblingWindows(time.Minute)).Count(streams.Materialized("counts"))
				if suppress {
					counts = counts.Suppress(streams.UntilWindowCloses(streams.Unbounded()))
				}
				counts.ToStream().To("bench-window-counts", nil, nil)
				topo, err := sb.Build()
				if err != nil {
					b.Fatal(err)
				}
				app, err := streams.New(topo, streams.Config{ApplicationID: fmt.Sprint("bench-", suppress),
					BootstrapServers: []string{tb.Addr()}, StateDir: b.TempDir(), CommitInterval: time.Second,
					Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := app.Start(b.Context()); err != nil {
					b.Fatal(err)
				}
				waitRecordsProcessed(b, app, int64(n))
				elapsed := time.Since(start)
				if err := app.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
			}
		})
	}
}

// BenchmarkStreamStreamLeftJoin measures a left join within 10s windows of two topics of
// GREGOR_BENCH_RECORDS/2 records each over 10,000 keys on 6 partitions, timestamps advancing
// 1ms per record: a third of the left records find a partner, the rest wait in the shared
// store until their window closes. Run with
//
//	go test -run=NONE -bench=StreamStreamLeftJoin -benchtime=1x ./streams/
func BenchmarkStreamStreamLeftJoin(b *testing.B) {
	n := benchRecords(b) / 2
	tb := testbroker.Start(b)
	adm := kadm.NewClient(benchClient(b, tb.Addr()))
	if _, err := adm.CreateTopics(b.Context(), benchPartitions, 1, nil, "bench-left", "bench-right", "bench-joined"); err != nil {
		b.Fatal(err)
	}
	cl := benchClient(b, tb.Addr())
	benchProduce(b, cl, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: "bench-left", Key: benchKey(i), Value: []byte("l"), Timestamp: time.UnixMilli(int64(i))}
	})
	benchProduce(b, cl, n, func(i int) *kgo.Record {
		// Right keys are the left keys of every third record, 5ms later.
		return &kgo.Record{Topic: "bench-right", Key: benchKey(i - i%3), Value: []byte("r"), Timestamp: time.UnixMilli(int64(i + 5))}
	})
	for b.Loop() {
		sb := streams.NewBuilder()
		left := streams.Stream(sb, "bench-left", statestore.Bytes{}, statestore.Bytes{})
		right := streams.Stream(sb, "bench-right", statestore.Bytes{}, statestore.Bytes{})
		streams.LeftJoinStreams(left, right, func(l []byte, r *[]byte) []byte {
			if r == nil {
				return l
			}
			return append(append([]byte(nil), l...), *r...)
		}, streams.JoinWindows(10*time.Second), statestore.Bytes{}).To("bench-joined", nil, nil)
		topo, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		app, err := streams.New(topo, streams.Config{ApplicationID: "bench-join",
			BootstrapServers: []string{tb.Addr()}, StateDir: b.TempDir(), CommitInterval: time.Second,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := app.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		waitRecordsProcessed(b, app, int64(2*n))
		elapsed := time.Since(start)
		if err := app.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(2*n)/elapsed.Seconds(), "records/s")
	}
}

// waitRecordsProcessed waits until app has processed n records.
func waitRecordsProcessed(b *testing.B, app *streams.App, n int64) {
	b.Helper()
	testutil.CheckFor(b, 10*time.Minute, 10*time.Millisecond, func() error {
		if err := app.Err(); err != nil {
			b.Fatal(err)
		}
		if got := app.Stats().RecordsProcessed; got < n {
			return fmt.Errorf("processed %d of %d records", got, n)
		}
		return nil
	})
}
