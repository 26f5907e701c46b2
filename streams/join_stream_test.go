package streams_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

func orNull(v *string) string {
	if v == nil {
		return "null"
	}
	return *v
}

func formatString(r *kgo.Record) string {
	return fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli())
}

// waitProcessed waits until app has processed at least n records.
func waitProcessed(t *testing.T, app *streams.App, n int64) {
	t.Helper()
	waitFor(t, func() error {
		appFailed(t, app)
		if got := app.Stats().RecordsProcessed; got < n {
			return fmt.Errorf("processed %d records, want %d", got, n)
		}
		return nil
	})
}

func TestStreamStreamJoinsMatchWithinTheWindowAndEmitUnmatchedWhenItCloses(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"clicks-l", "views-r", "inner-out", "left-out", "outer-out"} {
		createTopic(t, tb.Addr(), topic, 1)
	}
	b := streams.NewBuilder()
	left := streams.Stream(b, "clicks-l", statestore.String{}, statestore.String{})
	right := streams.Stream(b, "views-r", statestore.String{}, statestore.String{})
	windows := streams.JoinWindows(10 * time.Second).Grace(5 * time.Second)
	streams.JoinStreams(left, right, func(l, r string) string { return l + "+" + r }, windows, statestore.String{}).
		To("inner-out", nil, nil)
	streams.LeftJoinStreams(left, right, func(l string, r *string) string { return l + "+" + orNull(r) }, windows,
		statestore.String{}, streams.Named("left"), streams.Materialized("left")).
		To("left-out", nil, nil)
	streams.OuterJoinStreams(left, right, func(l, r *string) string { return orNull(l) + "+" + orNull(r) }, windows,
		statestore.String{}, streams.Named("outer")).
		To("outer-out", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// Every record of this first batch lies within after + grace = 15s of the others, so no
	// window closes, whatever order the two topics are processed in.
	produce(t, tb.Addr(),
		at("clicks-l", "A", "a1", 1_000),
		at("clicks-l", "B", "b1", 2_000), // no B on the right
		at("clicks-l", "C", "c1", 3_000),
		at("clicks-l", "A", "a2", 4_000),
		at("views-r", "A", "x1", 6_000),  // within 10s of a1 and a2
		at("views-r", "D", "x3", 8_000),  // no D on the left
		at("views-r", "C", "x2", 13_001), // 10.001s after c1: outside the window
	)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "joins", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
	})
	waitProcessed(t, app, 7)
	// Stream time 100000 closes every window of the first batch.
	produce(t, tb.Addr(), at("clicks-l", "Z", "z", 100_000))

	joined := []string{"A=a1+x1@6000", "A=a2+x1@6000"}
	leftOnly := []string{"B=b1+null@2000", "C=c1+null@3000"}
	rightOnly := []string{"C=null+x2@13001", "D=null+x3@8000"}
	for _, tt := range []struct {
		topic string
		want  []string
	}{
		{"inner-out", joined},
		{"left-out", slices.Concat(joined, leftOnly)},
		{"outer-out", slices.Concat(joined, leftOnly, rightOnly)},
	} {
		got := readExactly(t, app, tb.Addr(), "joins", tt.topic, len(tt.want), formatString)
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s\n got %v\nwant %v", tt.topic, got, tt.want)
		}
	}
	cfg := topicConfigs(t, tb.Addr(), "joins-left-this-join-store-changelog")
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != fmt.Sprint(25_000+86_400_000) {
		t.Errorf("join store changelog: cleanup.policy=%q retention.ms=%q, want compact,delete and %d",
			cfg["cleanup.policy"], cfg["retention.ms"], 25_000+86_400_000)
	}
}

