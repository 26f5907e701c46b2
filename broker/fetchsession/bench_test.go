package fetchsession

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkResolveFilter1000 measures one incremental fetch of a 1,000-partition session (10
// topics × 100) with one changed partition: Resolve, then Filter of a response for every
// partition (one carrying records) down to that one. Building the response is not timed.
func BenchmarkResolveFilter1000(b *testing.B) {
	c := NewCache(Config{MaxSlots: DefaultMaxSlots, MinEviction: DefaultMinEviction})
	now := time.Unix(1000, 0)
	full := kmsg.NewPtrFetchRequest()
	full.Version, full.SessionEpoch = 13, InitialEpoch
	for t := range 10 {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = topicID(fmt.Sprint("topic", t))
		for p := range 100 {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset = int32(p), 100
			rt.Partitions = append(rt.Partitions, rp)
		}
		full.Topics = append(full.Topics, rt)
	}
	respond := func(r *kmsg.FetchRequest, records int) *kmsg.FetchResponse {
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.Topics = make([]kmsg.FetchResponseTopic, len(r.Topics))
		n := 0
		for i, rt := range r.Topics {
			st := &resp.Topics[i]
			st.TopicID = rt.TopicID
			st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
			for j, rp := range rt.Partitions {
				sp := &st.Partitions[j]
				sp.Default()
				sp.Partition, sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = rp.Partition, 200, 200, 0
				if n == records {
					sp.RecordBatches = []byte("records")
				}
				n++
			}
		}
		return resp
	}
	fc := c.Resolve(full, false, now)
	resp := respond(fc.Request, -1)
	fc.Filter(resp, now)
	id := resp.SessionID
	inc := kmsg.NewPtrFetchRequest()
	inc.Version, inc.SessionID = 13, id
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = full.Topics[3].TopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	inc.Topics = append(inc.Topics, rt)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		inc.SessionEpoch = int32(i + 1)
		inc.Topics[0].Partitions[0].FetchOffset = int64(100 + i)
		fc := c.Resolve(inc, false, now)
		if fc.ErrorCode != 0 {
			b.Fatalf("error %d", fc.ErrorCode)
		}
		b.StopTimer()
		resp := respond(fc.Request, i%1000)
		b.StartTimer()
		fc.Filter(resp, now)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			b.Fatalf("answered %d topics, want the one partition with records", len(resp.Topics))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/partition")
}
