package metadata

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

var (
	ordersID = Uuid{0xa}
	eventsID = Uuid{0xb}
)

func replayAll(tb testing.TB, d *Delta, recs ...Record) {
	tb.Helper()
	for _, r := range recs {
		if err := d.Replay(r); err != nil {
			tb.Fatalf("replay %v: %v", r, err)
		}
	}
}

// buildImage: three brokers (3 fenced), topics orders (2 partitions) and events (1), configs, producer IDs.
func buildImage(tb testing.TB) *Image {
	d := NewDelta(Empty())
	replayAll(tb, d,
		&FeatureLevelRecord{Name: "metadata.version", FeatureLevel: 1},
		&RegisterBrokerRecord{BrokerID: 1, BrokerEpoch: 10, EndPoints: []EndPoint{{Name: "PLAINTEXT", Host: "h1", Port: 1}}},
		&RegisterBrokerRecord{BrokerID: 2, BrokerEpoch: 11},
		&RegisterBrokerRecord{BrokerID: 3, BrokerEpoch: 12, Fenced: true, Rack: strp("r")},
		&TopicRecord{Name: "orders", TopicID: ordersID},
		&PartitionRecord{TopicID: ordersID, PartitionID: 0, Replicas: []int32{1, 2}, Isr: []int32{1, 2}, Leader: 1},
		&PartitionRecord{TopicID: ordersID, PartitionID: 1, Replicas: []int32{2, 1}, Isr: []int32{2, 1}, Leader: 2},
		&TopicRecord{Name: "events", TopicID: eventsID},
		&PartitionRecord{TopicID: eventsID, PartitionID: 0, Replicas: []int32{2}, Isr: []int32{2}, Leader: 2},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "cleanup.policy", Value: strp("compact")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms", Value: strp("5")},
		&ProducerIdsRecord{BrokerID: 1, BrokerEpoch: 10, NextProducerID: 1000},
	)
	img, _ := d.Apply(11, 1)
	return img
}

func TestImageHelpersAnswerLeadersFollowersAndAliveBrokers(t *testing.T) {
	img := buildImage(t)
	if got := img.AliveBrokers(); !slices.Equal(got, []int32{1, 2}) {
		t.Fatalf("alive %v", got)
	}
	if l, e, ok := img.Leader("orders", 1); !ok || l != 2 || e != 0 {
		t.Fatalf("leader orders-1 = %d/%d/%t", l, e, ok)
	}
	if _, _, ok := img.Leader("orders", 7); ok {
		t.Fatal("orders-7 exists")
	}
	led := img.PartitionsLedBy(2)
	want := []TopicPartition{{eventsID, 0}, {ordersID, 1}}
	if !reflect.DeepEqual(led, want) {
		t.Fatalf("led by 2: %v", led)
	}
	if got := img.PartitionsFollowedBy(1); !reflect.DeepEqual(got, []TopicPartition{{ordersID, 1}}) {
		t.Fatalf("followed by 1: %v", got)
	}
	if v, ok := img.Config(TopicResource("orders"), "cleanup.policy"); !ok || v != "compact" {
		t.Fatalf("config %q %t", v, ok)
	}
	if img.Offset() != 11 || img.Epoch() != 1 || img.NextProducerID() != 1000 {
		t.Fatalf("provenance %d/%d pid %d", img.Offset(), img.Epoch(), img.NextProducerID())
	}
}

