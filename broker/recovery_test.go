package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// activeSegment returns the path of the newest .log file of a partition.
func activeSegment(t *testing.T, dir, topic string, p int) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, topic+"-"+strconv.Itoa(p), "*.log"))
	if len(logs) == 0 {
		t.Fatalf("no segment for %s-%d in %s", topic, p, dir)
	}
	sort.Strings(logs)
	return logs[len(logs)-1]
}

func produceN(t *testing.T, addr, topic string, n int, prefix string) {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	for i := 0; i < n; i++ { // one record per batch, so "the last batch" is one record
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
}

func TestTornWriteIsTruncatedOnRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string)
		survive int
	}{
		{"last batch cut in half", func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			// The last batch is one small record (~70 bytes): cutting 30 bytes tears it.
			if err := os.Truncate(path, st.Size()-30); err != nil {
				t.Fatal(err)
			}
		}, 9},
		{"garbage appended", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x01\x00garbage garbage garbage garbage garbage garbage garbage garbage garbage"))
			f.Close()
		}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := testbroker.Start(t)
			createTopic(t, tb.Addr(), "torn", 1, nil)
			produceN(t, tb.Addr(), "torn", 10, "r")
			tb.Stop()
			tc.damage(t, activeSegment(t, tb.Dir(), "torn", 0))
			tb.StartStopped()

			got := consumeAll(t, tb.Addr(), "torn", tc.survive)
			for i, r := range got {
				if string(r.Value) != fmt.Sprintf("r-%d", i) || r.Offset != int64(i) {
					t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
				}
			}
			// Appends continue right after the last valid batch.
			produceN(t, tb.Addr(), "torn", 1, "after")
			got = consumeAll(t, tb.Addr(), "torn", tc.survive+1)
			if last := got[len(got)-1]; last.Offset != int64(tc.survive) || string(last.Value) != "after-0" {
				t.Fatalf("next append landed at offset %d (%q), want %d", last.Offset, last.Value, tc.survive)
			}
		})
	}
}

func TestRetentionDeletesOldSegmentsAndConsumersReset(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("log.retention.check.interval.ms", "50"))
	createTopic(t, tb.Addr(), "short", 1, map[string]*string{
		"retention.ms":  kmsg.StringPtr("200"),
		"segment.bytes": kmsg.StringPtr("1024"),
	})
	old := time.Now().Add(-time.Hour)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("short"), kgo.ProducerLinger(0))
	for i := 0; i < 60; i++ {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(fmt.Sprintf("old-%02d-%s", i, make([]byte, 100))), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	var start int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		offs, err := adm.ListStartOffsets(context.Background(), "short")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("short", 0)
		if start = o.Offset; start > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if start == 0 {
		t.Fatal("log start offset never moved: retention did not delete old segments")
	}

	// A fetch below the log start offset is OFFSET_OUT_OF_RANGE.
	rc := dialRaw(t, tb.Addr())
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.SessionEpoch = 11, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "short"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = 0, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	fr := rc.do(req).(*kmsg.FetchResponse)
	if code := fr.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at 0 below log start %d: error %v, want OFFSET_OUT_OF_RANGE", start, kerr.ErrorForCode(code))
	}

	// A consumer asking for offset 0 with reset policy "earliest" resumes at the log start.
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, tb.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"short": {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("consumer never resumed after OFFSET_OUT_OF_RANGE")
		}
		var stop bool
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < start {
				t.Fatalf("consumer read offset %d below log start %d", r.Offset, start)
			}
			stop = true
		})
		if stop {
			break
		}
	}
}

func TestIdempotentRetryIsDeduplicatedAndGapsRejected(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "idem", 1, nil)
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.Version = 4
	ip := rc.do(ipr).(*kmsg.InitProducerIDResponse)
	produce := func(seq int32, n int) kmsg.ProduceResponseTopicPartition {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "idem"
		rp := kmsg.NewProduceRequestTopicPartition()
		var recs []kmsg.Record
		for i := 0; i < n; i++ {
			recs = append(recs, record("", fmt.Sprintf("seq-%d", int(seq)+i)))
		}
		rp.Records = recordBatch(ip.ProducerID, ip.ProducerEpoch, seq, time.Now().UnixMilli(), recs...)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rc.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	first := produce(0, 3)
	mustOK(t, "first", first.ErrorCode, first.ErrorMessage)
	retry := produce(0, 3)
	if retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset {
		t.Fatalf("retry: error %v base %d, want the original base %d", kerr.ErrorForCode(retry.ErrorCode), retry.BaseOffset, first.BaseOffset)
	}
	next := produce(3, 2)
	mustOK(t, "next", next.ErrorCode, next.ErrorMessage)
	if next.BaseOffset != 3 {
		t.Fatalf("next batch at %d, want 3 (the retry must not have been appended)", next.BaseOffset)
	}
	gap := produce(9, 1)
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(gap.ErrorCode))
	}
	got := consumeAll(t, tb.Addr(), "idem", 5)
	for i, r := range got {
		if string(r.Value) != fmt.Sprintf("seq-%d", i) {
			t.Fatalf("offset %d: %q", i, r.Value)
		}
	}
	// Producer state survives a restart: the same retry is still recognised.
	tb.Restart()
	rc = dialRaw(t, tb.Addr())
	again := produce(3, 2)
	if again.ErrorCode != 0 || again.BaseOffset != 3 {
		t.Fatalf("retry after restart: error %v base %d, want base 3", kerr.ErrorForCode(again.ErrorCode), again.BaseOffset)
	}
}

func TestFranzGoDefaultIdempotentProducerWorks(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("num.partitions", "4"))
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("auto"), kgo.AllowAutoTopicCreation())
	var recs []*kgo.Record
	for i := 0; i < 2000; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consumeAll(t, tb.Addr(), "auto", 2000)
}

// TestHighWatermarkNeverHidesAnAcknowledgedRecord: concurrent producers to one partition each move
// the high watermark to the log end they saw; a late, smaller value must not hide another
// producer's acknowledged record from consumers.
func TestHighWatermarkNeverHidesAnAcknowledgedRecord(t *testing.T) {
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "hw", 1, nil)
	const producers, each = 6, 150
	errs := make(chan error, producers)
	for g := 0; g < producers; g++ {
		go func(g int) {
			rc := dialRaw(t, tb.Addr())
			for i := 0; i < each; i++ {
				sp := produceRaw(t, rc, "hw", 1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("", fmt.Sprintf("%d-%d", g, i))))
				if sp.ErrorCode != 0 {
					errs <- fmt.Errorf("produce: %v", kerr.ErrorForCode(sp.ErrorCode))
					return
				}
				lo := kmsg.NewPtrListOffsetsRequest()
				lo.Version = 5
				lt := kmsg.NewListOffsetsRequestTopic()
				lt.Topic = "hw"
				lp := kmsg.NewListOffsetsRequestTopicPartition()
				lp.Timestamp = -1
				lt.Partitions = append(lt.Partitions, lp)
				lo.Topics = append(lo.Topics, lt)
				if hw := rc.do(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset; hw <= sp.BaseOffset {
					errs <- fmt.Errorf("record at offset %d acknowledged, but the high watermark is %d", sp.BaseOffset, hw)
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < producers; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
