package streams_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// waitTimeout bounds every wait for output; a passing test needs far less.
const waitTimeout = 15 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(client(t, addr)).CreateTopics(ctxT(t), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func produce(t *testing.T, addr string, records ...*kgo.Record) {
	t.Helper()
	if err := client(t, addr).ProduceSync(ctxT(t), records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func startApp(t *testing.T, topo *streams.Topology, cfg streams.Config) *streams.App {
	t.Helper()
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = 100 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.WithLogger(kgo.BasicLogger(testWriter{t}, kgo.LogLevelDebug, nil)))
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	// NB: Start's context bounds the App's whole life, not just its start: an App started
	// with ctxT would stop processing waitTimeout after it started, silently, in the middle
	// of any test that runs longer (the "consumer stall" of the FK-join and failover tests).
	if err := app.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return app
}

// waitFor polls check (testutil.CheckFor) until it returns nil, failing the test with its last
// error after waitTimeout.
func waitFor(t *testing.T, check func() error) {
	t.Helper()
	testutil.CheckFor(t, waitTimeout, 20*time.Millisecond, check)
}

// appFailed fails the test at once if app stopped on an error: no wait can succeed then.
func appFailed(t *testing.T, app *streams.App) {
	t.Helper()
	if app != nil && app.Err() != nil {
		t.Fatalf("app failed: %v", app.Err())
	}
}

// waitCaughtUp waits until group has committed the end offset of every partition its members
// are assigned (repartition topics included): every input record produced so far is
// processed, and its outputs are acknowledged, since the App flushes them before it commits.
// End offsets are read before and after the committed ones, so that a repartition record
// written meanwhile is not missed.
func waitCaughtUp(t *testing.T, app *streams.App, addr, group string) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	waitFor(t, func() error {
		appFailed(t, app)
		described, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			return fmt.Errorf("describe group %s: %w", group, err)
		}
		var topics []string
		for _, m := range described[group].Members {
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range c.Topics {
					if !slices.Contains(topics, tp.Topic) {
						topics = append(topics, tp.Topic)
					}
				}
			}
		}
		if len(topics) == 0 {
			return fmt.Errorf("group %s (%s) has no member owning partitions", group, described[group].State)
		}
		before, err := adm.ListEndOffsets(ctxT(t), topics...)
		if err != nil {
			return err
		}
		committed, err := adm.FetchOffsets(ctxT(t), group)
		if err != nil {
			return err
		}
		after, err := adm.ListEndOffsets(ctxT(t), topics...)
		if err != nil {
			return err
		}
		var behind error
		after.Each(func(end kadm.ListedOffset) {
			b, _ := before.Lookup(end.Topic, end.Partition)
			c, ok := committed.Lookup(end.Topic, end.Partition)
			switch {
			case behind != nil || end.Err != nil:
				if behind == nil {
					behind = end.Err
				}
			case b.Offset != end.Offset:
				behind = fmt.Errorf("%s/%d is still growing", end.Topic, end.Partition)
			case end.Offset > 0 && (!ok || c.At < end.Offset):
				behind = fmt.Errorf("%s/%d: group %s committed %d of %d", end.Topic, end.Partition, group, c.At, end.Offset)
			}
		})
		return behind
	})
}

// readToEnd reads every partition of topic from its start to its end offset (read first).
func readToEnd(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ends, err := kadm.NewClient(client(t, addr)).ListEndOffsets(ctxT(t), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("%s: end offsets: %v", topic, err)
	}
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	var got []*kgo.Record
	next := map[int32]int64{}
	waitFor(t, func() error {
		for p, end := range ends[topic] {
			if next[p] < end.Offset {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				fetches := cl.PollFetches(ctx)
				cancel()
				fetches.EachRecord(func(r *kgo.Record) {
					if r.Offset < ends[topic][r.Partition].Offset {
						got = append(got, r)
					}
					next[r.Partition] = r.Offset + 1
				})
				return fmt.Errorf("%s/%d: read to %d of %d", topic, p, next[p], end.Offset)
			}
		}
		return nil
	})
	return got
}

// readLatest reads topic from the start, keeping the latest value per key, until that map
// equals want or waitTimeout passes. Reading the latest value per key is how at-least-once
// output is judged: a record processed twice (after a crash or a rebalance before its offset
// was committed) re-emits a value for its key, but the last value for each key is the one
// computed from the complete, restored state, so it converges to the exact result.
func readLatest[V comparable](t *testing.T, app *streams.App, addr, topic string, value statestore.Serde[V], want map[string]V) {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]V{}
	waitFor(t, func() error {
		appFailed(t, app)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			v, err := value.Deserialize(r.Value)
			if err != nil {
				t.Fatalf("%s: bad value at offset %d: %v", topic, r.Offset, err)
			}
			got[string(r.Key)] = v
		})
		if !maps.Equal(got, want) {
			return fmt.Errorf("%s: latest values per key\n got %v\nwant %v", topic, got, want)
		}
		return nil
	})
}

