package metadata

import (
	"fmt"
	"testing"
)

// bigImage has brokers 1..3 and topics topics of partitions partitions each (RF 3).
func bigImage(b *testing.B, topics, partitions int) *Image {
	d := NewDelta(Empty())
	for id := int32(1); id <= 3; id++ {
		replayAll(b, d, &RegisterBrokerRecord{BrokerID: id, BrokerEpoch: int64(id)})
	}
	for t := range topics {
		id := Uuid{byte(t >> 16), byte(t >> 8), byte(t), 1}
		replayAll(b, d, &TopicRecord{Name: fmt.Sprintf("topic-%d", t), TopicID: id})
		for p := range partitions {
			replayAll(b, d, &PartitionRecord{TopicID: id, PartitionID: int32(p), Replicas: []int32{1, 2, 3},
				Isr: []int32{1, 2, 3}, Leader: int32(p%3 + 1)})
		}
	}
	img, _ := d.Apply(0, 1)
	return img
}

// BenchmarkApplyIsrChange is what a broker's metadata loader pays per committed AlterPartition batch:
// one PartitionChangeRecord on an image of 1000 topics × 10 partitions, Replay + Apply + Changes.
func BenchmarkApplyIsrChange(b *testing.B) {
	img := bigImage(b, 1000, 10)
	id := Uuid{0, 0, 7, 1}
	rec := &PartitionChangeRecord{TopicID: id, PartitionID: 3, Isr: []int32{1, 2}, Leader: NoLeaderChange, LeaderRecoveryState: -1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := NewDelta(img)
		if err := d.Replay(rec); err != nil {
			b.Fatal(err)
		}
		d.Apply(int64(i), 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

// BenchmarkDecodeRecord measures decoding a PartitionChangeRecord from its bytes.
func BenchmarkDecodeRecord(b *testing.B) {
	raw := EncodeRecord(&PartitionChangeRecord{TopicID: Uuid{1}, PartitionID: 3, Isr: []int32{1, 2}, Leader: 2, LeaderRecoveryState: -1})
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		if _, err := DecodeRecord(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
