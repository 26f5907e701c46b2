package mirror_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkMirrorReplicationLatency produces 1 KiB records to A at a fixed 1,000 records/s and
// reports how long each takes to be readable on B (receive time on B minus the record's
// timestamp, set when it was produced): p50 and p99.
func BenchmarkMirrorReplicationLatency(b *testing.B) {
	const rate, seconds = 1000, 3
	a, t := testbroker.Start(b), testbroker.Start(b)
	createTopic(b, a, "lat", 3, nil)
	cfg := flowConfig("A", a, "B", t, map[string]string{"connector.class": mirror.SourceClass, "topics": "lat", "tasks.max": "3"})
	startMirror(b, t, "", map[string]map[string]string{"mm2-lat": cfg})
	testutil.CheckFor(b, waitLong, 10*time.Millisecond, func() error {
		_, err := partitionCount(t, "A.lat")
		return err
	})
	src := client(b, a, kgo.ProducerLinger(0))
	dst := client(b, t, kgo.ConsumeTopics("A.lat"), kgo.FetchMaxWait(10*time.Millisecond))
	value := make([]byte, 1024)
	var latencies []time.Duration
	b.ResetTimer()
	for range b.N {
		n := rate * seconds
		go func() {
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for range n {
				<-tick.C
				src.Produce(context.Background(), &kgo.Record{Topic: "lat", Value: value, Timestamp: time.Now()}, nil)
			}
		}()
		got := 0
		testutil.CheckFor(b, waitLong, time.Microsecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			dst.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				latencies = append(latencies, time.Since(r.Timestamp))
				got++
			})
			if got < n {
				return fmt.Errorf("%d of %d records on B", got, n)
			}
			return nil
		})
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