// wordCount is the classic topology: lines → words → count per word, via a repartition.
func wordCount(t *testing.T) *streams.Topology {
	b := streams.NewBuilder()
	lines := streams.Stream(b, "lines", statestore.String{}, statestore.String{})
	words := streams.FlatMapValues(lines, func(_, line string) []string {
		return strings.Fields(strings.ToLower(line))
	}, statestore.String{})
	counts := streams.GroupBy(words, func(_, word string) string { return word }, statestore.String{}).
		Count(streams.Materialized("counts"))
	counts.ToStream().To("word-counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

var sentences = []string{
	"the quick brown fox", "jumps over the lazy dog", "The dog barks",
	"a fox is quick", "lazy lazy days", "over and over and over",
}

// produceLines writes n lines without keys (so they spread over the partitions) and adds
// their words to counts.
func produceLines(t *testing.T, addr string, from, n int, counts map[string]int64) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		line := sentences[i%len(sentences)]
		recs = append(recs, &kgo.Record{Topic: "lines", Value: []byte(line), Partition: int32(i % 3)})
		for _, w := range strings.Fields(strings.ToLower(line)) {
			counts[w]++
		}
	}
	cl := client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func TestWordCountCountsEveryWordExactly(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) { testWordCount(t, workers) })
	}
}

func testWordCount(t *testing.T, workers int) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "lines", 3)
	createTopic(t, tb.Addr(), "word-counts", 3)
	want := map[string]int64{}
	produceLines(t, tb.Addr(), 0, 300, want)

	app := startApp(t, wordCount(t), streams.Config{
		ApplicationID: "wc", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(), NumWorkers: workers,
	})
	readLatest(t, app, tb.Addr(), "word-counts", statestore.Int64{}, want)
	if err := app.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Close committed every processed input offset: the group is at the end of each partition.
	adm := kadm.NewClient(client(t, tb.Addr()))
	committed, err := adm.FetchOffsets(ctxT(t), "wc")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctxT(t), "lines", "wc-KSTREAM-REPARTITION-0000000003-repartition")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		c, ok := committed.Lookup(end.Topic, end.Partition)
		if end.Offset > 0 && (!ok || c.At != end.Offset) {
			t.Errorf("%s/%d: committed %v (%v), want the end offset %d", end.Topic, end.Partition, c.At, ok, end.Offset)
		}
	})
}

type spend struct {
	Purchases int64 `json:"purchases"`
	Total     int64 `json:"total"`
}

func TestReduceAndAggregateKeepExactTotalsPerKey(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"purchases", "totals", "spend"} {
		createTopic(t, tb.Addr(), topic, 2)
	}
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "purchases", statestore.String{}, statestore.Int64{}).GroupByKey()
	grouped.Reduce(func(sum, amount int64) int64 { return sum + amount }, streams.Materialized("totals")).
		ToStream().To("totals", nil, nil)
	streams.Aggregate(grouped, func() spend { return spend{} }, func(_ string, amount int64, s spend) spend {
		return spend{Purchases: s.Purchases + 1, Total: s.Total + amount}
	}, statestore.JSON[spend]{}, streams.Materialized("spend")).ToStream().To("spend", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	totals, spends := map[string]int64{}, map[string]spend{}
	var recs []*kgo.Record
	for i := range 200 {
		user, amount := fmt.Sprintf("user-%d", i%7), int64(i%13+1)
		v, _ := statestore.Int64{}.Serialize(amount)
		recs = append(recs, &kgo.Record{Topic: "purchases", Key: []byte(user), Value: v})
		totals[user] += amount
		spends[user] = spend{Purchases: spends[user].Purchases + 1, Total: totals[user]}
	}
	produce(t, tb.Addr(), recs...)
	app := startApp(t, topo, streams.Config{ApplicationID: "shop", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()})
	readLatest(t, app, tb.Addr(), "totals", statestore.Int64{}, totals)
	readLatest(t, app, tb.Addr(), "spend", statestore.JSON[spend]{}, spends)
}

