package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testnet"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFailoverRestoresTheDeadInstancesTasksAndCountsExactly runs two instances of a count on a
// 6-partition topic, kills one mid-stream, and checks that the survivor takes its tasks,
// restores their stores from the changelogs and ends with exactly the input's counts.
//
// How exactness is reached under at-least-once: the killed instance processed records after its
// last committed offsets, and some of its store updates may be in the changelogs. Each store
// commit ends with a position marker (the task's input offsets), written after the task's
// outputs were acknowledged; the survivor restores each store up to its last marker only,
// ignores what the dead instance wrote after it, and skips the inputs below the marker's
// position. So every input record is counted exactly once in the state, and although outputs
// may repeat (re-processed records re-emit the same counts), no output value ever exceeds the
// true count: the test checks the maximum of every key's outputs, not only the latest.
func TestFailoverRestoresTheDeadInstancesTasksAndCountsExactly(t *testing.T) {
	for _, tc := range []struct {
		name           string
		commitInterval time.Duration
		cacheEntries   int
		wantSkipped    bool
	}{
		{"killed between commits", 300 * time.Millisecond, 0, false},
		// Tiny store buffers commit the stores (with markers) many times between offset
		// commits, which never come: the survivor must skip what the markers cover.
		{"killed with store commits ahead of its offset commits", time.Hour, 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFailover(t, tc.commitInterval, tc.cacheEntries, tc.wantSkipped, "count")
		})
	}
}

// TestFailoverRestoresWindowedAndSessionCountsExactly is the failover test for a windowed count
// and a session count, killed while their store commits run ahead of their offset commits:
// window and session stores take position markers too, so the survivor restores them exactly
// and skips what they reflect, and no window or session counts a record twice.
func TestFailoverRestoresWindowedAndSessionCountsExactly(t *testing.T) {
	for _, kind := range []string{"windowed", "session"} {
		t.Run(kind, func(t *testing.T) { testFailover(t, time.Hour, 10, true, kind) })
	}
}