func TestDeltaNeverMutatesThePublishedImageAndSharesUnchangedTopics(t *testing.T) {
	base := buildImage(t)
	snapshot := AppendSnapshot(nil, base)
	d := NewDelta(base)
	replayAll(t, d,
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 0, Isr: []int32{1}, Leader: NoLeaderChange, LeaderRecoveryState: -1},
		&FenceBrokerRecord{BrokerID: 2, BrokerEpoch: 11},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "cleanup.policy"},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: strp("1")},
	)
	next, ch := d.Apply(15, 2)
	if !slices.Equal(AppendSnapshot(nil, base), snapshot) {
		t.Fatal("the base image changed")
	}
	if next.TopicByID(eventsID) != base.TopicByID(eventsID) {
		t.Fatal("unchanged topic events was copied")
	}
	if next.Partition("orders", 1) != base.Partition("orders", 1) {
		t.Fatal("unchanged partition orders-1 was copied")
	}
	p := next.Partition("orders", 0)
	if !slices.Equal(p.Isr, []int32{1}) || p.PartitionEpoch != 1 || p.LeaderEpoch != 0 {
		t.Fatalf("orders-0 after ISR change: %+v", p)
	}
	if !next.Broker(2).Fenced || base.Broker(2).Fenced {
		t.Fatal("fence not applied to the new image only")
	}
	if len(ch.Partitions) != 1 || !ch.Partitions[0].IsrChanged() || ch.Partitions[0].LeaderChanged() {
		t.Fatalf("changes %+v", ch.Partitions)
	}
	if !slices.Equal(ch.Brokers, []int32{2}) || len(ch.Configs) != 1 {
		t.Fatalf("changes brokers %v configs %v", ch.Brokers, ch.Configs)
	}
}

func TestPartitionChangeWithALeaderBumpsTheLeaderEpoch(t *testing.T) {
	d := NewDelta(buildImage(t))
	replayAll(t, d,
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 0, Leader: 1, LeaderRecoveryState: -1},
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 0, Isr: []int32{2}, Leader: 2, LeaderRecoveryState: -1},
	)
	img, ch := d.Apply(20, 1)
	p := img.Partition("orders", 0)
	if p.Leader != 2 || p.LeaderEpoch != 2 || p.PartitionEpoch != 2 {
		t.Fatalf("%+v", p)
	}
	loc := ch.Local(2)
	if len(loc.Leaders) != 1 || len(ch.Local(1).Followers) != 1 {
		t.Fatalf("local changes for 2: %+v; for 1: %+v", loc, ch.Local(1))
	}
}

func TestReplayRefusesInconsistentRecords(t *testing.T) {
	base := buildImage(t)
	bad := []Record{
		&FenceBrokerRecord{BrokerID: 9, BrokerEpoch: 1},
		&FenceBrokerRecord{BrokerID: 1, BrokerEpoch: 9},
		&TopicRecord{Name: "orders", TopicID: Uuid{0x77}},
		&TopicRecord{Name: "new", TopicID: ordersID},
		&TopicRecord{Name: "zero"},
		&PartitionRecord{TopicID: Uuid{0x77}, Replicas: []int32{1}, Leader: 1, Isr: []int32{1}},
		&PartitionRecord{TopicID: ordersID, PartitionID: 5, Replicas: []int32{1}, Isr: []int32{}, Leader: 1},
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 9, Leader: NoLeaderChange},
		&PartitionChangeRecord{TopicID: ordersID, PartitionID: 0, Leader: 3, LeaderRecoveryState: -1},
		&RemoveTopicRecord{TopicID: Uuid{0x77}},
		&ProducerIdsRecord{NextProducerID: 10},
	}
	for _, r := range bad {
		d := NewDelta(base)
		if err := d.Replay(r); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("%v: err %v, want ErrInconsistent", r, err)
		}
	}
}

func TestRemoveTopicDropsPartitionsAndConfigsAndReportsDeletes(t *testing.T) {
	d := NewDelta(buildImage(t))
	replayAll(t, d, &RemoveTopicRecord{TopicID: ordersID})
	img, ch := d.Apply(12, 1)
	if img.Topic("orders") != nil || img.Configs(TopicResource("orders")) != nil {
		t.Fatal("orders or its configs survived")
	}
	if len(ch.DeletedTopics) != 1 || len(ch.Partitions) != 2 || len(ch.Local(1).Deleted) != 2 {
		t.Fatalf("changes %+v", ch)
	}
}

func TestSnapshotRebuildsTheSameImage(t *testing.T) {
	img := buildImage(t)
	got, err := ReadSnapshot(AppendSnapshot(nil, img))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, img) {
		t.Fatalf("snapshot round trip differs:\n got %+v\nwant %+v", got, img)
	}
	b := AppendSnapshot(nil, img)
	b[5] ^= 1
	if _, err := ReadSnapshot(b); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("flipped bit: %v", err)
	}
}
