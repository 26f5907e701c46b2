package fetchsession

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzResolveFilter feeds decoded Fetch requests (any fields a client may send: duplicate or
// unknown partitions, forgotten partitions never added, any epochs) through one cache, answering
// each resolved request with a response naming every partition; nothing may panic, and an
// incremental answer never carries a partition the resolved request did not name.
func FuzzResolveFilter(f *testing.F) {
	seed := kmsg.NewPtrFetchRequest()
	seed.Version, seed.SessionEpoch = 13, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID("a")
	rt.Partitions = append(rt.Partitions, kmsg.NewFetchRequestTopicPartition(), kmsg.NewFetchRequestTopicPartition())
	rt.Partitions[1].Partition = 1
	seed.Topics = append(seed.Topics, rt)
	f.Add(int16(13), seed.AppendTo(nil), byte(1))
	seed.SessionEpoch, seed.SessionID = 1, 1
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.TopicID, ft.Partitions = topicID("a"), []int32{1, 7}
	seed.ForgottenTopics = append(seed.ForgottenTopics, ft)
	f.Add(int16(13), seed.AppendTo(nil), byte(3))
	f.Fuzz(func(t *testing.T, version int16, data []byte, rounds byte) {
		if version < 7 || version > 17 {
			return
		}
		c := NewCache(Config{MaxSlots: 2, NewID: func() int32 { return 1 }})
		now := time.Unix(1000, 0)
		for round := range int(rounds%4) + 1 {
			r := kmsg.NewPtrFetchRequest()
			r.Version = version
			if err := r.ReadFrom(data); err != nil {
				return
			}
			if round > 0 && r.SessionEpoch > 0 {
				r.SessionEpoch = int32(round) // walk the session's epochs
			}
			fc := c.Resolve(r, round%2 == 0, now)
			resp := fc.Request.ResponseKind().(*kmsg.FetchResponse)
			named := 0
			if fc.ErrorCode == 0 {
				for _, rt := range fc.Request.Topics {
					st := kmsg.NewFetchResponseTopic()
					st.Topic, st.TopicID = rt.Topic, rt.TopicID
					for _, rp := range rt.Partitions {
						sp := kmsg.NewFetchResponseTopicPartition()
						sp.Partition, sp.HighWatermark = rp.Partition, rp.FetchOffset+int64(round)
						st.Partitions = append(st.Partitions, sp)
						named++
					}
					resp.Topics = append(resp.Topics, st)
				}
			}
			fc.Filter(resp, now)
			answered := 0
			for _, rt := range resp.Topics {
				answered += len(rt.Partitions)
			}
			if answered > named {
				t.Fatalf("answered %d partitions of %d served", answered, named)
			}
			now = now.Add(time.Second)
		}
	})
}
