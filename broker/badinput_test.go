package broker_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// expectClosed checks that the broker closes c (after whatever it answers).
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: connection still open after 5s", what)
		}
	}
}

func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("socket.request.max.bytes", "1048576"))
	good := dialRaw(t, tb.Addr())
	createTopicRaw(t, good, "ok", 1, nil)

	frames := map[string][]byte{
		"garbage":           []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"negative length":   {0x80, 0, 0, 0, 1, 2, 3},
		"huge length":       {0x7f, 0xff, 0xff, 0xff, 0, 0},
		"over max request":  binary.BigEndian.AppendUint32(nil, 2<<20),
		"unknown api key":   {0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff},
		"unsupported fetch": {0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, // Fetch v0
		"truncated request": func() []byte {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("some-topic")}}
			f := encodeFrame(req, 1)
			f = f[:len(f)-6]
			binary.BigEndian.PutUint32(f, uint32(len(f)-4))
			return f
		}(),
	}
	for name, f := range frames {
		c, err := net.Dial("tcp", tb.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(f); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		expectClosed(t, c, name)
		c.Close()

		// The well-behaved client on its own connection carries on.
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 12
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("ok")}}
		if resp := good.do(req).(*kmsg.MetadataResponse); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("after %s: metadata for the good client failed", name)
		}
	}
}

func produceRaw(t *testing.T, rc *rawConn, topic string, acks int16, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rc.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

func TestProduceRejectsBadBatchesWithKafkaErrors(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("auto.create.topics.enable", "false"))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "strict", 1, map[string]string{"max.message.bytes": "1000"})
	createTopicRaw(t, rc, "compacted", 1, map[string]string{"cleanup.policy": "compact"})
	createTopicRaw(t, rc, "big", 1, nil)
	now := time.Now().UnixMilli()
	valid := func() []byte { return recordBatch(-1, -1, -1, now, record("k", "v")) }

	badCRC := valid()
	badCRC[len(badCRC)-1] ^= 0xff
	countMismatch := valid()
	binary.BigEndian.PutUint32(countMismatch[57:], 5) // NumRecords 5, LastOffsetDelta 0 (CRC not fixed: fix it)
	fixCRC(countMismatch)
	magic1 := valid()
	magic1[16] = 1
	// A batch spanning many 4 KiB chunks, corrupted mid-way: its CRC comes from the read-time
	// chunk sums, which must catch it too.
	bigRecs := make([]kmsg.Record, 0, 40)
	for i := 0; i < 40; i++ {
		bigRecs = append(bigRecs, record("k", string(make([]byte, 500))))
	}
	bigBad := recordBatch(-1, -1, -1, now, bigRecs...)
	bigBad[len(bigBad)/2] ^= 0x01
	cases := []struct {
		name  string
		topic string
		acks  int16
		recs  []byte
		want  *kerr.Error
	}{
		{"crc mismatch", "strict", -1, badCRC, kerr.CorruptMessage},
		{"crc mismatch in a 20 KiB batch", "big", -1, bigBad, kerr.CorruptMessage},
		{"truncated batch", "strict", -1, valid()[:40], kerr.CorruptMessage},
		{"record count vs offset delta", "strict", -1, countMismatch, kerr.InvalidRecord},
		{"too large", "strict", -1, recordBatch(-1, -1, -1, now, record("k", string(make([]byte, 2000)))), kerr.MessageTooLarge},
		{"old magic", "strict", -1, magic1, kerr.UnsupportedForMessageFormat},
		{"keyless record on compacted topic", "compacted", -1, recordBatch(-1, -1, -1, now, record("", "v")), kerr.InvalidRecord},
		{"unknown topic", "nope", -1, valid(), kerr.UnknownTopicOrPartition},
		{"bad acks", "strict", 2, valid(), kerr.InvalidRequiredAcks},
	}
	for _, c := range cases {
		got := produceRaw(t, rc, c.topic, c.acks, c.recs)
		if got.ErrorCode != c.want.Code {
			t.Errorf("%s: %v, want %v", c.name, kerr.ErrorForCode(got.ErrorCode), c.want)
		}
	}
	// The same big batch uncorrupted is accepted (its CRC also comes from the chunk sums).
	bigBad[len(bigBad)/2] ^= 0x01
	if ok := produceRaw(t, rc, "big", -1, bigBad); ok.ErrorCode != 0 {
		t.Fatalf("valid 20 KiB batch: %v", kerr.ErrorForCode(ok.ErrorCode))
	}
	// Nothing bad was appended; a good batch lands at offset 0.
	if ok := produceRaw(t, rc, "strict", -1, valid()); ok.ErrorCode != 0 || ok.BaseOffset != 0 {
		t.Fatalf("valid batch after rejects: %v at %d, want offset 0", kerr.ErrorForCode(ok.ErrorCode), ok.BaseOffset)
	}

	// Metadata for an invalid topic name answers INVALID_TOPIC_EXCEPTION.
	req := kmsg.NewPtrMetadataRequest()
	req.Version, req.AllowAutoTopicCreation = 12, true
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("bad name!")}, {Topic: kmsg.StringPtr("missing")}}
	mr := rc.do(req).(*kmsg.MetadataResponse)
	if mr.Topics[0].ErrorCode != kerr.InvalidTopicException.Code || mr.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata: %v / %v, want INVALID_TOPIC_EXCEPTION / UNKNOWN_TOPIC_OR_PARTITION (auto-create is off)",
			kerr.ErrorForCode(mr.Topics[0].ErrorCode), kerr.ErrorForCode(mr.Topics[1].ErrorCode))
	}
}

