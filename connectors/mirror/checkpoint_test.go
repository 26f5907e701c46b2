package mirror_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func recordID(t testing.TB, r *kgo.Record) int {
	t.Helper()
	id, err := strconv.Atoi(strings.TrimPrefix(string(r.Value), "value-"))
	if err != nil {
		t.Fatalf("record value %q: %v", r.Value, err)
	}
	return id
}

// consumeInGroup consumes topic in group until it has at least n records, commits what it polled,
// leaves the group and returns the ids it consumed.
func consumeInGroup(t *testing.T, b *testbroker.Broker, group, topic string, n int) map[int]bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond), kgo.FetchMaxPartitionBytes(8<<10), kgo.FetchMaxBytes(8<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int]bool{}
	testutil.CheckFor(t, waitLong, time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		cl.PollRecords(ctx, 50).EachRecord(func(r *kgo.Record) { seen[recordID(t, r)] = true })
		if len(seen) < n {
			return fmt.Errorf("group %s consumed %d of %d", group, len(seen), n)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return seen
}

func TestMirrorCheckpointsLetAGroupFailOverToTheTargetWithoutLoss(t *testing.T) {
	const total, lagMax = 1000, 50
	a, b := testbroker.Start(t), testbroker.Start(t)
	createTopic(t, a, "clicks", 2, nil)
	produce(t, a, testRecords("clicks", 2, total, 0))
	extra := map[string]string{"topics": "clicks", "sync.group.offsets.enabled": "true", "offset.lag.max": strconv.Itoa(lagMax)}
	src, cp := flowConfig("A", a, "B", b, extra), flowConfig("A", a, "B", b, extra)
	src["connector.class"], cp["connector.class"] = mirror.SourceClass, mirror.CheckpointClass
	startMirror(t, b, "", map[string]map[string]string{"mm2-source": src, "mm2-checkpoint": cp})
	readAll(t, b, "A.clicks", total)

	consumedOnA := consumeInGroup(t, a, "billing", "clicks", total/2)
	admA, admB := kadm.NewClient(client(t, a)), kadm.NewClient(client(t, b))
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	committedA, err := admA.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}

	// The translated offsets reach the group on B, and the checkpoints topic.
	var translated kadm.OffsetResponses
	testutil.CheckFor(t, waitLong, 50*time.Millisecond, func() error {
		fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
		defer fcancel()
		translated, err = admB.FetchOffsets(fctx, "billing")
		if err != nil {
			return err
		}
		for p := range int32(2) {
			if c, ok := committedA.Lookup("clicks", p); !ok || c.At < 0 {
				continue // a partition the group never committed starts at the beginning on B too
			}
			if o, ok := translated.Lookup("A.clicks", p); !ok || o.At < 0 {
				return fmt.Errorf("no translated offset for A.clicks-%d yet", p)
			}
		}
		return nil
	})
	checkpoints := readAll(t, b, mirror.CheckpointsTopic("A"), 1)
	c, err := mirror.DecodeCheckpoint(checkpoints[0].Key, checkpoints[0].Value)
	if err != nil || c.Group != "billing" || c.Topic != "A.clicks" {
		t.Fatalf("checkpoint %+v (%v), want group billing on A.clicks", c, err)
	}

	// Fail over: the group resumes on B from the translated offsets, to the end.
	ends, err := admB.ListEndOffsets(ctx, "A.clicks")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for p := range int32(2) {
		end, _ := ends.Lookup("A.clicks", p)
		at, upstream := int64(0), int64(-1)
		if o, ok := translated.Lookup("A.clicks", p); ok && o.At >= 0 {
			at = o.At
		}
		if o, ok := committedA.Lookup("clicks", p); ok {
			upstream = o.At
		}
		t.Logf("partition %d: committed on A at %d, translated to %d on B (end %d)", p, upstream, at, end.Offset)
		want += int(end.Offset - at)
	}
	cl := client(t, b, kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("A.clicks"), kgo.FetchMaxWait(100*time.Millisecond))
	onB := 0
	all := map[int]bool{}
	for id := range consumedOnA {
		all[id] = true
	}
	duplicates := 0
	testutil.CheckFor(t, waitLong, time.Millisecond, func() error {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer pcancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			onB++
			id := recordID(t, r)
			if all[id] {
				duplicates++
			}
			all[id] = true
		})
		if onB < want {
			return fmt.Errorf("consumed %d of %d records on B", onB, want)
		}
		return nil
	})
	lost := total - len(all)
	t.Logf("failover: %d consumed on A, %d on B, lost %d, duplicates %d (offset.lag.max %d)", len(consumedOnA), onB, lost, duplicates, lagMax)
	if lost != 0 {
		t.Fatalf("lost %d records in the failover", lost)
	}
	if duplicates > 2*lagMax {
		t.Fatalf("%d duplicates, more than offset.lag.max per partition (%d)", duplicates, lagMax)
	}
}
