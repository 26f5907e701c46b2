package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KeyValue is a record to encode: a nil Value is a tombstone.
type KeyValue struct {
	Key, Value []byte
}

// EncodeBatch builds an uncompressed v2 record batch (no producer, no headers) holding recs, all
// with the given timestamp (ms). The broker uses it for the records it writes itself.
func EncodeBatch(timestamp int64, recs []KeyValue) []byte {
	var records []byte
	for i, kv := range recs {
		r := kmsg.Record{OffsetDelta: int32(i), Key: kv.Key, Value: kv.Value}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the length varint of 0 is one byte
		records = r.AppendTo(records)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       timestamp,
		MaxTimestamp:         timestamp,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[offLength:], uint32(len(raw)-lengthOverhead))
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
	return raw
}

// Record is a record read back from the log. Key and Value alias a buffer that is reused after
// the callback returns; nil means null.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []kmsg.Header
}

// ScanRecords calls fn for every record from offset from up to the log end offset, in order,
// decompressing batches as needed. Control batches are skipped. An error from fn stops the scan.
func (l *Log) ScanRecords(from int64, fn func(Record) error) error {
	from = max(from, l.LogStartOffset())
	var buf []byte
	for from < l.LogEndOffset() {
		chunk, err := l.Read(from, 1<<20, l.LogEndOffset())
		if err != nil {
			return err
		}
		if chunk.Size == 0 {
			return nil
		}
		if buf, err = chunk.ReadInto(buf[:0]); err != nil {
			return err
		}
		for b := buf; len(b) > 0; {
			h, err := ParseBatchHeader(b)
			if err != nil || h.Size() > int64(len(b)) {
				return fmt.Errorf("scan at offset %d: bad batch", from)
			}
			batch := b[:h.Size()]
			b = b[h.Size():]
			if h.IsControl() {
				continue
			}
			records := batch[BatchHeaderSize:]
			if codec := h.Compression(); codec != 0 {
				if records, err = decompress(codec, records); err != nil {
					return fmt.Errorf("scan at offset %d: %w", h.BaseOffset, err)
				}
			}
			for i := int32(0); i < h.NumRecords && len(records) > 0; i++ {
				length, k := binary.Varint(records)
				if k <= 0 || length < 0 || int64(len(records)-k) < length {
					return fmt.Errorf("scan at offset %d: bad record", h.BaseOffset)
				}
				var r kmsg.Record
				if err := r.ReadFrom(records[:k+int(length)]); err != nil {
					return fmt.Errorf("scan at offset %d: %w", h.BaseOffset, err)
				}
				records = records[k+int(length):]
				off := h.BaseOffset + int64(r.OffsetDelta)
				if off < from {
					continue
				}
				if err := fn(Record{Offset: off, Timestamp: h.FirstTimestamp + r.TimestampDelta64, Key: r.Key, Value: r.Value, Headers: r.Headers}); err != nil {
					return err
				}
			}
		}
		if next := chunk.NextOffset(); next > from {
			from = next
		} else {
			return nil
		}
	}
	return nil
}
