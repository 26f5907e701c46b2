package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, addr, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v %s", name, err, resp.Err, resp.ErrMessage)
	}
}

// consumeAll reads exactly n records from the start of topic, failing after timeout.
func consumeAll(t testing.TB, addr, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxPartitionBytes(4 << 20)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consumed %d records, want %d", len(out), n)
	}
	return out
}

func TestFranzGoRoundTripsEveryRecordShapeAndCodec(t *testing.T) {
	tb := testbroker.Start(t)
	big := "2097152"
	createTopic(t, tb.Addr(), "shapes", 6, map[string]*string{"max.message.bytes": &big})
	ts := time.UnixMilli(1_700_000_000_123)
	var want []*kgo.Record
	for ci, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		cl := newClient(t, tb.Addr(), kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(2<<20))
		for i := 0; i < 200; i++ {
			r := &kgo.Record{Topic: "shapes", Key: []byte("k" + strconv.Itoa(i%13)), Value: []byte(fmt.Sprintf("c%d-%d", ci, i)), Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}, {Key: "empty", Value: nil}}}
			switch i % 50 {
			case 7:
				r.Key = nil // null key
			case 8:
				r.Value = nil // tombstone
			}
			want = append(want, r)
		}
		want = append(want, &kgo.Record{Topic: "shapes", Key: []byte("big"), Value: bytes.Repeat([]byte{byte('a' + ci)}, 1<<20), Timestamp: ts})
		if err := cl.ProduceSync(context.Background(), want[len(want)-201:]...).FirstErr(); err != nil {
			t.Fatalf("codec %d: produce: %v", ci, err)
		}
	}
	got := consumeAll(t, tb.Addr(), "shapes", len(want))
	byValue := map[string]*kgo.Record{}
	for _, r := range want {
		byValue[string(r.Key)+"|"+string(r.Value)+"|"+r.Timestamp.String()] = r
	}
	lastOffset := map[int32]int64{}
	for _, r := range got {
		if last, ok := lastOffset[r.Partition]; ok && r.Offset <= last {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, last)
		}
		lastOffset[r.Partition] = r.Offset
		w, ok := byValue[string(r.Key)+"|"+string(r.Value)+"|"+r.Timestamp.String()]
		if !ok {
			t.Fatalf("unexpected record key=%q value=%.20q ts=%v", r.Key, r.Value, r.Timestamp)
		}
		if (w.Key == nil) != (r.Key == nil) || (w.Value == nil) != (r.Value == nil) {
			t.Fatalf("null-ness changed: key %v→%v value %v→%v", w.Key == nil, r.Key == nil, w.Value == nil, r.Value == nil)
		}
		if len(w.Headers) != len(r.Headers) || (len(r.Headers) > 0 && (r.Headers[0].Key != "h" || !bytes.Equal(r.Headers[0].Value, w.Headers[0].Value))) {
			t.Fatalf("headers %v, want %v", r.Headers, w.Headers)
		}
	}
	// Per-partition order: records with the same key (same partition) come back in produce order.
	seen := map[string]int{}
	for _, r := range got {
		if len(r.Value) > 20 || r.Key == nil || r.Value == nil {
			continue
		}
		var c, i int
		fmt.Sscanf(string(r.Value), "c%d-%d", &c, &i)
		k := string(r.Key)
		if n := c*1000 + i; n < seen[k] {
			t.Fatalf("key %s: record %d after %d", k, n, seen[k])
		} else {
			seen[k] = n
		}
	}
}

func TestAckedRecordsSurviveRestartAndOffsetsContinue(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("log.segment.bytes", strconv.Itoa(1<<20)))
	createTopic(t, tb.Addr(), "durable", 3, nil)
	const n = 100_000
	cl := newClient(t, tb.Addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("durable"))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(fmt.Sprintf("value-%06d", i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	ends := map[int32]int64{}
	for _, r := range recs {
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}

	tb.Restart()

	got := consumeAll(t, tb.Addr(), "durable", n)
	seen := make(map[string]bool, n)
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprintf("value-%06d", i)] {
			t.Fatalf("record %d missing after restart", i)
		}
	}
	pcl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(pcl)
	for p, end := range ends {
		if err := pcl.ProduceSync(context.Background(), &kgo.Record{Topic: "durable", Partition: p, Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		offs, err := adm.ListEndOffsets(context.Background(), "durable")
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := offs.Lookup("durable", p); o.Offset != end+1 {
			t.Fatalf("partition %d: end offset %d after one more record, want %d", p, o.Offset, end+1)
		}
	}
}
