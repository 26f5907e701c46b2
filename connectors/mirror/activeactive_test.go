package mirror_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
)

// topicsOn lists b's topics with their end-offset sums (records, as nothing is deleted).
func topicsOn(t *testing.T, b *testbroker.Broker) map[string]int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, b))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, tds.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Topic] += o.Offset })
	return out
}

func TestMirrorActiveActiveHasNoLoopsAndExactCounts(t *testing.T) {
	a, b := testbroker.Start(t), testbroker.Start(t)
	createTopic(t, a, "orders", 2, nil)
	createTopic(t, b, "orders", 3, nil)
	produce(t, a, testRecords("orders", 2, 200, 0))
	produce(t, b, testRecords("orders", 3, 300, 0))

	// As MirrorMaker 2 runs them: each flow on a worker of its target cluster.
	flow := func(src string, sb *testbroker.Broker, tgt string, tb *testbroker.Broker) map[string]map[string]string {
		s, h := flowConfig(src, sb, tgt, tb, nil), flowConfig(src, sb, tgt, tb, nil)
		s["connector.class"], h["connector.class"] = mirror.SourceClass, mirror.HeartbeatClass
		return map[string]map[string]string{src + "->" + tgt + "-source": s, src + "->" + tgt + "-heartbeat": h}
	}
	startMirror(t, b, "", flow("A", a, "B", b))
	startMirror(t, a, "", flow("B", b, "A", a))

	readAll(t, b, "A.orders", 200)
	readAll(t, a, "B.orders", 300)
	// Heartbeats travel both ways: once each side has the other's, several refreshes have passed,
	// long enough for a loop to show.
	// A's heartbeats topic holds the heartbeats of the flow B->A (written on its target A), so
	// A.heartbeats on B shows that flow's round trip.
	hbs := readAll(t, b, "A.heartbeats", 2)
	if hb, err := mirror.DecodeHeartbeat(hbs[0].Key, hbs[0].Value); err != nil || hb.SourceClusterAlias != "B" || hb.TargetClusterAlias != "A" || hb.TimestampMs <= 0 {
		t.Fatalf("heartbeat mirrored to B: %+v (%v), want the flow B->A's with a timestamp", hb, err)
	}
	readAll(t, a, "B.heartbeats", 2)
	testutil.CheckFor(t, waitLong, 100*time.Millisecond, func() error {
		for name, cluster := range map[string]*testbroker.Broker{"A": a, "B": b} {
			for topic := range topicsOn(t, cluster) {
				if strings.HasPrefix(topic, "A.B.") || strings.HasPrefix(topic, "B.A.") || strings.HasPrefix(topic, "A.A.") || strings.HasPrefix(topic, "B.B.") {
					return fmt.Errorf("cluster %s has %s: a record loop", name, topic)
				}
			}
		}
		return nil
	})
	onA, onB := topicsOn(t, a), topicsOn(t, b)
	for _, c := range []struct {
		cluster string
		counts  map[string]int64
		topic   string
		want    int64
	}{{"A", onA, "orders", 200}, {"A", onA, "B.orders", 300}, {"B", onB, "orders", 300}, {"B", onB, "A.orders", 200}} {
		if c.counts[c.topic] != c.want {
			t.Errorf("cluster %s: %s has %d records, want %d", c.cluster, c.topic, c.counts[c.topic], c.want)
		}
	}
	t.Logf("topics on A: %v; on B: %v", onA, onB)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	statuses, err := mirror.HeartbeatStatuses(ctx, []string{b.Addr()})
	if err != nil || len(statuses) != 2 || statuses[0].Topic != "A.heartbeats" || statuses[1].Topic != "heartbeats" ||
		statuses[0].Age <= 0 || statuses[0].Age > waitLong || statuses[1].Heartbeat.SourceClusterAlias != "A" {
		t.Fatalf("heartbeat statuses on B: %+v (%v), want A.heartbeats and heartbeats, fresh", statuses, err)
	}
}
