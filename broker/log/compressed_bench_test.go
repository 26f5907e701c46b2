package log

import (
	"fmt"
	"testing"
)

// BenchmarkValidateBatch measures produce validation (CRC, header, record walk) of one
// 100-record batch of 1 KiB values, uncompressed and under each codec: the cost of walking
// compressed batches as Kafka does. Bytes are the uncompressed records, so MB/s compare.
func BenchmarkValidateBatch(b *testing.B) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 1 << 20
	for codec := 0; codec <= 4; codec++ {
		s := batchSpec{records: 100, valueSize: 1024, attributes: int16(codec)}
		raw := encodeRecords(s)
		records := raw
		if codec != 0 {
			records = compress(b, codec, raw)
		}
		batch := makeBatchFromRecords(s, records)
		b.Run(fmt.Sprintf("codec=%s", codecNameOrNone(codec)), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := validateBatches(batch, &cfg, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func codecNameOrNone(codec int) string {
	if codec == 0 {
		return "none"
	}
	return codecName(codec)
}
