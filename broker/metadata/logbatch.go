package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrCorruptLogBatch is wrapped by ReadLogBatches for bytes that are not log batches.
var ErrCorruptLogBatch = errors.New("metadata: corrupt metadata log batch")

// LogBatch is one committed batch of the metadata log as it travels over Kafka's Fetch on
// __cluster_metadata-0: Offset is the quorum index, Epoch the term that wrote it, Records the
// encoded records (EncodeRecords).
type LogBatch struct {
	Offset  int64
	Epoch   int32
	Records [][]byte
}

// Offsets into a v2 record batch header.
const (
	batchOffLength     = 8
	batchOffEpoch      = 12
	batchOffCRC        = 17
	batchOffAttributes = 21
	batchHeaderBytes   = 61
	batchLengthPrefix  = 12 // base offset and length, outside Length
)

// AppendLogBatch appends b as a Kafka v2 record batch (magic 2, CRC-32C, uncompressed): base offset
// b.Offset, partition leader epoch b.Epoch, one record whose value holds the records (a uvarint
// count, then each as a uvarint length and its bytes). NB: one Kafka record per metadata batch keeps
// one offset per quorum index, so offsets are the quorum's and a fetch position is an index.
func AppendLogBatch(dst []byte, b LogBatch) []byte {
	var value []byte
	value = binary.AppendUvarint(value, uint64(len(b.Records)))
	for _, r := range b.Records {
		value = binary.AppendUvarint(value, uint64(len(r)))
		value = append(value, r...)
	}
	rec := kmsg.Record{Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the varint of a zero length is one byte
	batch := kmsg.RecordBatch{
		FirstOffset: b.Offset, PartitionLeaderEpoch: b.Epoch, Magic: 2,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1,
		Records: rec.AppendTo(nil),
	}
	start := len(dst)
	dst = batch.AppendTo(dst)
	raw := dst[start:]
	binary.BigEndian.PutUint32(raw[batchOffLength:], uint32(len(raw)-batchLengthPrefix))
	binary.BigEndian.PutUint32(raw[batchOffCRC:], crc32.Checksum(raw[batchOffAttributes:], castagnoli))
	return dst
}

// ReadLogBatches decodes the record batches of a Fetch response's records. A truncated batch at the
// end (a fetch cut at its byte limit) is dropped, as Kafka's clients do. Records alias b.
func ReadLogBatches(b []byte) ([]LogBatch, error) {
	var out []LogBatch
	for len(b) >= batchLengthPrefix {
		length := int64(int32(binary.BigEndian.Uint32(b[batchOffLength:])))
		if length < batchHeaderBytes-batchLengthPrefix {
			return out, fmt.Errorf("%w: batch length %d", ErrCorruptLogBatch, length)
		}
		if int64(len(b)) < batchLengthPrefix+length {
			break
		}
		raw := b[:batchLengthPrefix+length]
		b = b[batchLengthPrefix+length:]
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw); err != nil {
			return out, fmt.Errorf("%w: %v", ErrCorruptLogBatch, err)
		}
		if batch.Magic != 2 || uint32(batch.CRC) != crc32.Checksum(raw[batchOffAttributes:], castagnoli) {
			return out, fmt.Errorf("%w: magic %d or CRC mismatch at offset %d", ErrCorruptLogBatch, batch.Magic, batch.FirstOffset)
		}
		if batch.Attributes&0x07 != 0 || batch.NumRecords != 1 {
			return out, fmt.Errorf("%w: offset %d: compressed or %d records", ErrCorruptLogBatch, batch.FirstOffset, batch.NumRecords)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(batch.Records); err != nil {
			return out, fmt.Errorf("%w: offset %d: %v", ErrCorruptLogBatch, batch.FirstOffset, err)
		}
		records, err := splitRecords(rec.Value)
		if err != nil {
			return out, fmt.Errorf("%w: offset %d: %v", ErrCorruptLogBatch, batch.FirstOffset, err)
		}
		out = append(out, LogBatch{Offset: batch.FirstOffset, Epoch: batch.PartitionLeaderEpoch, Records: records})
	}
	return out, nil
}

func splitRecords(v []byte) ([][]byte, error) {
	count, n := binary.Uvarint(v)
	if n <= 0 || count > uint64(len(v)) {
		return nil, errors.New("bad record count")
	}
	v = v[n:]
	out := make([][]byte, 0, count)
	for range count {
		l, n := binary.Uvarint(v)
		if n <= 0 || l > uint64(len(v)-n) {
			return nil, fmt.Errorf("record %d overruns the batch", len(out))
		}
		out = append(out, v[n:n+int(l):n+int(l)])
		v = v[n+int(l):]
	}
	if len(v) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(v))
	}
	return out, nil
}
