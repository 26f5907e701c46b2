package streams

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkTopologyMetrics measures a task's throughput through a stateless five-node topology
// (source, filter, map, peek, for-each) with metrics off and on: the worst case for their
// relative cost, since no node does real work. The two tasks process the same batch of 1000
// records in turn, so that the load of a shared machine weighs on both alike; it reports
// the records/s of each and their ratio (on/off, 1 is free).
func BenchmarkTopologyMetrics(b *testing.B) {
	records := make([]*kgo.Record, 1000)
	for i := range records {
		records[i] = &kgo.Record{Topic: "in", Key: []byte("k" + strconv.Itoa(i%100)), Value: []byte("value-" + strconv.Itoa(i)),
			Timestamp: time.UnixMilli(int64(1000 + i)), Offset: int64(i)}
	}
	ctx := context.Background()
	var seen int
	open := func(on bool) *task {
		bld := NewBuilder()
		in := Stream(bld, "in", statestore.String{}, statestore.String{})
		MapValues(in.Filter(func(k, _ string) bool { return k != "" }), func(_, v string) int64 { return int64(len(v)) }, statestore.Int64{}).
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
	var spent [2]time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for i, t := range tasks {
			start := time.Now()
			clear(t.position)
			if _, _, err := t.process(ctx, "in", records); err != nil {
				b.Fatal(err)
			}
			t.metrics.publish() // as processTask does after each fetch
			spent[i] += time.Since(start)
		}
	}
	n := float64(b.N * len(records))
	b.ReportMetric(n/spent[0].Seconds(), "off-records/s")
	b.ReportMetric(n/spent[1].Seconds(), "on-records/s")
	b.ReportMetric(spent[0].Seconds()/spent[1].Seconds(), "on/off")
	if got := tasks[1].metrics.nodes[0].processed.Load(); got != int64(b.N*len(records)) || seen == 0 {
		b.Fatalf("source counted %d records, want %d", got, b.N*len(records))
	}
}
