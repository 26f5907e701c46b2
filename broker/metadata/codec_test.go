package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func strp(s string) *string { return &s }

func sampleRecords() []Record {
	id := Uuid{1, 2, 3}
	return []Record{
		&RegisterBrokerRecord{BrokerID: 1, IncarnationID: Uuid{9}, BrokerEpoch: 7,
			EndPoints: []EndPoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}, Rack: strp("r1"), Fenced: true},
		&RegisterBrokerRecord{BrokerID: 2, BrokerEpoch: 8},
		&FenceBrokerRecord{BrokerID: 1, BrokerEpoch: 7},
		&UnfenceBrokerRecord{BrokerID: 1, BrokerEpoch: 7},
		&BrokerRegistrationChangeRecord{BrokerID: 1, BrokerEpoch: 7, Fenced: -1, InControlledShutdown: 1},
		&TopicRecord{Name: "orders", TopicID: id},
		&PartitionRecord{PartitionID: 0, TopicID: id, Replicas: []int32{1, 2}, Isr: []int32{1}, Leader: 1,
			LeaderEpoch: 3, PartitionEpoch: 4, RemovingReplicas: []int32{}, AddingReplicas: nil},
		&PartitionChangeRecord{PartitionID: 0, TopicID: id, Isr: []int32{1, 2}, Leader: NoLeaderChange,
			LeaderRecoveryState: NoLeaderRecoveryChange},
		&PartitionChangeRecord{PartitionID: 0, TopicID: id, Isr: []int32{}, Leader: NoLeader, Replicas: []int32{2},
			AddingReplicas: []int32{}, RemovingReplicas: []int32{}, LeaderRecoveryState: 1},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: strp("1000")},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms"},
		&RemoveTopicRecord{TopicID: id},
		&ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 7, NextProducerID: 2000},
		&FeatureLevelRecord{Name: "metadata.version", FeatureLevel: 1},
		&NoOpRecord{},
	}
}

func TestRecordsRoundTripThroughTheEncoding(t *testing.T) {
	for _, rec := range sampleRecords() {
		got, err := DecodeRecord(EncodeRecord(rec))
		if err != nil {
			t.Fatalf("%v: %v", rec, err)
		}
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, rec)
		}
	}
}

func TestDecodeRejectsTruncatedTrailingAndUnknown(t *testing.T) {
	enc := EncodeRecord(sampleRecords()[0])
	for i := range len(enc) {
		if _, err := DecodeRecord(enc[:i]); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("prefix of %d bytes: err %v, want ErrCorruptRecord", i, err)
		}
	}
	if _, err := DecodeRecord(append(enc, 0)); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("trailing byte: err %v", err)
	}
	if _, err := DecodeRecord([]byte{1, 99, 0}); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("unknown key: err %v", err)
	}
	if _, err := DecodeRecord([]byte{1, 20, 5}); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("future version: err %v", err)
	}
}

// FuzzDecodeRecord: the decoder never panics, and whatever it accepts re-encodes to bytes that decode to
// the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(EncodeRecord(r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeRecord(EncodeRecord(rec))
		if err != nil {
			t.Fatalf("re-encoded %v does not decode: %v", rec, err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encoding changed the record:\n%#v\n%#v", rec, again)
		}
	})
}

// FuzzReadSnapshot: reading arbitrary bytes as a snapshot never panics.
func FuzzReadSnapshot(f *testing.F) {
	f.Add(AppendSnapshot(nil, buildImage(f)))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := ReadSnapshot(b)
		if err != nil {
			return
		}
		if _, err := ReadSnapshot(AppendSnapshot(nil, img)); err != nil {
			t.Fatalf("re-written snapshot does not read: %v", err)
		}
	})
}
