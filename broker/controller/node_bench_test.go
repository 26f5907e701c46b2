package controller_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/internal/testutil"
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

// BenchmarkThreeVoterCreateTopicsParallel is the same on three voters replicating over 127.0.0.1:
// each batch commits once a majority has it on disk.
func BenchmarkThreeVoterCreateTopicsParallel(b *testing.B) {
	nodes := startThreeVoters(b)
	var active *controller.Node
	testutil.CheckFor(b, 10*time.Second, 5*time.Millisecond, func() error {
		for _, n := range nodes {
			if n.Active() {
				active = n
				return nil
			}
		}
		return errors.New("no active controller")
	})
	registerUnfenced(b, active, 1)
	before := active.Status().HighWatermark
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := active.Handle(context.Background(), createTopicRequest(fmt.Sprintf("b%d", seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(float64(b.N)/float64(max(active.Status().HighWatermark-before, 1)), "requests/batch")
}