func TestStreamStreamJoinRepartitionsASideWhoseKeyChanged(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"purchases", "profiles", "enriched"} {
		createTopic(t, tb.Addr(), topic, 2)
	}
	b := streams.NewBuilder()
	// Purchases are keyed by purchase id, with the user in the value: "user:item".
	purchases := streams.Stream(b, "purchases", statestore.String{}, statestore.String{})
	byUser := streams.SelectKey(purchases, func(_, v string) string { return strings.SplitN(v, ":", 2)[0] }, statestore.String{})
	profiles := streams.Stream(b, "profiles", statestore.String{}, statestore.String{})
	streams.JoinStreams(byUser, profiles, func(p, country string) string { return p + "@" + country },
		streams.JoinWindows(time.Minute), statestore.String{}).
		To("enriched", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if d := topo.Describe(); !strings.Contains(d, "-repartition") {
		t.Fatalf("no repartition topic in\n%s", d)
	}
	cl := client(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	// Purchase ids land on partition 0 or 1 whatever their user: only the repartition brings a
	// user's purchases to the partition of the user's profile.
	recs := []*kgo.Record{
		at("purchases", "p1", "ann:book", 1_000), at("purchases", "p2", "bob:pen", 2_000),
		at("purchases", "p3", "ann:ink", 3_000),
	}
	for i, r := range recs {
		r.Partition = int32(i % 2)
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produce(t, tb.Addr(), at("profiles", "ann", "fr", 5_000), at("profiles", "bob", "de", 6_000))
	app := startApp(t, topo, streams.Config{
		ApplicationID: "rekeyed-join", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
	})
	got := map[string][]string{}
	out := client(t, tb.Addr(), kgo.ConsumeTopics("enriched"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	waitFor(t, func() error {
		appFailed(t, app)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		out.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got[string(r.Key)] = append(got[string(r.Key)], fmt.Sprintf("%s@%d", r.Value, r.Timestamp.UnixMilli()))
			n++
		})
		if n < 3 {
			return fmt.Errorf("joined %d of 3: %v", n, got)
		}
		return nil
	})
	for _, vs := range got {
		slices.Sort(vs)
	}
	if fmt.Sprint(got) != "map[ann:[ann:book@fr@5000 ann:ink@fr@5000] bob:[bob:pen@de@6000]]" {
		t.Fatalf("joined = %v", got)
	}
}

func TestStreamStreamJoinOfTopicsWithDifferentPartitionCountsFailsAtStart(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "orders-2", 2)
	createTopic(t, tb.Addr(), "payments-3", 3)
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders-2", statestore.String{}, statestore.String{})
	payments := streams.Stream(b, "payments-3", statestore.String{}, statestore.String{})
	streams.JoinStreams(orders, payments, func(o, p string) string { return o + p }, streams.JoinWindows(time.Minute), statestore.String{}).
		To("paid", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := streams.New(topo, streams.Config{ApplicationID: "copart", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	err = app.Start(ctxT(t))
	if !errors.Is(err, streams.ErrCoPartitioning) {
		t.Fatalf("Start = %v, want ErrCoPartitioning", err)
	}
	for _, topic := range []string{`"orders-2" has 2`, `"payments-3" has 3`} {
		if !strings.Contains(err.Error(), topic) {
			t.Errorf("error %q does not name %s", err, topic)
		}
	}
}

func TestLeftJoinStreamsEmitsARecordWaitingFromBeforeARestart(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	for _, topic := range []string{"l-events", "r-events", "lj-out"} {
		createTopic(t, tb.Addr(), topic, 1)
	}
	topo := func() *streams.Topology {
		b := streams.NewBuilder()
		left := streams.Stream(b, "l-events", statestore.String{}, statestore.String{})
		right := streams.Stream(b, "r-events", statestore.String{}, statestore.String{})
		streams.LeftJoinStreams(left, right, func(l string, r *string) string { return l + "+" + orNull(r) },
			streams.JoinWindows(10*time.Second), statestore.String{}, streams.Materialized("lj")).
			To("lj-out", nil, nil)
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	cfg := streams.Config{ApplicationID: "lj-restart", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()}
	produce(t, tb.Addr(), at("l-events", "B", "b1", 2_000), at("l-events", "A", "a1", 3_000))
	app := startApp(t, topo(), cfg)
	waitProcessed(t, app, 2)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	// A new instance with empty local state restores the waiting records from the changelogs:
	// a1 still joins a right record within its window, b1 is emitted unjoined when its window
	// closes.
	cfg.StateDir = t.TempDir()
	app = startApp(t, topo(), cfg)
	produce(t, tb.Addr(), at("r-events", "A", "x1", 9_000))
	waitProcessed(t, app, 1)
	produce(t, tb.Addr(), at("l-events", "Z", "z", 60_000))
	got := readExactly(t, app, tb.Addr(), "lj-restart", "lj-out", 2, formatString)
	slices.Sort(got)
	if want := []string{"A=a1+x1@9000", "B=b1+null@2000"}; !slices.Equal(got, want) {
		t.Fatalf("left join across a restart\n got %v\nwant %v", got, want)
	}
}
