package broker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// TestIncrementalFetchOmitsUnchangedPartitions: a v13 full fetch of 200 partitions opens a
// session and is answered in full; an incremental fetch naming nothing is answered with only the
// partition that got a record since, at a fraction of the full answer's size; once that
// partition's records are deleted it is answered once with its new log start offset, then
// nothing is; a wrong epoch is INVALID_FETCH_SESSION_EPOCH, and epoch -1 closes the session.
func TestIncrementalFetchOmitsUnchangedPartitions(t *testing.T) {
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "omit", 200, nil)
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	td, err := adm.ListTopics(context.Background(), "omit")
	if err != nil || td["omit"].Err != nil {
		t.Fatalf("list topics: %v %v", err, td["omit"].Err)
	}
	id := td["omit"].ID
	rc := dialRaw(t, tb.Addr())
	fetchAt := func(sessionID, epoch int32, offsets map[int32]int64, parts ...int32) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.SessionID, req.SessionEpoch = 13, 1<<20, sessionID, epoch
		if len(parts) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.TopicID = id
			for _, p := range parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes, rp.FetchOffset = p, 1<<20, offsets[p]
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return rc.do(req).(*kmsg.FetchResponse)
	}
	fetch := func(sessionID, epoch int32, parts ...int32) *kmsg.FetchResponse {
		return fetchAt(sessionID, epoch, nil, parts...)
	}
	all := make([]int32, 200)
	for i := range all {
		all[i] = int32(i)
	}
	count := func(resp *kmsg.FetchResponse) int {
		n := 0
		for _, rt := range resp.Topics {
			n += len(rt.Partitions)
		}
		return n
	}
	first := fetch(0, 0, all...)
	if first.ErrorCode != 0 || first.SessionID == 0 || count(first) != 200 {
		t.Fatalf("full fetch: error %d, session %d, %d partitions; want a session and 200 partitions", first.ErrorCode, first.SessionID, count(first))
	}
	fullSize := len(first.AppendTo(nil))
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("omit"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: 42, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	inc := fetch(first.SessionID, 1)
	if inc.ErrorCode != 0 || inc.SessionID != first.SessionID || count(inc) != 1 || inc.Topics[0].Partitions[0].Partition != 42 ||
		len(inc.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("incremental fetch: error %d, session %d, %d partitions; want partition 42 alone with its record", inc.ErrorCode, inc.SessionID, count(inc))
	}
	incSize := len(inc.AppendTo(nil))
	t.Logf("full answer %d bytes (200 partitions), incremental answer %d bytes (1 partition)", fullSize, incSize)
	if incSize*10 > fullSize {
		t.Fatalf("incremental answer %d bytes, full %d: want under a tenth", incSize, fullSize)
	}
	if st := broker.FetchSessionStats(tb.Broker()); st.Sessions != 1 || st.Partitions != 200 || st.Omitted < 199 {
		t.Fatalf("session cache %+v; want 1 session of 200 partitions, 199 omitted", st)
	}
	// The partition's records are deleted (its log becomes empty at offset 1): the client moves
	// on, and is told the new log start offset once; then nothing is new anywhere.
	if _, err := adm.DeleteRecords(context.Background(), kadm.Offsets{"omit": {42: {Topic: "omit", Partition: 42, At: 1}}}); err != nil {
		t.Fatal(err)
	}
	moved := fetchAt(first.SessionID, 2, map[int32]int64{42: 1}, 42)
	if moved.ErrorCode != 0 || count(moved) != 1 {
		t.Fatalf("after DeleteRecords: error %d, %d partitions; want partition 42 alone", moved.ErrorCode, count(moved))
	}
	if mp := moved.Topics[0].Partitions[0]; mp.Partition != 42 || mp.LogStartOffset != 1 || mp.HighWatermark != 1 || len(mp.RecordBatches) != 0 {
		t.Fatalf("after DeleteRecords: %+v; want partition 42 with log start 1, high watermark 1, no records", mp)
	}
	if quiet := fetch(first.SessionID, 3); quiet.ErrorCode != 0 || count(quiet) != 0 {
		t.Fatalf("quiet fetch: error %d, %d partitions; want none", quiet.ErrorCode, count(quiet))
	}
	if resp := fetch(first.SessionID, 3); resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("repeated epoch: error %d, want INVALID_FETCH_SESSION_EPOCH", resp.ErrorCode)
	}
	if resp := fetch(first.SessionID, -1, 0); resp.ErrorCode != 0 || resp.SessionID != 0 || count(resp) != 1 {
		t.Fatalf("closing fetch: error %d, session %d, %d partitions; want a sessionless answer", resp.ErrorCode, resp.SessionID, count(resp))
	}
	if resp := fetch(first.SessionID, 4); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("fetch on the closed session: error %d, want FETCH_SESSION_ID_NOT_FOUND", resp.ErrorCode)
	}
}

