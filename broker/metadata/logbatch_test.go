package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func TestLogBatchesRoundTripAndATruncatedTailIsDropped(t *testing.T) {
	batches := []LogBatch{
		{Offset: 4, Epoch: 2, Records: EncodeRecords([]Record{&NoOpRecord{}})},
		{Offset: 9, Epoch: 3, Records: EncodeRecords([]Record{&TopicRecord{Name: "t", TopicID: Uuid{1}}, &FenceBrokerRecord{BrokerID: 1, BrokerEpoch: 7}})},
	}
	var b []byte
	for _, lb := range batches {
		b = AppendLogBatch(b, lb)
	}
	got, err := ReadLogBatches(b)
	if err != nil || !reflect.DeepEqual(got, batches) {
		t.Fatalf("ReadLogBatches = %+v, %v; want %+v", got, err, batches)
	}
	got, err = ReadLogBatches(b[:len(b)-3])
	if err != nil || len(got) != 1 || got[0].Offset != 4 {
		t.Fatalf("truncated: %+v, %v; want the first batch only", got, err)
	}
	b[len(b)-1] ^= 0xff
	if _, err := ReadLogBatches(b); !errors.Is(err, ErrCorruptLogBatch) {
		t.Fatalf("flipped byte: %v, want ErrCorruptLogBatch", err)
	}
}

func FuzzReadLogBatches(f *testing.F) {
	f.Add(AppendLogBatch(nil, LogBatch{Offset: 1, Epoch: 1, Records: EncodeRecords([]Record{&NoOpRecord{}})}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		batches, err := ReadLogBatches(b)
		if err != nil {
			return
		}
		var again []byte
		for _, lb := range batches {
			again = AppendLogBatch(again, lb)
		}
		if got, err := ReadLogBatches(again); err != nil || len(got) != len(batches) {
			t.Fatalf("re-encoded batches read back as %d, %v; want %d", len(got), err, len(batches))
		}
	})
}