func TestRestartContinuesCountingFromState(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wipeState bool
	}{
		{"intact state dir", false},
		{"wiped state dir restores from changelog", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := testbroker.Start(t)
			createTopic(t, tb.Addr(), "lines", 3)
			createTopic(t, tb.Addr(), "word-counts", 3)
			cfg := streams.Config{ApplicationID: "wc", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()}
			want := map[string]int64{}

			produceLines(t, tb.Addr(), 0, 120, want)
			app := startApp(t, wordCount(t), cfg)
			readLatest(t, app, tb.Addr(), "word-counts", statestore.Int64{}, want)
			if err := app.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			distinctWordsInFirstRun := int64(len(want))
			if tc.wipeState {
				cfg.StateDir = t.TempDir()
			}
			produceLines(t, tb.Addr(), 120, 90, want)
			app = startApp(t, wordCount(t), cfg)
			// The second run resumes from the committed offsets with the counts of the first
			// run, restored from the local store (its changelog tail) or, wiped, from the whole
			// changelog: the latest count per word must be the total over both runs.
			readLatest(t, app, tb.Addr(), "word-counts", statestore.Int64{}, want)
			if err := app.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Close committed the stores: an intact state dir has nothing to restore, a wiped
			// one replays the whole changelog (the latest count of every word of the first
			// run at each of its commits, so at least one record per distinct word).
			restored := app.Stats().RecordsRestored
			if !tc.wipeState && restored != 0 {
				t.Fatalf("intact state dir: restored %d changelog records, want 0", restored)
			}
			if tc.wipeState && restored < distinctWordsInFirstRun {
				t.Fatalf("wiped state dir: restored %d changelog records, want at least %d", restored, distinctWordsInFirstRun)
			}
		})
	}
}

type order struct {
	Item     string `json:"item"`
	Quantity int64  `json:"quantity"`
	Price    int64  `json:"price"`
}

func TestFilterMapPipelineWritesExactOutput(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "orders", 1)
	createTopic(t, tb.Addr(), "order-totals", 1)

	var mu sync.Mutex
	var peeked, dropped []string
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", statestore.String{}, statestore.JSON[order]{})
	valid := orders.Filter(func(_ string, o order) bool { return o.Quantity > 0 }, streams.Named("valid-orders"))
	orders.FilterNot(func(_ string, o order) bool { return o.Quantity > 0 }).
		ForEach(func(id string, _ order) { mu.Lock(); dropped = append(dropped, id); mu.Unlock() })
	totals := streams.Map(valid, func(id string, o order) (string, int64) {
		return o.Item, o.Quantity * o.Price
	}, statestore.String{}, statestore.Int64{})
	totals = totals.Peek(func(item string, _ int64) { mu.Lock(); peeked = append(peeked, item); mu.Unlock() })
	labelled := streams.MapValues(totals, func(item string, total int64) string {
		return fmt.Sprintf("%s=%d", item, total)
	}, statestore.String{})
	labelled.To("order-totals", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	input := []struct {
		id string
		o  order
	}{
		{"o1", order{"apple", 3, 2}}, {"o2", order{"pear", 0, 5}}, {"o3", order{"fig", 1, 7}},
		{"o4", order{"apple", -1, 2}}, {"o5", order{"plum", 10, 1}},
	}
	var recs []*kgo.Record
	for _, in := range input {
		v, _ := statestore.JSON[order]{}.Serialize(in.o)
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(in.id), Value: v})
	}
	produce(t, tb.Addr(), recs...)
	app := startApp(t, topo, streams.Config{ApplicationID: "orders-app", BootstrapServers: []string{tb.Addr()}})

	want := []string{"apple:apple=6", "fig:fig=7", "plum:plum=10"}
	cl := client(t, tb.Addr(), kgo.ConsumeTopics("order-totals"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	ctx := ctxT(t)
	for len(got) < len(want) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)+":"+string(r.Value)) })
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order-totals = %q, want %q", got, want)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(peeked, ",") != "apple,fig,plum" || strings.Join(dropped, ",") != "o2,o4" {
		t.Fatalf("peeked %v, dropped %v; want [apple fig plum], [o2 o4]", peeked, dropped)
	}
}

func TestStartFailsWhenMergedSourcesAreNotCoPartitioned(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "clicks", 2)
	createTopic(t, tb.Addr(), "views", 3)
	b := streams.NewBuilder()
	clicks := streams.Stream(b, "clicks", statestore.String{}, statestore.String{})
	views := streams.Stream(b, "views", statestore.String{}, statestore.String{})
	clicks.Merge(views).GroupByKey().Count()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := streams.New(topo, streams.Config{ApplicationID: "cp", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	err = app.Start(ctxT(t))
	if !errors.Is(err, streams.ErrCoPartitioning) {
		t.Fatalf("Start error = %v, want ErrCoPartitioning", err)
	}
	for _, part := range []string{`"clicks" has 2`, `"views" has 3`} {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("Start error %q does not name %s", err, part)
		}
	}
}

