package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
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

// TestAJoiningInstanceTakesTasksOnlyAfterWarmingThemUp: a third instance joins a pair whose
// stores have long changelogs. The tasks it is to take stay where they run while it restores
// them as warm-up replicas; a probing rebalance then moves them, and it resumes them restoring
// under 5% of what a cold restore reads. The pair never reopens a task; counts are exact.
func TestAJoiningInstanceTakesTasksOnlyAfterWarmingThemUp(t *testing.T) {
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
	cfg := func(opts ...kgo.Opt) streams.Config {
		return streams.Config{ApplicationID: "warm", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			CommitInterval: 100 * time.Millisecond, AcceptableRecoveryLag: 50, ProbingRebalanceInterval: 300 * time.Millisecond,
			ClientOptions: opts}
	}
	want := map[string]int64{}
	produceN := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			k := fmt.Sprintf("k%03d", i%600)
			want[k]++
			recs[i] = &kgo.Record{Topic: "events", Key: []byte(k), Value: []byte("x")}
		}
		if err := client(t, tb.Addr()).ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	a := startApp(t, topology(), cfg())
	b := startApp(t, topology(), cfg())
	waitForMembers(t, tb.Addr(), "warm", 2)
	for range 10 {
		produceN(3000)
		waitForCommittedEnd(t, tb.Addr(), "warm", "events", waitTimeout)
	}
	openedA, openedB := a.Stats().TasksOpened, b.Stats().TasksOpened

	c := startApp(t, topology(), cfg(kgo.ClientID("warm-c")))
	adm := kadm.NewClient(client(t, tb.Addr()))
	var parts []int32
	waitFor(t, func() error {
		described, err := adm.DescribeGroups(ctxT(t), "warm")
		if err != nil {
			return err
		}
		parts = nil
		for _, m := range described["warm"].Members {
			if as, ok := m.Assigned.AsConsumer(); ok && m.ClientID == "warm-c" {
				for _, tp := range as.Topics {
					parts = append(parts, tp.Partitions...)
				}
			}
		}
		if len(parts) != 2 || c.Stats().TasksOpened != 2 {
			return fmt.Errorf("the joining instance owns partitions %v and opened %d tasks, want 2 of each", parts, c.Stats().TasksOpened)
		}
		return nil
	})
	ends, err := adm.ListEndOffsets(ctxT(t), "warm-counts-changelog")
	if err != nil {
		t.Fatal(err)
	}
	var cold int64
	for _, p := range parts {
		e, _ := ends.Lookup("warm-counts-changelog", p)
		cold += e.Offset
	}
	st := c.Stats()
	t.Logf("the joining instance warmed up %d changelog records, then restored %d of the %d of its tasks (%.1f%%) to open them",
		st.StandbyRecordsRestored, st.RecordsRestored, cold, 100*float64(st.RecordsRestored)/float64(cold))
	if st.StandbyRecordsRestored == 0 || st.RecordsRestored*20 >= cold {
		t.Errorf("the joining instance restored %d records opening its tasks (warm-up: %d): want under 5%% of %d, after a warm-up",
			st.RecordsRestored, st.StandbyRecordsRestored, cold)
	}
	if a.Stats().TasksOpened != openedA || b.Stats().TasksOpened != openedB {
		t.Errorf("tasks opened again during the join: A %d, B %d: staying tasks stopped",
			a.Stats().TasksOpened-openedA, b.Stats().TasksOpened-openedB)
	}
	produceN(3000)
	waitForCommittedEnd(t, tb.Addr(), "warm", "events", waitTimeout)
	latest, maxSeen := readAllCounts(t, tb.Addr(), "event-counts", func(k string) string { return k })
	for k, n := range want {
		if latest[k] != n || maxSeen[k] > n {
			t.Errorf("key %s: latest count %d, largest %d, want %d", k, latest[k], maxSeen[k], n)
		}
	}
}
