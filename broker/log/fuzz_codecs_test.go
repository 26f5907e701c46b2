package log

import (
	"errors"
	"testing"
)

// FuzzProduceBatch appends one produced batch under every codec (none, gzip, snappy, lz4, zstd):
// the fuzzer's records are compressed with the codec (or, with raw set, used as the compressed
// payload as they are), and the batch gets a valid header and CRC, so everything wrong with it
// is inside the payload. Append must never panic and only answer the log's sentinel errors;
// whatever it accepts, a consumer must be able to decode: every record of it reads back.
func FuzzProduceBatch(f *testing.F) {
	for codec := 0; codec <= 4; codec++ {
		s := batchSpec{records: 3, valueSize: 20}
		f.Add(encodeRecords(s), uint8(codec), int32(3), false)
		f.Add(encodeRecords(s), uint8(codec), int32(4), false) // one record short
		f.Add(encodeRecords(s)[:25], uint8(codec), int32(3), false)
		f.Add([]byte("not compressed at all, and random enough"), uint8(codec), int32(1), true)
	}
	f.Add(compress(f, 1, encodeRecords(batchSpec{records: 2})), uint8(1), int32(2), true)

	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.MaxMessageBytes = 64 << 10
	l := openLog(f, f.TempDir(), cfg, Options{})

	f.Fuzz(func(t *testing.T, records []byte, codec uint8, n int32, raw bool) {
		c := int(codec % 5)
		if n < 1 || n > 1000 {
			n = 1 + (n&0x7fffffff)%1000
		}
		payload := records
		if c != 0 && !raw {
			payload = compress(t, c, records)
		}
		s := batchSpec{records: int(n), attributes: int16(c)}
		batch := makeBatchFromRecords(s, payload)
		// makeBatchFromRecords sets max timestamp first+n-1; records' own deltas decide the rest.
		leo := l.LogEndOffset()
		res, err := l.Append(batch, 1)
		if err != nil {
			if !(errors.Is(err, ErrCorruptMessage) || errors.Is(err, ErrInvalidRecord) || errors.Is(err, ErrMessageTooLarge)) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if l.LogEndOffset() != leo {
				t.Fatal("a rejected append moved the log end offset")
			}
			return
		}
		got := int32(0)
		if err := l.ScanRecords(res.BaseOffset, func(r Record) error {
			if r.Offset <= res.LastOffset {
				got++
			}
			return nil
		}); err != nil {
			t.Fatalf("accepted a codec %d batch that does not read back: %v", c, err)
		}
		if got != n {
			t.Fatalf("accepted a codec %d batch of %d records; %d read back", c, n, got)
		}
	})
}
