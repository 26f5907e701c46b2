package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkRetailPipeline measures the whole pipeline (broker, CDC, topology, sink, Postgres) on
// this machine: sales/s through the topology when the generator produces as fast as it can, and
// the latency from producing a sale to its reorder row in Postgres at a steady rate.
//
//	go test -run NONE -bench RetailPipeline -benchtime 1x ./examples/retail
func BenchmarkRetailPipeline(b *testing.B) {
	const (
		days        = 10
		salesPerDay = 4000
		rate        = 2000 // sales/s for the latency run
	)
	for range b.N {
		catalogue := Catalogue(1, 300)
		p := startPipeline(b, catalogue)
		g := NewGenerator(7, catalogue, 5, salesPerDay)

		// Throughput: every day's shipments and sales as fast as the broker takes them.
		start := time.Now()
		for range days {
			d := g.Next()
			p.produce(ShipmentRecords(d))
			p.produce(SaleRecords(d))
		}
		p.caughtUp()
		took := time.Since(start)
		b.ReportMetric(float64(days*salesPerDay)/took.Seconds(), "sales/s")

		// Latency: sales at a steady rate; each reorder row's written_at against the time its
		// sale was produced.
		produced := map[int64]time.Time{} // event time -> produce time
		latencyStart := time.Now()
		var sent int
		for range days {
			d := g.Next()
			p.produce(ShipmentRecords(d))
			recs, err := SaleRecords(d)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(recs); i += rate / 100 {
				batch := recs[i:min(i+rate/100, len(recs))]
				now := time.Now()
				for _, s := range d.Sales[i : i+len(batch)] {
					produced[s.EventTime] = now
				}
				p.produce(batch, nil)
				sent += len(batch)
				if ahead := time.Duration(float64(sent)/rate*float64(time.Second)) - time.Since(latencyStart); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		p.caughtUp()
		p.waitCommitted("connect-reorders-sink", ReordersTopic)
		rows, err := p.conn.Query(context.Background(), `SELECT event_time, written_at FROM reorders`)
		if err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for rows.Next() {
			var et int64
			var at time.Time
			if err := rows.Scan(&et, &at); err != nil {
				b.Fatal(err)
			}
			if t0, ok := produced[et]; ok {
				lat = append(lat, at.Sub(t0))
			}
		}
		rows.Close()
		if len(lat) == 0 {
			b.Fatal("no reorder during the latency run")
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.Logf("%d sales through the topology in %v (%.0f/s); at %d sales/s, sale -> reorder row over %d reorders: p50 %v, p99 %v",
			days*salesPerDay, took.Round(time.Millisecond), float64(days*salesPerDay)/took.Seconds(), rate, len(lat),
			p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	}
}
