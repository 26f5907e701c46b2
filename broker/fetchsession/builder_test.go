package fetchsession

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaults are Kafka's cache settings.
var defaults = Config{MaxSlots: DefaultMaxSlots, MinEviction: DefaultMinEviction}

// leader is a broker's side for Builder tests: a session cache in front of partitions with a high
// watermark each; records are any offsets below it.
type leader struct {
	cache *Cache
	hw    map[string]int64 // "topic-partition" → high watermark
	now   time.Time
}

func newLeader(cfg Config) *leader {
	return &leader{cache: NewCache(cfg), hw: map[string]int64{}, now: time.Unix(1000, 0)}
}

// serve answers r as the broker does: resolve, read every resolved partition, filter. It reports
// how many partitions the client named and how many the answer carried.
func (l *leader) serve(r *kmsg.FetchRequest) (*kmsg.FetchResponse, int, int) {
	named := 0
	for _, t := range r.Topics {
		named += len(t.Partitions)
	}
	fc := l.cache.Resolve(r, true, l.now)
	resp := fc.Request.ResponseKind().(*kmsg.FetchResponse)
	if fc.ErrorCode == 0 {
		for _, rt := range fc.Request.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				hw, ok := l.hw[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)]
				if !ok {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, 0
				if rp.FetchOffset < hw {
					sp.RecordBatches = []byte(fmt.Sprint(hw)) // the follower reads up to here
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	fc.Filter(resp, l.now)
	answered := 0
	for _, t := range resp.Topics {
		answered += len(t.Partitions)
	}
	return resp, named, answered
}

// follower is a replica fetcher's side: the offsets it fetches from, moved on by each answer.
type follower struct {
	b       *Builder
	offsets map[string]int64
	topics  []string
	parts   int32
}

func (f *follower) want() []Want {
	var ws []Want
	for _, t := range f.topics {
		for p := range f.parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset = p, f.offsets[fmt.Sprintf("%s-%d", t, p)]
			ws = append(ws, Want{Topic: t, TopicID: topicID(t), Partition: rp})
		}
	}
	return ws
}

func (f *follower) round(t *testing.T, l *leader) (req *kmsg.FetchRequest, named, answered int, err error) {
	t.Helper()
	req = kmsg.NewPtrFetchRequest()
	req.Version = 12
	f.b.Build(req, f.want())
	resp, named, answered := l.serve(req)
	if err := f.b.HandleResponse(resp); err != nil {
		return req, named, answered, err
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if len(rp.RecordBatches) > 0 {
				var hw int64
				fmt.Sscan(string(rp.RecordBatches), &hw)
				f.offsets[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = hw
			}
		}
	}
	return req, named, answered, nil
}

func TestBuilderSendsOnlyChangedPartitionsAndCatchesUp(t *testing.T) {
	l := newLeader(defaults)
	f := &follower{b: NewBuilder(), offsets: map[string]int64{}, topics: []string{"a", "b"}, parts: 50}
	for _, tp := range []string{"a", "b"} {
		for p := range 50 {
			l.hw[fmt.Sprintf("%s-%d", tp, p)] = 10
		}
	}
	req, named, answered, err := f.round(t, l)
	if err != nil || req.SessionEpoch != 0 || named != 100 || answered != 100 || f.b.SessionID() == 0 {
		t.Fatalf("first fetch: epoch %d, named %d, answered %d, session %d, err %v; want a full fetch opening a session",
			req.SessionEpoch, named, answered, f.b.SessionID(), err)
	}
	// Every partition moved on: the next request names all 100 again (new offsets), answered empty.
	req, named, answered, err = f.round(t, l)
	if err != nil || req.SessionEpoch != 1 || named != 100 || answered != 0 {
		t.Fatalf("second fetch: epoch %d, named %d, answered %d, err %v", req.SessionEpoch, named, answered, err)
	}
	// One partition gets records: one answered; then the follower names only that one.
	l.hw["b-7"] = 20
	_, named, answered, err = f.round(t, l)
	if err != nil || named != 0 || answered != 1 {
		t.Fatalf("third fetch: named %d, answered %d, err %v; want 0 and 1", named, answered, err)
	}
	req, named, answered, err = f.round(t, l)
	if err != nil || named != 1 || answered != 0 || req.SessionEpoch != 3 {
		t.Fatalf("fourth fetch: epoch %d, named %d, answered %d, err %v; want epoch 3, 1 and 0", req.SessionEpoch, named, answered, err)
	}
	if f.offsets["b-7"] != 20 {
		t.Fatalf("b-7 at %d, want 20", f.offsets["b-7"])
	}
	// Dropping topic b forgets its 50 partitions.
	f.topics = []string{"a"}
	req, _, _, err = f.round(t, l)
	forgotten := 0
	for _, ft := range req.ForgottenTopics {
		forgotten += len(ft.Partitions)
	}
	if err != nil || forgotten != 50 || len(req.Topics) != 0 {
		t.Fatalf("after dropping b: forgotten %d, topics %d, err %v; want 50 and 0", forgotten, len(req.Topics), err)
	}
	if st := l.cache.Stats(); st.Sessions != 1 || st.Partitions != 50 {
		t.Fatalf("cache %+v, want one session of 50 partitions", st)
	}
}

func TestBuilderFallsBackToFullFetchOnSessionErrors(t *testing.T) {
	l := newLeader(defaults)
	l.hw["a-0"] = 5
	f := &follower{b: NewBuilder(), offsets: map[string]int64{}, topics: []string{"a"}, parts: 1}
	for range 2 {
		if _, _, _, err := f.round(t, l); err != nil {
			t.Fatal(err)
		}
	}
	// The leader restarts: its cache is empty.
	l.cache = NewCache(defaults)
	_, _, _, err := f.round(t, l)
	if !IsSessionError(err) || f.b.SessionID() != 0 {
		t.Fatalf("after a restart: err %v, session %d; want FETCH_SESSION_ID_NOT_FOUND and no session", err, f.b.SessionID())
	}
	req, named, _, err := f.round(t, l)
	if err != nil || req.SessionID != 0 || req.SessionEpoch != 0 || named != 1 || f.b.SessionID() == 0 {
		t.Fatalf("recovery: id %d epoch %d named %d err %v; want a full fetch opening a new session", req.SessionID, req.SessionEpoch, named, err)
	}
	// A request without an answer: the next is a full fetch closing the session.
	old := f.b.SessionID()
	req = kmsg.NewPtrFetchRequest()
	f.b.Build(req, f.want())
	f.b.HandleError()
	req, _, _, err = f.round(t, l)
	if err != nil || req.SessionID != old || req.SessionEpoch != 0 || f.b.SessionID() == old {
		t.Fatalf("after a lost request: id %d epoch %d err %v; want epoch 0 closing session %d", req.SessionID, req.SessionEpoch, err, old)
	}
	if st := l.cache.Stats(); st.Sessions != 1 {
		t.Fatalf("cache holds %d sessions, want 1 (the old one closed)", st.Sessions)
	}
	// The follower's epoch is out of step (a duplicate on the wire): INVALID_FETCH_SESSION_EPOCH,
	// then a full fetch that closes and reopens.
	f.b.epoch++
	_, _, _, err = f.round(t, l)
	if !IsSessionError(err) {
		t.Fatalf("epoch out of step: err %v, want INVALID_FETCH_SESSION_EPOCH", err)
	}
	req, _, _, err = f.round(t, l)
	if err != nil || req.SessionEpoch != 0 || req.SessionID == 0 {
		t.Fatalf("after the epoch error: id %d epoch %d err %v; want epoch 0 closing the session", req.SessionID, req.SessionEpoch, err)
	}
}

func TestBuilderWithoutRoomForASessionStaysFull(t *testing.T) {
	l := newLeader(Config{MaxSlots: 0})
	l.hw["a-0"] = 5
	f := &follower{b: NewBuilder(), offsets: map[string]int64{}, topics: []string{"a"}, parts: 1}
	for i := range 3 {
		req, named, answered, err := f.round(t, l)
		if err != nil || req.SessionID != 0 || req.SessionEpoch != 0 || named != 1 || answered != 1 {
			t.Fatalf("fetch %d: id %d epoch %d named %d answered %d err %v; want full fetches", i, req.SessionID, req.SessionEpoch, named, answered, err)
		}
	}
}

func TestBuilderStartsOverWhenATopicIsRecreated(t *testing.T) {
	b := NewBuilder()
	rp := kmsg.NewFetchRequestTopicPartition()
	want := []Want{{Topic: "a", TopicID: topicID("a"), Partition: rp}}
	req := kmsg.NewPtrFetchRequest()
	b.Build(req, want)
	resp := kmsg.NewPtrFetchResponse()
	resp.SessionID = 9
	if err := b.HandleResponse(resp); err != nil {
		t.Fatal(err)
	}
	want[0].TopicID = topicID("a2")
	b.Build(req, want)
	if req.SessionID != 9 || req.SessionEpoch != 0 || len(req.Topics) != 1 || req.Topics[0].TopicID != topicID("a2") {
		t.Fatalf("id %d epoch %d topics %v; want a full fetch of the new topic ID closing session 9", req.SessionID, req.SessionEpoch, req.Topics)
	}
}