func fixCRC(b []byte) {
	fixed := recordBatchCRC(b)
	binary.BigEndian.PutUint32(b[17:], fixed)
}

func TestFetchLongPollWakesOnNewData(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "wait", 1, nil)
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.MinBytes, req.MaxWaitMillis, req.SessionEpoch = 12, 1<<20, 1, 10_000, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "wait"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	corr := rc.send(req)
	time.Sleep(200 * time.Millisecond)
	other := dialRaw(t, tb.Addr())
	produceRaw(t, other, "wait", -1, recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "wake")))
	resp, err := rc.recv(req, corr)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]; len(p.RecordBatches) == 0 {
		t.Fatal("long poll returned without the new record")
	}
	if took > 3*time.Second || took < 150*time.Millisecond {
		t.Fatalf("long poll answered after %v; want soon after the produce at ~200ms", took)
	}

	// With no data the fetch waits max_wait_ms, then answers empty.
	req.MaxWaitMillis = 300
	req.Topics[0].Partitions[0].FetchOffset = 1
	start = time.Now()
	resp = rc.do(req)
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("empty fetch answered after %v, before max_wait_ms", took)
	}
	if p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]; len(p.RecordBatches) != 0 || p.ErrorCode != 0 {
		t.Fatalf("empty fetch: %d bytes, error %d", len(p.RecordBatches), p.ErrorCode)
	} else if p.RecordBatches == nil {
		t.Fatal("empty fetch sent a null records field; librdkafka rejects it (Kafka sends length 0)")
	}
}

func TestFetchHonoursMaxBytesButReturnsOneOversizedBatch(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "sizes", 2, nil)
	for i := 0; i < 10; i++ {
		for p := int32(0); p < 2; p++ {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "sizes"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", string(make([]byte, 1000))))
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			rc.do(req)
		}
	}
	fetch := func(maxBytes, partMax int32) []int {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.SessionEpoch = 12, maxBytes, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "sizes"
		for p := int32(0); p < 2; p++ {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes = p, partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := rc.do(req).(*kmsg.FetchResponse)
		var sizes []int
		for _, p := range resp.Topics[0].Partitions {
			sizes = append(sizes, len(p.RecordBatches))
		}
		return sizes
	}
	batch := len(recordBatch(-1, -1, -1, 0, record("k", string(make([]byte, 1000)))))
	if s := fetch(100, 100); s[0] != batch || s[1] != 0 {
		t.Fatalf("max_bytes 100: got %v, want one whole batch (%d) then nothing", s, batch)
	}
	if s := fetch(1<<20, int32(3*batch)); s[0] != 3*batch || s[1] != 3*batch {
		t.Fatalf("partition_max_bytes 3 batches: got %v, want %d each", s, 3*batch)
	}
	if s := fetch(int32(4*batch), 1<<20); s[0]+s[1] != 4*batch {
		t.Fatalf("max_bytes 4 batches: got %v, want %d in total", s, 4*batch)
	}
}
