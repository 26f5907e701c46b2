package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Join benchmarks on the in-process broker: records/s from producing the input to the last
// output record. Run with
//
//	go test -run=NONE -bench='StreamTableJoin|ForeignKeyJoin' -benchtime=1x ./streams/
//
// GREGOR_BENCH_JOIN_RECORDS sets the number of input records (default 100,000).

func joinBenchRecords(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("GREGOR_BENCH_JOIN_RECORDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("GREGOR_BENCH_JOIN_RECORDS=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

// produceBench writes n records of topic keyed by key(i), valued by value(i), in one go.
func produceBench(b *testing.B, addr, topic string, n int, key, value func(i int) string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	errs := make(chan error, 1)
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key(i)), Value: []byte(value(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// waitEnd waits until topic holds n records.
func waitEnd(b *testing.B, app *streams.App, addr, topic string, n int64) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	testutil.CheckFor(b, 5*time.Minute, 20*time.Millisecond, func() error {
		if err := app.Err(); err != nil {
			b.Fatalf("%s: app failed: %v", topic, err)
		}
		ends, err := adm.ListEndOffsets(context.Background(), topic)
		if err != nil {
			return fmt.Errorf("%s: end offsets: %w", topic, err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total < n {
			return fmt.Errorf("%s: %d of %d records", topic, total, n)
		}
		return nil
	})
}

func benchApp(b *testing.B, topo *streams.Topology, addr, appID string) *streams.App {
	b.Helper()
	app, err := streams.New(topo, streams.Config{ApplicationID: appID, BootstrapServers: []string{addr},
		StateDir: b.TempDir(), CommitInterval: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	return app
}

func createBenchTopics(b *testing.B, addr string, partitions int32, topics ...string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(context.Background(), partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStreamTableJoin enriches n orders with a table of 10,000 customers loaded first.
func BenchmarkStreamTableJoin(b *testing.B) {
	n := joinBenchRecords(b)
	for range b.N {
		b.StopTimer()
		tb := testbroker.Start(b)
		addr := tb.Addr()
		createBenchTopics(b, addr, 6, "orders", "customers", "enriched")
		str := statestore.String{}
		bld := streams.NewBuilder()
		customers := streams.Table(bld, "customers", str, str, streams.Materialized("customers"))
		streams.JoinTable(streams.Stream(bld, "orders", str, str), customers, func(o, c string) string { return o + "@" + c }, str).
			To("enriched", nil, nil)
		topo, err := bld.Build()
		if err != nil {
			b.Fatal(err)
		}
		produceBench(b, addr, "customers", 10_000, func(i int) string { return fmt.Sprintf("c%05d", i) }, func(i int) string { return fmt.Sprintf("customer %d", i) })
		app := benchApp(b, topo, addr, "bench-st")
		waitEnd(b, app, addr, "bench-st-customers-changelog", 10_000)
		b.StartTimer()
		start := time.Now()
		produceBench(b, addr, "orders", n, func(i int) string { return fmt.Sprintf("c%05d", i%10_000) }, func(i int) string { return "order " + strconv.Itoa(i) })
		waitEnd(b, app, addr, "enriched", int64(n))
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		b.StopTimer()
		app.Close()
	}
}

// BenchmarkForeignKeyJoin joins n orders (each to one of 1,000 products) by foreign key, from
// the orders' arrival to the last result; the products are loaded first.
func BenchmarkForeignKeyJoin(b *testing.B) {
	n := joinBenchRecords(b)
	for range b.N {
		b.StopTimer()
		tb := testbroker.Start(b)
		addr := tb.Addr()
		createBenchTopics(b, addr, 6, "orders", "products", "lines")
		str := statestore.String{}
		bld := streams.NewBuilder()
		orders := streams.Table(bld, "orders", str, str)
		products := streams.Table(bld, "products", str, str, streams.Materialized("products"))
		streams.JoinFK(orders, products, func(o string) string { return strings.SplitN(o, ":", 2)[0] },
			func(o, p string) string { return o + "/" + p }, str).ToStream().To("lines", nil, nil)
		topo, err := bld.Build()
		if err != nil {
			b.Fatal(err)
		}
		produceBench(b, addr, "products", 1_000, func(i int) string { return fmt.Sprintf("p%04d", i) }, func(i int) string { return fmt.Sprintf("product %d", i) })
		app := benchApp(b, topo, addr, "bench-fk")
		waitEnd(b, app, addr, "bench-fk-products-changelog", 1_000)
		b.StartTimer()
		start := time.Now()
		produceBench(b, addr, "orders", n, func(i int) string { return fmt.Sprintf("o%07d", i) }, func(i int) string { return fmt.Sprintf("p%04d:%d", i%1_000, i) })
		waitEnd(b, app, addr, "lines", int64(n))
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		b.StopTimer()
		app.Close()
	}
}
