package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// longPollRequest is a fetch of partition 0 of topic from offset that waits up to maxWait for a byte.
func longPollRequest(topic string, offset int64, maxWait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MinBytes, req.SessionEpoch = 12, 1<<20, 1, -1
	req.MaxWaitMillis = int32(maxWait / time.Millisecond)
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// waitForWaiter waits until a long-polling fetch waits on partition 0 of topic.
func waitForWaiter(t *testing.T, tb *testbroker.Broker, topic string) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if broker.FetchWaiters(tb.Broker(), topic, 0) == 0 {
			return fmt.Errorf("no fetch waits on %s-0", topic)
		}
		return nil
	})
}

// A long-polling fetch waits on the partitions it reads only: produces to another topic do not
// wake it (it answers empty after its MaxWait, woken zero times), while a produce to its own
// topic answers it at once.
func TestLongPollIsWokenOnlyByThePartitionsItReads(t *testing.T) {
	tb := testbroker.Start(t)
	ctl := dialRaw(t, tb.Addr())
	createTopicRaw(t, ctl, "quiet", 1, nil)
	createTopicRaw(t, ctl, "busy", 1, nil)

	const maxWait = 1500 * time.Millisecond
	poll := dialRaw(t, tb.Addr())
	type answer struct {
		resp *kmsg.FetchResponse
		took time.Duration
	}
	fetch := func(req *kmsg.FetchRequest) <-chan answer {
		out := make(chan answer, 1)
		start := time.Now()
		corr := poll.send(req)
		go func() {
			resp, err := poll.recv(req, corr)
			if err != nil {
				t.Errorf("fetch: %v", err)
				close(out)
				return
			}
			out <- answer{resp.(*kmsg.FetchResponse), time.Since(start)}
		}()
		return out
	}

	before := broker.FetchWakeups(tb.Broker())
	done := fetch(longPollRequest("quiet", 0, maxWait))
	waitForWaiter(t, tb, "quiet")
	producer := dialRaw(t, tb.Addr())
	const produces = 20
	for i := 0; i < produces; i++ {
		sp := produceRaw(t, producer, "busy", 1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v")))
		mustOK(t, "produce to busy", sp.ErrorCode, sp.ErrorMessage)
	}
	a := <-done
	if a.resp == nil {
		t.FailNow()
	}
	if p := a.resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("fetch on quiet: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	if woken := broker.FetchWakeups(tb.Broker()) - before; woken != 0 {
		t.Fatalf("a fetch on quiet was woken %d times by %d produces to busy", woken, produces)
	}
	if a.took < maxWait-100*time.Millisecond {
		t.Fatalf("fetch on quiet answered after %v, before its MaxWait %v", a.took, maxWait)
	}

	// A produce to the partition it reads answers it long before its MaxWait.
	done = fetch(longPollRequest("quiet", 0, 30*time.Second))
	waitForWaiter(t, tb, "quiet")
	sp := produceRaw(t, producer, "quiet", 1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v")))
	mustOK(t, "produce to quiet", sp.ErrorCode, sp.ErrorMessage)
	select {
	case a = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a produce to quiet did not answer the fetch waiting on it")
	}
	if a.resp == nil {
		t.FailNow()
	}
	if p := a.resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch on quiet after its produce: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	if woken := broker.FetchWakeups(tb.Broker()) - before; woken < 1 {
		t.Fatalf("the fetch was answered without being woken (%d wake-ups)", woken)
	}
}

// BenchmarkProduceWithIdleLongPolls measures produce (acks=1, 10 × 100 B a batch) to one topic
// while 256 consumers long-poll another, idle one (MaxWait 60 s each). A broker-wide wake channel
// re-runs every idle fetch on each append; per-partition waiters leave them asleep.
func BenchmarkProduceWithIdleLongPolls(b *testing.B) {
	const idle = 256
	tb := testbroker.Start(b)
	rc := dialRaw(b, tb.Addr())
	createTopicRawB(b, rc, "busy", 1)
	createTopicRawB(b, rc, "idle", 1)
	for i := 0; i < idle; i++ {
		c := dialRaw(b, tb.Addr())
		c.send(longPollRequest("idle", 0, time.Minute)) // answered when the broker stops
	}
	if err := testutil.Poll(10*time.Second, time.Millisecond, func() error {
		if n := broker.FetchWaiters(tb.Broker(), "idle", 0); n < idle {
			return fmt.Errorf("%d of %d consumers wait", n, idle)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(10, 100)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "busy"
	rp := kmsg.NewProduceRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	wokenBefore := broker.FetchWakeups(tb.Broker())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].Records = batch
		resp := rc.do(req).(*kmsg.ProduceResponse)
		if resp.Topics[0].Partitions[0].ErrorCode != 0 {
			b.Fatal(resp.Topics[0].Partitions[0].ErrorCode)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(broker.FetchWakeups(tb.Broker())-wokenBefore)/float64(b.N), "wakeups/op")
}
