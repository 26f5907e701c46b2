package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sameRecords fails unless got holds exactly want's records, partition by partition in order,
// with equal keys, values, headers and timestamps.
func sameRecords(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	byPartition := func(rs []*kgo.Record) map[int32][]*kgo.Record {
		m := map[int32][]*kgo.Record{}
		for _, r := range rs {
			m[r.Partition] = append(m[r.Partition], r)
		}
		return m
	}
	w, g := byPartition(want), byPartition(got)
	if len(got) != len(want) {
		t.Fatalf("%d records mirrored, want %d", len(got), len(want))
	}
	for p, ws := range w {
		gs := g[p]
		if len(gs) != len(ws) {
			t.Fatalf("partition %d: %d records, want %d", p, len(gs), len(ws))
		}
		for i := range ws {
			a, b := ws[i], gs[i]
			if !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Value, b.Value) ||
				!a.Timestamp.Equal(b.Timestamp) || !slices.EqualFunc(a.Headers, b.Headers, func(x, y kgo.RecordHeader) bool {
				return x.Key == y.Key && bytes.Equal(x.Value, y.Value)
			}) {
				t.Fatalf("partition %d record %d: got key=%q value=%q ts=%v headers=%v, want key=%q value=%q ts=%v headers=%v",
					p, i, b.Key, b.Value, b.Timestamp, b.Headers, a.Key, a.Value, a.Timestamp, a.Headers)
			}
		}
	}
}

func TestMirrorSourceCopiesMatchingTopicsRecordForRecordAndFollowsNewTopicsAndPartitions(t *testing.T) {
	a, b := testbroker.Start(t), testbroker.Start(t)
	createTopic(t, a, "orders", 3, map[string]*string{"retention.ms": kadm.StringPtr("86400001")})
	createTopic(t, a, "audit", 1, nil)
	orders := testRecords("orders", 3, 300, 0)
	produce(t, a, orders)
	produce(t, a, testRecords("audit", 1, 5, 0))

	startMirror(t, b, "", map[string]map[string]string{
		"mm2-source": flowConfig("A", a, "B", b, map[string]string{"connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector", "topics": "orders, payments.*"}),
	})

	sameRecords(t, orders, readAll(t, b, "A.orders", len(orders)))
	if n, err := partitionCount(b, "A.orders"); err != nil || n != 3 {
		t.Fatalf("A.orders: %d partitions (%v), want 3", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcs, err := kadm.NewClient(client(t, b)).DescribeTopicConfigs(ctx, "A.orders")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rcs.On("A.orders", nil); err != nil || !slices.ContainsFunc(c.Configs, func(c kadm.Config) bool {
		return c.Key == "retention.ms" && c.Value != nil && *c.Value == "86400001"
	}) {
		t.Fatalf("A.orders did not get the source's retention.ms (%v): %+v", err, c.Configs)
	}

	// A topic created later is followed, with its records.
	createTopic(t, a, "payments-eu", 2, nil)
	payments := testRecords("payments-eu", 2, 50, 0)
	produce(t, a, payments)
	sameRecords(t, payments, readAll(t, b, "A.payments-eu", len(payments)))

	// Partitions added to a mirrored topic are followed.
	if _, err := kadm.NewClient(client(t, a)).UpdatePartitions(ctx, 5, "orders"); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, waitLong, 50*time.Millisecond, func() error {
		if n, err := partitionCount(b, "A.orders"); err != nil || n != 5 {
			return fmt.Errorf("A.orders: %d partitions (%v), want 5", n, err)
		}
		return nil
	})
	more := testRecords("orders", 5, 20, 300)
	produce(t, a, more)
	sameRecords(t, append(orders, more...), readAll(t, b, "A.orders", len(orders)+len(more)))

	if _, err := partitionCount(b, "A.audit"); err == nil {
		t.Fatal("A.audit was mirrored, but topics excludes it")
	}
}
