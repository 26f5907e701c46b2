package quorum

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchmarkProposals measures committed proposals per second and commit latency (Propose call to
// return) with concurrent proposers, each batch one 100-byte record, on real files and loopback TCP.
func benchmarkProposals(b *testing.B, voters, proposers int) {
	c := startCluster(b, voters, true, func(cfg *Config) { cfg.TickInterval = 100 * time.Millisecond })
	leader := c.waitLeader()
	node := c.nodes[leader].node
	record := make([]byte, 100)
	var next atomic.Int64
	latencies := make([][]time.Duration, proposers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range proposers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := node.Propose(context.Background(), [][]byte{record}); err != nil {
					b.Error(err)
					return
				}
				latencies[p] = append(latencies[p], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "proposals/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkProposeThreeVoters1Proposer(b *testing.B)   { benchmarkProposals(b, 3, 1) }
func BenchmarkProposeThreeVoters16Proposers(b *testing.B) { benchmarkProposals(b, 3, 16) }
func BenchmarkProposeOneVoter16Proposers(b *testing.B)    { benchmarkProposals(b, 1, 16) }