func testFailover(t *testing.T, victimCommitInterval time.Duration, victimCache int, wantSkipped bool, kind string) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 6)
	createTopic(t, tb.Addr(), "event-counts", 6)

	// Every record has the same timestamp, the start of the next hour: one hour-long window, or one
	// session, per key. keyOf takes the record key out of an output key.
	// NB: the next hour, not a past one: kgo counts RecordDeliveryTimeout from a record's
	// timestamp, and outputs carry their input's.
	at := time.Now().Truncate(time.Hour).Add(time.Hour)
	keyOf := func(k string) string { return k }
	topology := func() *streams.Topology {
		b := streams.NewBuilder()
		grouped := streams.Stream(b, "events", statestore.String{}, statestore.String{}).GroupByKey()
		switch kind {
		case "count":
			grouped.Count(streams.Materialized("counts")).ToStream().
				To("event-counts", statestore.String{}, statestore.Int64{})
		case "windowed":
			streams.WindowedBy(grouped, streams.TumblingWindows(time.Hour)).Count(streams.Materialized("counts")).
				ToStream().To("event-counts", nil, statestore.Int64{})
		case "session":
			streams.WindowedBy(grouped, streams.SessionWindows(time.Hour)).Count(streams.Materialized("counts")).
				ToStream().To("event-counts", nil, statestore.Int64{})
		}
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	switch kind {
	case "windowed":
		keyOf = func(k string) string { return k[:len(k)-8] }
	case "session":
		keyOf = func(k string) string { return k[:len(k)-16] }
	}
	groupOpts := []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	victimDialer := &testnet.Dialer{}
	victimOpts := append([]kgo.Opt{kgo.Dialer(victimDialer.Dial), kgo.RecordDeliveryTimeout(3 * time.Second),
		kgo.ClientID("failover-victim")}, groupOpts...)
	victim, err := streams.New(topology(), streams.Config{ApplicationID: "fo", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: victimCommitInterval, CacheMaxEntries: victimCache, ClientOptions: victimOpts,
		// NB: the victim outlives the test (it is abandoned, as a killed process would be):
		// its logs must not go to t.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	survivor := startApp(t, topology(), streams.Config{ApplicationID: "fo", BootstrapServers: []string{tb.Addr()},
		StateDir: t.TempDir(), CommitInterval: 300 * time.Millisecond, ClientOptions: groupOpts})
	waitForMembers(t, tb.Addr(), "fo", 2)

	const keys, total = 60, 30000
	want := map[string]int64{}
	producer := client(t, tb.Addr())
	produceChunk := func(from, n int) {
		t.Helper()
		recs := make([]*kgo.Record, 0, n)
		for i := from; i < from+n; i++ {
			k := fmt.Sprintf("k%02d", i%keys)
			want[k]++
			recs = append(recs, &kgo.Record{Topic: "events", Key: []byte(k), Value: []byte("x"), Timestamp: at})
		}
		if err := producer.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A third of the input; the kill once the victim is well into its half of it (it has
	// committed along the way: stores at least, offsets too when its interval allows), while
	// records keep coming.
	for i := 0; i < total/3; i += 500 {
		produceChunk(i, 500)
	}
	adm := kadm.NewClient(client(t, tb.Addr()))
	waitFor(t, func() error {
		if n := victim.Stats().RecordsProcessed; n < total/12 {
			return fmt.Errorf("the victim has processed %d records, not yet %d: killing it now would prove little (err %v)", n, total/12, victim.Err())
		}
		return victimCommittedAStore(t, adm, "fo", "failover-victim", "fo-counts-changelog")
	})
	processedBeforeKill := victim.Stats().RecordsProcessed
	victimDialer.Sever()
	go victim.Close() // it cannot reach the broker any more; nothing waits for it
	for i := total / 3; i < total; i += 500 {
		produceChunk(i, 500)
	}

	// The survivor owns all six tasks once the victim's session has timed out, and its committed
	// offsets reach the end of the input.
	waitForCommittedEnd(t, tb.Addr(), "fo", "events", 60*time.Second)

	latest, maxSeen := readAllCounts(t, tb.Addr(), "event-counts", keyOf)
	for k, n := range want {
		if latest[k] != n {
			t.Errorf("key %s: latest count %d, want %d", k, latest[k], n)
		}
		if maxSeen[k] > n {
			t.Errorf("key %s: an output counted %d > %d: a record was counted twice", k, maxSeen[k], n)
		}
	}
	if len(latest) != len(want) {
		t.Errorf("%d keys in the output, want %d", len(latest), len(want))
	}
	st := survivor.Stats()
	if st.RecordsRestored == 0 {
		t.Errorf("survivor restored no changelog record: it did not take over the victim's stores")
	}
	if wantSkipped && st.RecordsSkippedAsRestored == 0 {
		t.Errorf("survivor skipped no input although the victim's store commits ran ahead of its offsets")
	}
	t.Logf("victim processed %d before the kill; survivor: %d processed, %d restored, %d skipped as already in the restored state, %d tasks opened",
		processedBeforeKill, st.RecordsProcessed, st.RecordsRestored, st.RecordsSkippedAsRestored, st.TasksOpened)
}

// victimCommittedAStore returns nil once the changelog of one of the partitions the group
// member with clientID owns holds updates: that member has committed a store with data.
func victimCommittedAStore(t *testing.T, adm *kadm.Client, group, clientID, changelog string) error {
	described, err := adm.DescribeGroups(ctxT(t), group)
	if err != nil {
		return fmt.Errorf("describe group %s: %w", group, err)
	}
	var owned []int32
	for _, m := range described[group].Members {
		if c, ok := m.Assigned.AsConsumer(); ok && m.ClientID == clientID {
			for _, tp := range c.Topics {
				owned = append(owned, tp.Partitions...)
			}
		}
	}
	ends, err := adm.ListEndOffsets(ctxT(t), changelog)
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", changelog, err)
	}
	for _, p := range owned {
		// NB: more than the position marker an idle store writes on its first commit.
		if end, ok := ends.Lookup(changelog, p); ok && end.Offset > 1 {
			return nil
		}
	}
	return fmt.Errorf("%s owns partitions %v of group %s: no store of theirs committed to %s yet", clientID, owned, group, changelog)
}

// waitForCommittedEnd waits until group's committed offsets on topic equal its end offsets.
func waitForCommittedEnd(t *testing.T, addr, group, topic string, timeout time.Duration) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	testutil.CheckFor(t, timeout, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("list end offsets of %s: %w", topic, err)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return fmt.Errorf("fetch committed offsets of %s: %w", group, err)
		}
		var lag []string
		ends.Each(func(e kadm.ListedOffset) {
			c, ok := committed.Lookup(topic, e.Partition)
			if !ok || c.At != e.Offset {
				lag = append(lag, fmt.Sprintf("%d: committed %d of %d", e.Partition, c.At, e.Offset))
			}
		})
		if len(lag) > 0 {
			return fmt.Errorf("group %s: committed offsets on %s lag the end: %v", group, topic, lag)
		}
		return nil
	})
}

// readAllCounts reads topic to its end and returns the latest and the largest count per key
// (keyOf(output key)).
func readAllCounts(t *testing.T, addr, topic string, keyOf func(string) string) (latest, maxSeen map[string]int64) {
	t.Helper()
	ends, err := kadm.NewClient(client(t, addr)).ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			remaining[e.Partition] = e.Offset
		}
	})
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	latest, maxSeen = map[string]int64{}, map[string]int64{}
	waitFor(t, func() error {
		if len(remaining) == 0 {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			n, err := statestore.Int64{}.Deserialize(r.Value)
			if err != nil {
				t.Fatalf("%s: bad value at %d/%d: %v", topic, r.Partition, r.Offset, err)
			}
			k := keyOf(string(r.Key))
			latest[k] = n
			maxSeen[k] = max(maxSeen[k], n)
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
		if len(remaining) > 0 {
			return fmt.Errorf("%s: not read to its end (partitions left, with their end offsets: %v)", topic, remaining)
		}
		return nil
	})
	return latest, maxSeen
}