func TestPoisonRecordStopsTheAppNamingTopicPartitionOffset(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "numbers", 1)
	createTopic(t, tb.Addr(), "out", 1)
	b := streams.NewBuilder()
	streams.Stream(b, "numbers", statestore.String{}, statestore.Int64{}).To("out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	good, _ := statestore.Int64{}.Serialize(7)
	produce(t, tb.Addr(),
		&kgo.Record{Topic: "numbers", Key: []byte("a"), Value: good},
		&kgo.Record{Topic: "numbers", Key: []byte("b"), Value: []byte("not 8 bytes")})
	app := startApp(t, topo, streams.Config{ApplicationID: "poison", BootstrapServers: []string{tb.Addr()}})
	select {
	case <-app.Done():
	case <-time.After(waitTimeout):
		t.Fatal("app did not stop on a poison record")
	}
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "numbers/0@1") {
		t.Fatalf("Err = %v, want it to name numbers/0@1", err)
	}
	// The stopped App left the group (before Close), so other instances could take over.
	adm := kadm.NewClient(client(t, tb.Addr()))
	waitFor(t, func() error {
		described, err := adm.DescribeGroups(ctxT(t), "poison")
		if err != nil {
			t.Fatal(err)
		}
		if g := described["poison"]; len(g.Members) > 0 {
			return fmt.Errorf("an App stopped by an error still holds its partitions: group %s has member %s", g.State, g.Members[0].MemberID)
		}
		return nil
	})
}

// testWriter sends logs to the test log, shown only for failing tests (or with -v).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func TestTwoInstancesShareTasksAndCountExactly(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "lines", 3)
	createTopic(t, tb.Addr(), "word-counts", 3)
	cfg := func() streams.Config {
		return streams.Config{ApplicationID: "wc", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			// A member learns of a rebalance at its next heartbeat: keep that short.
			ClientOptions: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}
	}
	want := map[string]int64{}
	produceLines(t, tb.Addr(), 0, 90, want)
	first := startApp(t, wordCount(t), cfg())
	readLatest(t, first, tb.Addr(), "word-counts", statestore.Int64{}, want)

	// The second instance joins: the first commits and closes its tasks on revocation, and each
	// task reopens on its new owner from the changelog before processing the next lines.
	second := startApp(t, wordCount(t), cfg())
	waitForMembers(t, tb.Addr(), "wc", 2)
	produceLines(t, tb.Addr(), 90, 90, want)
	readLatest(t, second, tb.Addr(), "word-counts", statestore.Int64{}, want)
	for _, app := range []*streams.App{first, second} {
		if err := app.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if first.Stats().TasksOpened < 2 || second.Stats().TasksOpened == 0 {
		t.Fatalf("tasks opened: first %d, second %d; want the work shared after the rebalance",
			first.Stats().TasksOpened, second.Stats().TasksOpened)
	}
}

// waitForMembers waits until group is stable with n members that each own partitions.
func waitForMembers(t *testing.T, addr, group string, n int) {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	waitFor(t, func() error {
		described, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			return fmt.Errorf("group %s: %w", group, err)
		}
		g := described[group]
		owning := 0
		for _, m := range g.Members {
			if c, ok := m.Assigned.AsConsumer(); ok && len(c.Topics) > 0 {
				owning++
			}
		}
		if g.State != "Stable" || owning != n {
			return fmt.Errorf("group %s: %s with %d members owning partitions, want Stable with %d", group, g.State, owning, n)
		}
		return nil
	})
}

