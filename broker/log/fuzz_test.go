package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzAppend feeds arbitrary Produce records fields to Append on a plain and a compacted log.
// Append must never panic; an accepted append must read back byte for byte (after the offset
// rewrite), and a rejected one must leave the log untouched.
func FuzzAppend(f *testing.F) {
	good := makeBatch(batchSpec{records: 3, valueSize: 10})
	f.Add(good, false)
	f.Add(append(append([]byte(nil), good...), good...), false)
	f.Add(makeBatch(batchSpec{records: 2, producerID: 7, firstSeq: 0}), false)
	f.Add(makeBatch(batchSpec{records: 2, nullKeys: true}), false)
	f.Add(good[:30], false)
	f.Add(append(append([]byte(nil), good...), 0, 0, 0), false)
	bad := append([]byte(nil), good...)
	bad[16] = 1
	f.Add(bad, false)
	bad = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(bad[57:], 9)
	fixCRC(bad)
	f.Add(bad, false)
	for codec := 1; codec <= 4; codec++ {
		s := batchSpec{records: 3, attributes: int16(codec)}
		f.Add(makeBatchFromRecords(s, compress(f, codec, encodeRecords(s))), false)
		s.nullKeys = true
		f.Add(makeBatchFromRecords(s, compress(f, codec, encodeRecords(s))), true)
	}

	cfg := testConfig()
	cfg.SegmentBytes = 64 << 10
	cfg.MaxMessageBytes = 32 << 10
	plain := openLog(f, f.TempDir(), cfg, Options{})
	cfg.Compact = true
	compacted := openLog(f, f.TempDir(), cfg, Options{})

	// With repair set, the first batch's length and CRC are made right, so the fuzzer gets past
	// them into the record parsing.
	f.Fuzz(func(t *testing.T, data []byte, repair bool) {
		if repair && len(data) >= BatchHeaderSize && data[offMagic] == 2 {
			binary.BigEndian.PutUint32(data[offLength:], uint32(len(data)-lengthOverhead))
			fixCRC(data)
		}
		_, _ = ParseBatchHeader(data)
		for _, l := range []*Log{plain, compacted} {
			in := append([]byte(nil), data...)
			leo, size := l.LogEndOffset(), l.Size()
			res, err := l.Append(in, 1)
			if err != nil {
				known := errors.Is(err, ErrCorruptMessage) || errors.Is(err, ErrInvalidRecord) ||
					errors.Is(err, ErrUnsupportedMessageFormat) || errors.Is(err, ErrMessageTooLarge) ||
					errors.Is(err, ErrOutOfOrderSequence) || errors.Is(err, ErrInvalidProducerEpoch)
				if !known {
					t.Fatalf("unexpected error kind: %v", err)
				}
				if l.LogEndOffset() != leo || l.Size() != size {
					t.Fatalf("rejected append changed the log")
				}
				continue
			}
			if res.Duplicate {
				continue
			}
			c, err := l.Read(res.BaseOffset, len(in), l.LogEndOffset())
			if err != nil {
				t.Fatalf("Read back: %v", err)
			}
			got, err := c.ReadInto(nil)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("read back %d bytes, appended %d (%v)", len(got), len(in), err)
			}
		}
	})
}
