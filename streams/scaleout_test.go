package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAThirdInstanceJoiningARunningPairTakesTasksWithoutStoppingTheOthers: with incremental
// cooperative rebalancing, the tasks that stay on the running pair are never closed (their
// instances open no task again) while the newcomer takes its share, and the counts are exact.
func TestAThirdInstanceJoiningARunningPairTakesTasksWithoutStoppingTheOthers(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 6)
	createTopic(t, tb.Addr(), "event-counts", 6)
	topology := func() *streams.Topology {
		b := streams.NewBuilder()
		streams.Stream(b, "events", statestore.String{}, statestore.String{}).
			GroupByKey().Count(streams.Materialized("counts")).ToStream().
			To("event-counts", statestore.String{}, statestore.Int64{})
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	cfg := func() streams.Config {
		return streams.Config{ApplicationID: "scale", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			CommitInterval: 100 * time.Millisecond}
	}
	want := map[string]int64{}
	produceN := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			k := fmt.Sprintf("k%02d", i%60)
			want[k]++
			recs[i] = &kgo.Record{Topic: "events", Key: []byte(k), Value: []byte("x")}
		}
		if err := client(t, tb.Addr()).ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	a := startApp(t, topology(), cfg())
	b := startApp(t, topology(), cfg())
	waitForMembers(t, tb.Addr(), "scale", 2)
	produceN(3000)
	waitForCommittedEnd(t, tb.Addr(), "scale", "events", waitTimeout)
	openedA, openedB := a.Stats().TasksOpened, b.Stats().TasksOpened
	processedA, processedB := a.Stats().RecordsProcessed, b.Stats().RecordsProcessed

	c := startApp(t, topology(), cfg())
	waitForMembers(t, tb.Addr(), "scale", 3)
	produceN(3000)
	waitForCommittedEnd(t, tb.Addr(), "scale", "events", waitTimeout)
	if got := a.Stats().TasksOpened; got != openedA {
		t.Errorf("instance A opened %d tasks again while C joined: its staying tasks stopped", got-openedA)
	}
	if got := b.Stats().TasksOpened; got != openedB {
		t.Errorf("instance B opened %d tasks again while C joined: its staying tasks stopped", got-openedB)
	}
	if a.Stats().RecordsProcessed == processedA || b.Stats().RecordsProcessed == processedB || c.Stats().RecordsProcessed == 0 {
		t.Errorf("processed after the join: A %d, B %d, C %d more records: want all three working",
			a.Stats().RecordsProcessed-processedA, b.Stats().RecordsProcessed-processedB, c.Stats().RecordsProcessed)
	}
	latest, maxSeen := readAllCounts(t, tb.Addr(), "event-counts", func(k string) string { return k })
	for k, n := range want {
		if latest[k] != n || maxSeen[k] > n {
			t.Errorf("key %s: latest count %d, largest %d, want %d", k, latest[k], maxSeen[k], n)
		}
	}
	t.Logf("tasks opened: A %d, B %d, C %d", a.Stats().TasksOpened, b.Stats().TasksOpened, c.Stats().TasksOpened)
}
