package broker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// offsetsLeader is the image's leader of group's __consumer_offsets partition, or -1.
func offsetsLeader(b *broker.Broker, groupID string) int32 {
	img := b.MetadataImage()
	t := img.Topic("__consumer_offsets")
	if t == nil {
		return -1
	}
	p := t.Partition(group.PartitionFor(groupID, int32(t.NumPartitions())))
	if p == nil {
		return -1
	}
	return p.Leader
}

// TestKRaftGroupCoordinatorMovesWithOffsetsLeadership: on three combined nodes the first
// FindCoordinator has the controller create __consumer_offsets (RF 3); every node then answers
// FindCoordinator with the image's leader of the group's offsets partition, and a node that does not
// lead it answers the group's requests NOT_COORDINATOR. When the coordinator's node stops, the new
// leader of the partition loads the group's committed offsets from its replica of the log, and a
// consumer of the group resumes from them: no record consumed twice, none skipped.
func TestKRaftGroupCoordinatorMovesWithOffsetsLeadership(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "offsets.topic.num.partitions=3")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic, groupID, n = "orders", "billing", 40
	createThroughController(ctx, t, nodes[0], topic, 1, 3)
	pr := newClient(t, nodes[0].Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range n {
		if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}

	consume := func(addr string, want int) []string {
		t.Helper()
		cl := newClient(t, addr, kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		defer cl.Close()
		var got []string
		for len(got) < want {
			fs := cl.PollRecords(ctx, want-len(got))
			if ctx.Err() != nil {
				t.Fatalf("consumed %v of %d: %v", got, want, ctx.Err())
			}
			fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
			for _, r := range fs.Records() {
				got = append(got, string(r.Value))
			}
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		return got
	}
	first := consume(nodes[1].Addr(), n/2)

	coordinator := offsetsLeader(nodes[0], groupID)
	if coordinator < 1 {
		t.Fatalf("no leader of the group's offsets partition: %d", coordinator)
	}
	for i, b := range nodes {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{groupID}
		// NB: through the seed broker itself: kgo's own routing would pick a broker.
		kresp, err := newClient(t, b.Addr()).SeedBrokers()[0].Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp := kresp.(*kmsg.FindCoordinatorResponse); len(resp.Coordinators) != 1 || resp.Coordinators[0].ErrorCode != 0 ||
			resp.Coordinators[0].NodeID != coordinator {
			t.Fatalf("node %d FindCoordinator: %+v, want node %d", i+1, resp, coordinator)
		}
	}
	other := nodes[coordinator%3] // a node that does not coordinate the group
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group = groupID
	fetch.Groups = append(fetch.Groups, fg)
	kresp, err := newClient(t, other.Addr()).SeedBrokers()[0].Request(ctx, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if resp := kresp.(*kmsg.OffsetFetchResponse); len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("OffsetFetch on node %d, which does not lead the group's partition: %+v", coordinator%3+1, resp)
	}

	// The coordinator's node stops: the group's partition moves to another node, which loads it.
	if err := nodes[coordinator-1].Close(); err != nil {
		t.Fatal(err)
	}
	alive := nodes[coordinator%3]
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if l := offsetsLeader(alive, groupID); l < 1 || l == coordinator {
			return fmt.Errorf("offsets partition leader %d", l)
		}
		offs, err := kadm.NewClient(newClient(t, alive.Addr())).FetchOffsets(ctx, groupID)
		if err != nil {
			return err
		}
		if o, ok := offs.Lookup(topic, 0); !ok || o.Err != nil || o.At != n/2 {
			return fmt.Errorf("committed offset %+v (present %v), want %d", o, ok, n/2)
		}
		return nil
	})
	second := consume(alive.Addr(), n/2)
	got := append(first, second...)
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("record %d is %q: consumed %v", i, v, got)
		}
	}
}

// TestKRaftDeletedTopicLosesItsCommittedOffsets: a group's committed offsets of a topic deleted
// through the controller are deleted by the group's coordinator when the image without the topic
// arrives (Kafka's onPartitionsDeleted), so a topic created again under the name starts without
// them; the group's offsets of other topics stay.
func TestKRaftDeletedTopicLosesItsCommittedOffsets(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "offsets.topic.num.partitions=3")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const groupID = "janitor"
	createThroughController(ctx, t, nodes[0], "gone", 2, 3)
	createThroughController(ctx, t, nodes[0], "kept", 1, 3)
	adm := kadm.NewClient(newClient(t, nodes[1].Addr()))
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "gone", Partition: 0, At: 5, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "gone", Partition: 1, At: 7, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "kept", Partition: 0, At: 3, LeaderEpoch: -1})
	// NB: the controller answers CreateTopics once the topics are committed to the metadata log;
	// the group's coordinator may apply them a moment later and answers UNKNOWN_TOPIC_OR_PARTITION
	// until then, as Kafka's does.
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		committed, err := adm.CommitOffsets(ctx, groupID, offsets)
		if err == nil {
			err = committed.Error()
		}
		return err
	})

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 10000
	del.TopicNames = []string{"gone"}
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("gone")
	del.Topics = append(del.Topics, dt)
	resp, err := broker.SendToController(ctx, nodes[0], del)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("DeleteTopics gone: %v", kerr.ErrorForCode(code))
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		fetched, err := adm.FetchOffsets(ctx, groupID)
		if err != nil {
			return err
		}
		if _, ok := fetched.Lookup("gone", 0); ok {
			return fmt.Errorf("offsets of the deleted topic still committed: %v", fetched)
		}
		if o, ok := fetched.Lookup("kept", 0); !ok || o.At != 3 {
			return fmt.Errorf("offset of kept-0: %+v (present %v), want 3", o, ok)
		}
		return nil
	})
}
