package streams

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchOrder is the JSON value of BenchmarkTopologyMetrics/json.
type benchOrder struct {
	ID     int     `json:"id"`
	Amount float64 `json:"amount"`
	Note   string  `json:"note"`
}

// BenchmarkTopologyMetrics measures a task's throughput through a stateless five-node topology
// (source, filter, map, peek, for-each) with metrics off and on. With string values no node does
// real work: the worst case for the metrics' relative cost; with JSON values the source decodes
// each record, as most topologies do. The two tasks process the same batch of 1000 records in
// turn, so that the load of a shared machine weighs on both alike; it reports the records/s of
// each (from the median batch) and their ratio (on/off, 1 is free).
func BenchmarkTopologyMetrics(b *testing.B) {
	b.Run("strings", func(b *testing.B) {
		benchTopologyMetrics(b, statestore.String{}, func(_, v string) int64 { return int64(len(v)) },
			func(i int) []byte { return []byte("value-" + strconv.Itoa(i)) })
	})
	b.Run("json", func(b *testing.B) {
		benchTopologyMetrics(b, statestore.JSON[benchOrder]{}, func(_ string, o benchOrder) int64 { return int64(o.Amount) },
			func(i int) []byte {
				return fmt.Appendf(nil, `{"id":%d,"amount":%d.5,"note":"order number %d"}`, i, i%300, i)
			})
	})
}

func benchTopologyMetrics[V any](b *testing.B, serde Serde[V], mapValue func(string, V) int64, value func(int) []byte) {
	records := make([]*kgo.Record, 1000)
	for i := range records {
		records[i] = &kgo.Record{Topic: "in", Key: []byte("k" + strconv.Itoa(i%100)), Value: value(i),
			Timestamp: time.UnixMilli(int64(1000 + i)), Offset: int64(i)}
	}
	ctx := context.Background()
	var seen int
	open := func(on bool) *task {
		bld := NewBuilder()
		in := Stream(bld, "in", statestore.String{}, serde)
		MapValues(in.Filter(func(k string, _ V) bool { return k != "" }), mapValue, statestore.Int64{}).
			Peek(func(string, int64) {}).ForEach(func(string, int64) { seen++ })
		topo, err := bld.Build()
		if err != nil {
			b.Fatal(err)
		}
		a, err := New(topo, Config{ApplicationID: "bench", BootstrapServers: []string{"127.0.0.1:1"},
			DisableMetrics: !on, MetricsRegisterer: prometheus.NewRegistry(), ConsolePublishInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		t, err := openTask(ctx, a, a.topo.subs[0], 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(t.close)
		return t
	}
	tasks := [2]*task{open(false), open(true)}
	var spent [2][]time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for i, t := range tasks {
			start := time.Now()
			clear(t.position)
			if _, _, err := t.process(ctx, "in", records); err != nil {
				b.Fatal(err)
			}
			t.metrics.publish() // as processTask does after each fetch
			spent[i] = append(spent[i], time.Since(start))
		}
	}
	// NB: the medians of the batches' times, so that a batch preempted by another process on
	// a shared machine does not weigh on one side.
	var median [2]time.Duration
	for i := range spent {
		slices.Sort(spent[i])
		median[i] = spent[i][len(spent[i])/2]
	}
	perBatch := float64(len(records))
	b.ReportMetric(perBatch/median[0].Seconds(), "off-records/s")
	b.ReportMetric(perBatch/median[1].Seconds(), "on-records/s")
	b.ReportMetric(median[0].Seconds()/median[1].Seconds(), "on/off")
	if got := tasks[1].metrics.nodes[0].processed.Load(); got != int64(b.N*len(records)) || seen == 0 {
		b.Fatalf("source counted %d records, want %d", got, b.N*len(records))
	}
}
