package broker_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

func benchBatch(n, size int) []byte {
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = record("key-"+strconv.Itoa(i), string(make([]byte, size)))
	}
	return recordBatch(-1, -1, -1, time.Now().UnixMilli(), recs...)
}

// BenchmarkProduce measures the produce path end to end over loopback: one request with one
// 100 × 1 KiB batch at a time, acks=all (decode, validate, append, respond).
func BenchmarkProduce(b *testing.B) {
	tb := testbroker.Start(b)
	rc := dialRaw(b, tb.Addr())
	createTopicRawB(b, rc, "bench", 1)
	batch := benchBatch(100, 1024)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewProduceRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].Records = batch // the broker rewrites its own copy
		resp := rc.do(req).(*kmsg.ProduceResponse)
		if resp.Topics[0].Partitions[0].ErrorCode != 0 {
			b.Fatal(resp.Topics[0].Partitions[0].ErrorCode)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkFetch measures the fetch path: 1 MiB per request from a warm log (sendfile).
func BenchmarkFetch(b *testing.B) {
	tb := testbroker.Start(b)
	rc := dialRaw(b, tb.Addr())
	createTopicRawB(b, rc, "bench", 1)
	batch := benchBatch(100, 1024)
	const batches = 200
	for i := 0; i < batches; i++ {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "bench"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = append([]byte(nil), batch...)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		rc.do(req)
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.SessionEpoch = 12, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "bench"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].FetchOffset = int64(i%(batches-10)) * 100
		resp := rc.do(req).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			b.Fatalf("fetch: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
		}
		bytes += int64(len(p.RecordBatches))
	}
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}

func createTopicRawB(b *testing.B, rc *rawConn, name string, partitions int32) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	req.Topics = append(req.Topics, rt)
	if resp := rc.do(req).(*kmsg.CreateTopicsResponse); resp.Topics[0].ErrorCode != 0 {
		b.Fatalf("create: %d", resp.Topics[0].ErrorCode)
	}
}
