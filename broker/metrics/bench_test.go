package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
)

func startBench(b *testing.B, disableMetrics bool) *broker.Broker {
	b.Helper()
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + b.TempDir(),
		"offsets.topic.num.partitions=1", "group.initial.rebalance.delay.ms=0"})
	if err != nil {
		b.Fatal(err)
	}
	br, err := broker.New(cfg, broker.Options{DisableMetrics: disableMetrics, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	return br
}

// BenchmarkProduceWithAndWithoutMetrics measures the produce path end to end (franz-go, loopback,
// acks=all, one 100 × 1 KiB batch per request) on a broker with its metrics on and one with
// broker.Options.DisableMetrics. Compare the two ns/op: the instrumentation is a few clock reads
// and atomic adds per request, and one counter lookup per topic of a request.
func BenchmarkProduceWithAndWithoutMetrics(b *testing.B) {
	for _, mode := range []struct {
		name    string
		disable bool
	}{{"metrics=off", true}, {"metrics=on", false}} {
		b.Run(mode.name, func(b *testing.B) {
			br := startBench(b, mode.disable)
			cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic("bench"),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "bench"); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 1024)
			recs := make([]*kgo.Record, 100)
			fill := func() {
				for i := range recs {
					recs[i] = &kgo.Record{Key: []byte("key-" + strconv.Itoa(i)), Value: value}
				}
			}
			fill()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil { // warm up: metadata, connection
				b.Fatal(err)
			}
			b.SetBytes(100 * 1024)
			b.ResetTimer()
			for range b.N {
				fill()
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkGatherWith2000Partitions is the cost of one scrape of a broker holding 2,000
// partitions (plus the offsets topic): the state collector reads every partition's log and
// replica state, and the group coordinator's committed offsets.
func BenchmarkGatherWith2000Partitions(b *testing.B) {
	br := startBench(b, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2000, 1, nil, "wide"); err != nil {
		b.Fatal(err)
	}
	reg := br.MetricsRegistry()
	b.ResetTimer()
	for range b.N {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