// TestFranzGoConsumesEveryRecordThroughFetchSessions: a franz-go consumer (which uses KIP-227
// sessions) reads 200 partitions while records arrive in waves to all of them, to a quarter of
// them (the rest going quiet, then active again), and while a second topic it reads is deleted;
// it gets every record of every partition exactly once and in order, and the broker shows the
// session was used incrementally (partitions omitted from answers).
func TestFranzGoConsumesEveryRecordThroughFetchSessions(t *testing.T) {
	tb := testbroker.Start(t)
	const parts = 200
	createTopic(t, tb.Addr(), "waves", parts, nil)
	createTopic(t, tb.Addr(), "doomed", 4, nil)
	prod := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	next := make([]int, parts) // the next sequence number to produce per partition
	produce := func(partitions []int, n int) int {
		var recs []*kgo.Record
		for _, p := range partitions {
			for range n {
				recs = append(recs, &kgo.Record{Topic: "waves", Partition: int32(p), Value: []byte(strconv.Itoa(next[p]))})
				next[p]++
			}
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	every := make([]int, parts)
	for i := range every {
		every[i] = i
	}
	quarter := every[:parts/4]
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "doomed", Partition: 1, Value: []byte("d")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, tb.Addr(), kgo.ConsumeTopics("waves", "doomed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	seen := make([]int, parts) // the next sequence number expected per partition
	total := 0
	consume := func(want int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for total < want {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d records before the timeout", total, want)
			}
			fs.EachError(func(topic string, p int32, err error) {
				if topic != "doomed" {
					t.Fatalf("fetch %s-%d: %v", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				if r.Topic != "waves" {
					return
				}
				got, _ := strconv.Atoi(string(r.Value))
				if got != seen[r.Partition] {
					t.Fatalf("partition %d: record %d, want %d (lost, duplicated or out of order)", r.Partition, got, seen[r.Partition])
				}
				seen[r.Partition]++
				total++
			})
		}
	}
	want := produce(every, 3)
	consume(want)
	for wave := range 3 {
		want += produce(quarter, 2) // three quarters of the partitions have nothing new
		consume(want)
		if wave == 1 {
			if _, err := kadm.NewClient(newClient(t, tb.Addr())).DeleteTopics(context.Background(), "doomed"); err != nil {
				t.Fatal(err)
			}
		}
		want += produce(every, 1) // and all are active again
		consume(want)
	}
	for p := range parts {
		if seen[p] != next[p] {
			t.Fatalf("partition %d: consumed %d records, produced %d", p, seen[p], next[p])
		}
	}
	st := broker.FetchSessionStats(tb.Broker())
	t.Logf("consumed %d records; session cache %+v", total, st)
	if st.Sessions == 0 || st.Omitted == 0 {
		t.Fatalf("session cache %+v: want the consumer's session to have had partitions omitted", st)
	}
}

// TestFranzGoConsumersShareATooSmallSessionCache: with one session slot and no eviction
// protection (max.incremental.fetch.session.cache.slots=1,
// min.incremental.fetch.session.eviction.ms=0), two franz-go consumers keep evicting each
// other's session (the bigger one wins the slot, the other is told FETCH_SESSION_ID_NOT_FOUND or
// gets no session); both still read every record of their topic in order.
func TestFranzGoConsumersShareATooSmallSessionCache(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("max.incremental.fetch.session.cache.slots", "1"),
		testbroker.Set("min.incremental.fetch.session.eviction.ms", "0"))
	topics := map[string]int32{"small": 2, "big": 8}
	prod := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	results := make(chan error, len(topics))
	for topic, parts := range topics {
		createTopic(t, tb.Addr(), topic, parts, nil)
		cons := newClient(t, tb.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(50*time.Millisecond))
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			next := make([]int, parts)
			for total := 0; total < int(parts)*100; {
				fs := cons.PollFetches(ctx)
				if ctx.Err() != nil {
					results <- fmt.Errorf("%s: consumed %d of %d records before the timeout", topic, total, parts*100)
					return
				}
				var bad error
				fs.EachError(func(topic string, p int32, err error) { bad = fmt.Errorf("fetch %s-%d: %w", topic, p, err) })
				fs.EachRecord(func(r *kgo.Record) {
					if got, _ := strconv.Atoi(string(r.Value)); got != next[r.Partition] && bad == nil {
						bad = fmt.Errorf("%s-%d: record %d, want %d", topic, r.Partition, got, next[r.Partition])
					}
					next[r.Partition]++
					total++
				})
				if bad != nil {
					results <- bad
					return
				}
			}
			results <- nil
		}()
	}
	// Records arrive in ten waves so that both consumers fetch, and fight for the slot, many times.
	for wave := range 10 {
		var recs []*kgo.Record
		for topic, parts := range topics {
			for p := range parts {
				for i := range 10 {
					recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(wave*10 + i))})
				}
			}
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for range topics {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	st := broker.FetchSessionStats(tb.Broker())
	t.Logf("session cache %+v", st)
	if st.Sessions > 1 || st.Evictions == 0 {
		t.Fatalf("session cache %+v: want at most its one slot used, and sessions evicted", st)
	}
}
