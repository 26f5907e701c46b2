//go:build unix

package compat_test

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

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// produceFailover produces values to topic with acks=all through cl, failing the test on any error
// or after timeout (kgo retries a record already sent whatever its context says).
func produceFailover(t *testing.T, cl *kgo.Client, topic string, values []string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)}
	}
	done := make(chan error, 1)
	go func() { done <- cl.ProduceSync(ctx, recs...).FirstErr() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("produce %d records: %v", len(values), err)
		}
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("produce %d records: no answer in %v", len(values), timeout)
	}
}

// numbered returns the values "prefix-from" .. "prefix-(to-1)".
func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, prefix+"-"+strconv.Itoa(i))
	}
	return out
}

// groupConsumer is a franz-go group member that records what it polled.
type groupConsumer struct {
	cl   *kgo.Client
	seen map[string]int // value → times polled
	// offsets of every record polled, by partition, for the resume check.
	offsets map[int32][]int64
	polled  int
}

func newGroupConsumer(t *testing.T, c *testcluster.Cluster, groupID, topic string) *groupConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(200*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second), kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.AutoCommitCallback(func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				t.Logf("auto-commit: %v", err)
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						t.Logf("auto-commit %s-%d: %v", rt.Topic, rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
					}
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &groupConsumer{cl: cl, seen: map[string]int{}, offsets: map[int32][]int64{}}
}

// pollUntil polls until every value of want was seen, failing the test after timeout.
func (g *groupConsumer) pollUntil(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	missing := func() int {
		n := 0
		for _, v := range want {
			if g.seen[v] == 0 {
				n++
			}
		}
		return n
	}
	for missing() > 0 {
		fs := g.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records not consumed after %v (polled %d)", missing(), len(want), timeout, g.polled)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			g.seen[string(r.Value)]++
			g.offsets[r.Partition] = append(g.offsets[r.Partition], r.Offset)
			g.polled++
		})
	}
}

// duplicates counts the records polled more than once.
func (g *groupConsumer) duplicates() int {
	n := 0
	for _, c := range g.seen {
		n += c - 1
	}
	return n
}

// TestFranzGoConsumerGroupSurvivesCoordinatorKill: a franz-go consumer group member consumes an
// RF=3 topic on three KRaft nodes (subprocesses) with auto-commit; the node coordinating its group
// (the leader of the group's __consumer_offsets partition) is killed with SIGKILL. The member
// carries on: it consumes what is produced after the kill and its commits land on the new
// coordinator, which loaded the group from its replica of the offsets partition. A second member
// started after the first closed resumes exactly at the committed offsets. Anomalies counted:
// lost (produced and acknowledged, never consumed), duplicates in the first member (bounded by
// the records polled since its last commit before the kill) and records re-read below the
// committed offsets by the second member.
func TestFranzGoConsumerGroupSurvivesCoordinatorKill(t *testing.T) {
	c := startFailoverCluster(t)
	const topic = "group-failover"
	// NB: a coordinator away from the active controller, so that the test kills one role (the
	// double failover is TestKillingTheLeaderAndTheActiveControllerTogether).
	groupID := c.GroupAwayFromController(t, "group-failover-g")
	createReplicatedTopic(t, c, topic, 3, 3, map[string]string{"min.insync.replicas": "2"})
	pr, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pr.Close)
	adm := kadm.NewClient(failoverAdminClient(t, c))

	before := numbered("before", 0, 300)
	produceFailover(t, pr, topic, before, 30*time.Second)
	first := newGroupConsumer(t, c, groupID, topic)
	first.pollUntil(t, before, 60*time.Second)
	// Everything polled so far is committed before the kill: what is polled twice after it must
	// come from the window between the last commit and the kill, which is empty here.
	if err := first.cl.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatalf("commit before the kill: %v", err)
	}

	coordinator := groupCoordinatorNode(t, c, groupID)
	killed := time.Now()
	killNode(t, coordinator)

	after := numbered("after", 0, 300)
	produceFailover(t, pr, topic, after, 60*time.Second)
	first.pollUntil(t, after, 60*time.Second)
	// NB: auto-commit commits what the previous poll returned; the last poll's records are
	// committed explicitly, as a consumer does before it stops.
	commitCtx, cancelCommit := context.WithTimeout(context.Background(), 30*time.Second)
	err = first.cl.CommitUncommittedOffsets(commitCtx)
	cancelCommit()
	if err != nil {
		t.Fatalf("commit after the kill: %v", err)
	}
	// The member's commits landed on the new coordinator: the committed offsets reach the end.
	var ends kadm.ListedOffsets
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ends, err = adm.ListEndOffsets(ctx, topic); err != nil {
			return err
		}
		committed, err := adm.FetchOffsets(ctx, groupID)
		if err != nil {
			return err
		}
		var lag []string
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := committed.Lookup(topic, o.Partition); !ok || c.At != o.Offset {
				lag = append(lag, fmt.Sprintf("%d: committed %d of %d", o.Partition, c.At, o.Offset))
			}
		})
		if len(lag) > 0 {
			return fmt.Errorf("commits after the kill not all landed: %v", lag)
		}
		return nil
	})
	moved := groupCoordinatorNode(t, c, groupID)
	if moved == coordinator {
		t.Fatalf("node %d, killed, still named the group's coordinator", coordinator.ID)
	}
	t.Logf("coordinator moved from node %d to node %d; the group committed all %d records %v after the kill",
		coordinator.ID, moved.ID, len(before)+len(after), time.Since(killed).Round(time.Millisecond))
	dups := first.duplicates()
	first.cl.Close()

	// A new member resumes at the committed offsets: it reads only what is produced now.
	later := numbered("later", 0, 100)
	produceFailover(t, pr, topic, later, 30*time.Second)
	second := newGroupConsumer(t, c, groupID, topic)
	second.pollUntil(t, later, 60*time.Second)
	reread := 0
	for v := range second.seen {
		if v[:len("later")] != "later" {
			reread++
		}
	}
	lost := 0
	for _, v := range append(append(before, after...), later...) {
		if first.seen[v]+second.seen[v] == 0 {
			lost++
		}
	}
	t.Logf("anomalies: lost %d, duplicates %d (first member), re-read below the committed offsets %d, duplicates %d (second member)",
		lost, dups, reread, second.duplicates())
	if lost != 0 || dups != 0 || reread != 0 || second.duplicates() != 0 {
		t.Fatalf("lost %d, duplicates %d, re-read %d, second member duplicates %d: want 0 of each", lost, dups, reread, second.duplicates())
	}
}
