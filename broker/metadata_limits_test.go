package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func TestMetadataNamingOneTopic100000TimesAnswersItOnce(t *testing.T) {
	tb := testbroker.Start(t)
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "once", 3, nil)

	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	for i := 0; i < 100_000; i++ {
		req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr("once")})
	}
	resp := rc.do(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("got %d topics (first: error %d), want topic once with its 3 partitions exactly once", len(resp.Topics), resp.Topics[0].ErrorCode)
	}
	if size := len(resp.AppendTo(nil)); size > 1024 {
		t.Fatalf("response is %d bytes, want under 1 KiB", size)
	}

	// Topic IDs (v10+) are de-duplicated too, and with names of the same topic.
	req.Topics = req.Topics[:0]
	id := resp.Topics[0].TopicID
	for i := 0; i < 50_000; i++ {
		req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{TopicID: id}, kmsg.MetadataRequestTopic{TopicID: [16]byte{1, 2, 3}})
	}
	resp = rc.do(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 2 || resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("by id: got %d topics, want 2 (once, and one UNKNOWN_TOPIC_ID)", len(resp.Topics))
	}
	bs.stop(t)
}

func TestMetadataNamingTheEmptyTopicAMillionTimesAnswersOneInvalidTopic(t *testing.T) {
	tb := testbroker.Start(t)
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())

	req := kmsg.NewPtrMetadataRequest()
	req.Version = 8 // 2 bytes a name: a 2 MB request
	req.AllowAutoTopicCreation = true
	req.Topics = make([]kmsg.MetadataRequestTopic, 1_000_000)
	for i := range req.Topics {
		req.Topics[i].Topic = kmsg.StringPtr("")
	}
	resp := rc.do(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("got %d topics, want one INVALID_TOPIC_EXCEPTION", len(resp.Topics))
	}
	if size := len(resp.AppendTo(nil)); size > 1024 {
		t.Fatalf("response is %d bytes, want under 1 KiB", size)
	}
	bs.stop(t)
}
