package broker_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

var codecs = []struct {
	name string
	id   int16
}{{"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}}

// compressWith streams src through a Kafka codec (snappy: a raw block, as franz-go sends it).
func compressWith(t testing.TB, codec int16, src io.Reader) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch codec {
	case 1:
		w = gzip.NewWriter(&buf)
	case 2:
		raw, err := io.ReadAll(src)
		if err != nil {
			t.Fatal(err)
		}
		return snappy.Encode(nil, raw)
	case 3:
		w = lz4.NewWriter(&buf)
	case 4:
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	if _, err := io.Copy(struct{ io.Writer }{w}, src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// batchWithPayload builds a v2 batch claiming n records under codec, with payload as its records
// field and a valid CRC: whatever is wrong with it is inside the payload.
func batchWithPayload(codec int16, n int32, ts int64, payload []byte) []byte {
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec, LastOffsetDelta: n - 1,
		FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: n, Records: payload,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// encodeRecords is the uncompressed records field of recs (offset deltas 0..n-1).
func encodeRecords(recs ...kmsg.Record) []byte {
	var out []byte
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
		recs[i].Length = 0
		recs[i].Length = int32(len(recs[i].AppendTo(nil)) - 1)
		out = recs[i].AppendTo(out)
	}
	return out
}

func TestProduceOfUndecompressableBatchAnswersCorruptMessageAndConsumersReachLaterRecords(t *testing.T) {
	tb := testbroker.Start(t)
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "codecs", 1, nil)
	now := time.Now().UnixMilli()
	rng := rand.New(rand.NewPCG(1, 2))
	good := 0
	for _, c := range codecs {
		garbage := make([]byte, 512)
		for i := range garbage {
			garbage[i] = byte(rng.Uint32())
		}
		if c.id == 2 {
			garbage[0] = 0x82 // not a valid raw snappy block length either way: xerial magic, cut short
		}
		got := produceRaw(t, rc, "codecs", -1, batchWithPayload(c.id, 3, now, garbage))
		if got.ErrorCode != kerr.CorruptMessage.Code {
			t.Errorf("%s random payload: %v, want CORRUPT_MESSAGE", c.name, kerr.ErrorForCode(got.ErrorCode))
		}

		valid := encodeRecords(record("k", "v1"), record("k", "v2"), record("k", "v3"))
		skipping := encodeRecords(record("k", "a"), record("k", "b"))
		skipping[len(skipping)-6] = 4 // the second record's offset delta: 2, not 1
		cases := map[string]struct {
			n       int32
			payload []byte
			want    *kerr.Error
		}{
			"truncated stream":       {3, compressWith(t, c.id, bytes.NewReader(valid))[:20], kerr.CorruptMessage},
			"fewer records than say": {4, compressWith(t, c.id, bytes.NewReader(valid)), kerr.InvalidRecord},
			"more records than say":  {2, compressWith(t, c.id, bytes.NewReader(valid)), kerr.InvalidRecord},
			"offset delta skips":     {2, compressWith(t, c.id, bytes.NewReader(skipping)), kerr.InvalidRecord},
		}
		if c.id == 2 { // a cut raw snappy block can still decode to a shorter, wrong stream
			cases["truncated stream"] = struct {
				n       int32
				payload []byte
				want    *kerr.Error
			}{3, compressWith(t, c.id, bytes.NewReader(valid[:len(valid)-3])), kerr.InvalidRecord}
		}
		for name, tc := range cases {
			if got := produceRaw(t, rc, "codecs", -1, batchWithPayload(c.id, tc.n, now, tc.payload)); got.ErrorCode != tc.want.Code {
				t.Errorf("%s %s: %v, want %v", c.name, name, kerr.ErrorForCode(got.ErrorCode), tc.want)
			}
		}
		future := encodeRecords(record("k", "late"))
		future[2] = 0x02 // timestamp delta +1ms past the batch's max timestamp
		if got := produceRaw(t, rc, "codecs", -1, batchWithPayload(c.id, 1, now, compressWith(t, c.id, bytes.NewReader(future)))); got.ErrorCode != kerr.InvalidRecord.Code {
			t.Errorf("%s record past max timestamp: %v, want INVALID_RECORD", c.name, kerr.ErrorForCode(got.ErrorCode))
		}
		if got := produceRaw(t, rc, "codecs", -1, batchWithPayload(c.id, 3, now, compressWith(t, c.id, bytes.NewReader(valid)))); got.ErrorCode != 0 {
			t.Fatalf("%s valid batch: %v", c.name, kerr.ErrorForCode(got.ErrorCode))
		}
		good += 3
	}
	// Nothing undecodable was stored: a consumer reads every good record and nothing else.
	recs := consumeAll(t, tb.Addr(), "codecs", good, kgo.FetchMaxWait(200*time.Millisecond))
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, r.Offset)
		}
	}
	bs.stop(t)
}

// zerosRecord streams one record whose value is size zero bytes, without holding it in memory.
func zerosRecord(size int64) io.Reader {
	var body []byte
	body = append(body, 0)                 // attributes
	body = binary.AppendVarint(body, 0)    // timestamp delta
	body = binary.AppendVarint(body, 0)    // offset delta
	body = binary.AppendVarint(body, -1)   // null key
	body = binary.AppendVarint(body, size) // value length
	tail := binary.AppendVarint(nil, 0)    // no headers
	head := binary.AppendVarint(nil, int64(len(body))+size+int64(len(tail)))
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(body), io.LimitReader(zeroReader{}, size), bytes.NewReader(tail))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestProduceOfDecompressionBombAnswersMessageTooLargeWithoutInflatingTheHeap(t *testing.T) {
	tb := testbroker.Start(t)
	bs := startBystander(t, tb.Addr(), "bystander")
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "bombs", 1, nil)
	// 65 MiB of zeros: past the bound of 64 × max.message.bytes (1 MiB by default).
	const size = 65 << 20
	// NB: snappy expands at most ~21×, so a snappy batch within max.message.bytes cannot get there.
	for _, c := range []int16{1, 3, 4} {
		payload := compressWith(t, c, zerosRecord(size))
		batch := batchWithPayload(c, 1, time.Now().UnixMilli(), payload)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := produceRaw(t, rc, "bombs", -1, batch)
		runtime.ReadMemStats(&after)
		if got.ErrorCode != kerr.MessageTooLarge.Code {
			t.Errorf("codec %d: %d KiB expanding to 65 MiB: %v, want MESSAGE_TOO_LARGE", c, len(payload)>>10, kerr.ErrorForCode(got.ErrorCode))
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("codec %d: validating the bomb allocated %d MiB, want under 32 MiB", c, grew>>20)
		}
	}
	bs.stop(t)
}