func TestPoisonRecordsAreSkippedOrSentToADeadLetterTopicWhenConfigured(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "numbers", 1)
	createTopic(t, tb.Addr(), "out-skip", 1)
	createTopic(t, tb.Addr(), "out-dlq", 1)
	createTopic(t, tb.Addr(), "numbers-dlq", 1)
	good := func(n int64) []byte { v, _ := statestore.Int64{}.Serialize(n); return v }
	produce(t, tb.Addr(),
		&kgo.Record{Topic: "numbers", Key: []byte("a"), Value: good(1)},
		&kgo.Record{Topic: "numbers", Key: []byte("b"), Value: []byte("not 8 bytes"),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}},
		&kgo.Record{Topic: "numbers", Key: []byte("c"), Value: good(3)})
	for _, tc := range []struct {
		app, out string
		handler  streams.DeserializationHandler
	}{
		{"skip", "out-skip", streams.LogAndContinue},
		{"dlq", "out-dlq", streams.SendToDeadLetterTopic("numbers-dlq")},
	} {
		b := streams.NewBuilder()
		streams.Stream(b, "numbers", statestore.String{}, statestore.Int64{}).To(tc.out, nil, nil)
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		app := startApp(t, topo, streams.Config{ApplicationID: tc.app, BootstrapServers: []string{tb.Addr()},
			DeserializationHandler: tc.handler})
		// The good records on both sides of the poison one come out, in order.
		readLatest(t, app, tb.Addr(), tc.out, statestore.Int64{}, map[string]int64{"a": 1, "c": 3})
		waitForCommittedEnd(t, tb.Addr(), tc.app, "numbers", waitTimeout)
		if err := app.Err(); err != nil {
			t.Fatalf("%s: Err = %v, want the app running", tc.app, err)
		}
	}
	dlq := client(t, tb.Addr(), kgo.ConsumeTopics("numbers-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fetches := dlq.PollRecords(ctxT(t), 1)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Key) != "b" || string(recs[0].Value) != "not 8 bytes" {
		t.Fatalf("dead-letter records = %v, want the poison record b", recs)
	}
	headers := map[string]string{}
	for _, h := range recs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	for k, v := range map[string]string{"trace": "t-1", streams.HeaderErrorTopic: "numbers",
		streams.HeaderErrorPartition: "0", streams.HeaderErrorOffset: "1"} {
		if headers[k] != v {
			t.Errorf("dead-letter header %s = %q, want %q (headers %v)", k, headers[k], v, headers)
		}
	}
	if !strings.Contains(headers[streams.HeaderErrorMessage], "deserialize value of numbers/0@1") {
		t.Errorf("dead-letter message %q does not say what failed", headers[streams.HeaderErrorMessage])
	}
}

func TestTaskProcessesItsPartitionsInTimestampOrder(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"left", "right", "merged"} {
		createTopic(t, tb.Addr(), topic, 1)
	}
	var recs []*kgo.Record
	for i := range 6 {
		topic := "left"
		if i%2 == 1 {
			topic = "right"
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(fmt.Sprint(i)),
			Timestamp: time.UnixMilli(int64(1000 * (i + 1)))})
	}
	produce(t, tb.Addr(), recs...)
	b := streams.NewBuilder()
	left := streams.Stream(b, "left", statestore.String{}, statestore.String{})
	right := streams.Stream(b, "right", statestore.String{}, statestore.String{})
	left.Merge(right).To("merged", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	startApp(t, topo, streams.Config{ApplicationID: "ts-order", BootstrapServers: []string{tb.Addr()}})
	out := client(t, tb.Addr(), kgo.ConsumeTopics("merged"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 6 {
		fetches := out.PollFetches(ctxT(t))
		if err := fetches.Err(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if want := []string{"0", "1", "2", "3", "4", "5"}; !slices.Equal(got, want) {
		t.Fatalf("merged order %v, want timestamp order %v", got, want)
	}
}

func TestStateListenerSeesTheLifecycleAndErrors(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "nums", 1)
	createTopic(t, tb.Addr(), "nums-out", 1)
	b := streams.NewBuilder()
	streams.Stream(b, "nums", statestore.String{}, statestore.Int64{}).To("nums-out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	listener := func(newState, oldState streams.State) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, oldState.String()+"->"+newState.String())
	}
	transitions := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	app := startApp(t, topo, streams.Config{ApplicationID: "states", BootstrapServers: []string{tb.Addr()}, StateListener: listener})
	waitFor(t, func() error {
		if s := app.State(); s != streams.Running {
			return fmt.Errorf("state %v, transitions %v: never RUNNING", s, transitions())
		}
		return nil
	})
	produce(t, tb.Addr(), &kgo.Record{Topic: "nums", Key: []byte("x"), Value: []byte("bad")})
	select {
	case <-app.Done():
	case <-time.After(waitTimeout):
		t.Fatal("app did not stop on a poison record")
	}
	if app.State() != streams.Error {
		t.Fatalf("state after a poison record = %v, want ERROR", app.State())
	}
	app.Close()
	want := []string{"CREATED->REBALANCING", "REBALANCING->RUNNING", "RUNNING->PENDING_ERROR", "PENDING_ERROR->ERROR",
		"ERROR->PENDING_SHUTDOWN", "PENDING_SHUTDOWN->NOT_RUNNING"}
	if got := transitions(); !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
}
