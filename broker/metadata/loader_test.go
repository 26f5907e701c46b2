package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func TestLoaderPublishesWholeBatchesOnly(t *testing.T) {
	pub := NewPublisher(Empty())
	var updates []Update
	pub.Subscribe("test", func(u Update) { updates = append(updates, u) })
	l := NewLoader(pub)
	if err := l.ApplyBatch(1, 1, EncodeRecords([]Record{
		&RegisterBrokerRecord{BrokerID: 1, BrokerEpoch: 1},
		&TopicRecord{Name: "t", TopicID: ordersID},
		&PartitionRecord{TopicID: ordersID, Replicas: []int32{1}, Isr: []int32{1}, Leader: 1},
	})); err != nil {
		t.Fatal(err)
	}
	// The second record is inconsistent: the first must not be published either.
	err := l.ApplyBatch(2, 1, EncodeRecords([]Record{
		&PartitionChangeRecord{TopicID: ordersID, Isr: []int32{1}, Leader: NoLeader, LeaderRecoveryState: -1},
		&FenceBrokerRecord{BrokerID: 9},
	}))
	if !errors.Is(err, ErrInconsistent) {
		t.Fatalf("err %v, want ErrInconsistent", err)
	}
	if err := l.ApplyBatch(2, 1, [][]byte{{0xff}}); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("err %v, want ErrCorruptRecord", err)
	}
	if len(updates) != 1 || pub.Current().Offset() != 1 || pub.Current().Partition("t", 0).Leader != 1 {
		t.Fatalf("%d updates, current offset %d", len(updates), pub.Current().Offset())
	}
	loc := updates[0].Changes.Local(1)
	if len(loc.Leaders) != 1 || len(updates[0].Changes.CreatedTopics) != 1 {
		t.Fatalf("changes %+v", updates[0].Changes)
	}
	// The loader continues from the published image after the failure.
	if err := l.ApplyBatch(3, 1, EncodeRecords([]Record{&FenceBrokerRecord{BrokerID: 1, BrokerEpoch: 1}})); err != nil {
		t.Fatal(err)
	}
}

func TestLoadSnapshotPublishesTheDifference(t *testing.T) {
	pub := NewPublisher(Empty())
	var got *Changes
	pub.Subscribe("test", func(u Update) { got = u.Changes })
	l := NewLoader(pub)
	img := buildImage(t)
	if err := l.LoadSnapshot(AppendSnapshot(nil, img)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pub.Current(), img) {
		t.Fatal("published image differs from the snapshot's")
	}
	if len(got.Brokers) != 3 || len(got.CreatedTopics) != 2 || len(got.Partitions) != 3 || len(got.Configs) != 2 || !got.ProducerIDs || !got.Features {
		t.Fatalf("changes from empty: %+v", got)
	}
	// A later snapshot without orders reports its partitions deleted.
	d := NewDelta(img)
	replayAll(t, d, &RemoveTopicRecord{TopicID: ordersID})
	next, want := d.Apply(20, 2)
	if err := l.LoadSnapshot(AppendSnapshot(nil, next)); err != nil {
		t.Fatal(err)
	}
	if len(got.DeletedTopics) != 1 || len(got.Partitions) != len(want.Partitions) || len(got.Local(1).Deleted) != 2 {
		t.Fatalf("diff %+v, delta said %+v", got, want)
	}
}

func TestLocalChangesSortPartitionsByTheirMeaningToABroker(t *testing.T) {
	d := NewDelta(buildImage(t))
	replayAll(t, d,
		// orders-0: leader 1 → 2 (broker 1 now follows, 2 leads).
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 0, Leader: 2, LeaderRecoveryState: -1},
		// orders-1: led by 2, ISR shrinks.
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 1, Isr: []int32{2}, Leader: NoLeaderChange, LeaderRecoveryState: -1},
		// events-0: reassigned from [2] to [3].
		&PartitionChangeRecord{TopicID: eventsID, PartitionID: 0, Replicas: []int32{3}, Isr: []int32{}, Leader: NoLeader, LeaderRecoveryState: -1},
	)
	_, ch := d.Apply(30, 1)
	l1, l2, l3 := ch.Local(1), ch.Local(2), ch.Local(3)
	if len(l1.Followers) != 1 || len(l1.Leaders)+len(l1.Deleted)+len(l1.IsrOnly) != 0 {
		t.Fatalf("broker 1: %+v", l1)
	}
	if len(l2.Leaders) != 1 || len(l2.IsrOnly) != 1 || len(l2.Deleted) != 1 {
		t.Fatalf("broker 2: %+v", l2)
	}
	if len(l3.Followers) != 1 {
		t.Fatalf("broker 3: %+v", l3)
	}
}
