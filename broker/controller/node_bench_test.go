package controller_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkNodeCreateTopicsParallel measures requests committed through the runtime on a one-voter
// quorum (fsync per Ready), with concurrent callers whose batches the proposer merges.
func BenchmarkNodeCreateTopicsParallel(b *testing.B) {
	n, q := startOneVoter(b)
	registerUnfenced(b, n, 1)
	before := q.Status().HighWatermark
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := n.Handle(context.Background(), createTopicRequest(fmt.Sprintf("b%d", seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(float64(b.N)/float64(max(q.Status().HighWatermark-before, 1)), "requests/batch")
}
