package metrics

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

// BenchmarkRequestDone is the server-side cost metrics add to one produce request: counting it,
// five latency observations and the scan of its response for error codes, plus the per-topic
// counter lookup and add of one partition's append.
func BenchmarkRequestDone(b *testing.B) {
	m := NewBroker(nil)
	resp := kmsg.NewPtrProduceResponse()
	tp := kmsg.NewProduceResponseTopic()
	tp.Topic = "bench"
	tp.Partitions = append(tp.Partitions, kmsg.NewProduceResponseTopicPartition())
	resp.Topics = append(resp.Topics, tp)
	now := time.Now()
	times := server.RequestTimes{Received: now, Started: now, Handled: now.Add(time.Millisecond), Dequeued: now.Add(time.Millisecond), Sent: now.Add(2 * time.Millisecond)}
	obs := m.Requests()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Topic("bench").Produced(100*1024, 100)
			obs.RequestDone(0, 9, resp, times)
		}
	})
}

// BenchmarkRequestDoneReflectedErrors is RequestDone for a response walked by reflection (an API
// without a hand-written error scan), with one error code in it.
func BenchmarkRequestDoneReflectedErrors(b *testing.B) {
	m := NewBroker(nil)
	resp := kmsg.NewPtrCreateTopicsResponse()
	t := kmsg.NewCreateTopicsResponseTopic()
	t.ErrorCode = 36 // TOPIC_ALREADY_EXISTS
	resp.Topics = append(resp.Topics, t)
	now := time.Now()
	times := server.RequestTimes{Received: now, Started: now, Handled: now, Dequeued: now, Sent: now}
	obs := m.Requests()
	b.ReportAllocs()
	for range b.N {
		obs.RequestDone(19, 7, resp, times)
	}
}
