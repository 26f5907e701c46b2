package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// BenchmarkOffsetCommit measures OffsetCommit round trips: one request committing 6 partitions,
// each persisted to __consumer_offsets before the answer.
func BenchmarkOffsetCommit(b *testing.B) {
	tb := testbroker.Start(b)
	rc := dialRaw(b, tb.Addr())
	createTopicRawB(b, rc, "bench", 6)
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, "bench-group", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "bench"
	for p := int32(0); p < 6; p++ {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := range req.Topics[0].Partitions {
			req.Topics[0].Partitions[p].Offset = int64(i)
		}
		resp := rc.do(req).(*kmsg.OffsetCommitResponse)
		if resp.Topics[0].Partitions[0].ErrorCode != 0 {
			b.Fatal(resp.Topics[0].Partitions[0].ErrorCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(b.N*6)/b.Elapsed().Seconds(), "partition-offsets/s")
}

// BenchmarkGroupStabilizeAfterJoin measures how long a 10-member franz-go group takes to be
// Stable again, with every partition assigned, after an 11th member joins (and again after it
// leaves). balancer: franz-go's default cooperative-sticky (two rebalances) and range (one).
func BenchmarkGroupStabilizeAfterJoin(b *testing.B) {
	for _, bal := range []struct {
		name string
		opt  kgo.GroupBalancer
	}{{"cooperative-sticky", kgo.CooperativeStickyBalancer()}, {"range", kgo.RangeBalancer()}} {
		b.Run(bal.name, func(b *testing.B) {
			tb := testbroker.Start(b)
			createTopicB(b, tb.Addr(), "stab", 22)
			adm := kadm.NewClient(newClient(b, tb.Addr()))
			start := func(name string) (*kgo.Client, context.CancelFunc, chan struct{}) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumerGroup("stab-"+bal.name), kgo.ConsumeTopics("stab"),
					kgo.Balancers(bal.opt), kgo.ClientID(name), kgo.HeartbeatInterval(100*time.Millisecond))
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					for ctx.Err() == nil {
						cl.PollFetches(ctx)
					}
				}()
				return cl, cancel, done
			}
			stable := func(members int) {
				deadline := time.Now().Add(60 * time.Second)
				for time.Now().Before(deadline) {
					dg, err := adm.DescribeGroups(context.Background(), "stab-"+bal.name)
					if err == nil {
						g := dg["stab-"+bal.name]
						total := 0
						for _, m := range g.Members {
							if ca, _ := m.Assigned.AsConsumer(); ca != nil {
								for _, t := range ca.Topics {
									total += len(t.Partitions)
								}
							}
						}
						if g.State == "Stable" && len(g.Members) == members && total == 22 {
							return
						}
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.Fatalf("group never stabilised with %d members", members)
			}
			for i := 0; i < 10; i++ {
				cl, cancel, done := start(fmt.Sprintf("m%d", i))
				defer func() { cancel(); <-done; cl.Close() }()
			}
			stable(10)
			b.ResetTimer()
			var joinTotal, leaveTotal time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				cl, cancel, done := start("extra")
				stable(11)
				joinTotal += time.Since(t0)
				t1 := time.Now()
				cancel()
				<-done
				cl.Close()
				stable(10)
				leaveTotal += time.Since(t1)
			}
			b.ReportMetric(float64(joinTotal.Milliseconds())/float64(b.N), "ms/join")
			b.ReportMetric(float64(leaveTotal.Milliseconds())/float64(b.N), "ms/leave")
		})
	}
}

func createTopicB(b *testing.B, addr, name string, partitions int32) {
	createTopic(b, addr, name, partitions, nil)
}
