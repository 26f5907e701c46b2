package streams_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// summer keeps a running sum per key in the store "sums". For each record it forwards an
// acknowledgement to the child "acks-sink" that shows what the processor saw (record metadata,
// timestamp, headers); its punctuations forward a report of all sums to "reports-sink".
type summer struct {
	sums       *statestore.Typed[string, int64]
	cancelWall func()
	wallFired  int
}

func (s *summer) Init(ctx streams.ProcessorContext[string, string]) error {
	kv, err := ctx.KeyValueStore("sums")
	if err != nil {
		return err
	}
	s.sums = statestore.NewTyped(kv, statestore.String{}, statestore.Int64{})
	if _, err := ctx.Schedule(10*time.Second, streams.StreamTime, func(ts int64) error {
		return s.report(ctx, "stream-time", ts)
	}); err != nil {
		return err
	}
	s.cancelWall, err = ctx.Schedule(time.Minute, streams.WallClockTime, func(ts int64) error {
		s.wallFired++
		if s.wallFired == 2 {
			s.cancelWall() // the second wall-clock report is the last
		}
		return s.report(ctx, "wall-clock", ts)
	})
	return err
}

func (s *summer) Process(ctx streams.ProcessorContext[string, string], rec streams.Record[string, int64]) error {
	sum, _, err := s.sums.Get(rec.Key)
	if err != nil {
		return err
	}
	if err := s.sums.Put(rec.Key, sum+rec.Value); err != nil {
		return err
	}
	md, ok := ctx.RecordMetadata()
	if !ok {
		return errors.New("no record metadata while processing a record")
	}
	var hdrs []string
	for _, h := range rec.Headers {
		hdrs = append(hdrs, h.Key+"="+string(h.Value))
	}
	ack := fmt.Sprintf("+%d from %s/%d@%d ts=%d stream-time=%d headers=[%s]", rec.Value, md.Topic, md.Partition, md.Offset,
		rec.Timestamp, ctx.StreamTime(), strings.Join(hdrs, ","))
	return ctx.ForwardTo("acks-sink", streams.Record[string, string]{Key: rec.Key, Value: ack, Timestamp: rec.Timestamp,
		Headers: append(rec.Headers, streams.Header{Key: "task", Value: []byte(ctx.TaskID())})})
}

// report forwards "k=sum ..." of every key in the store, and whether a record is current.
func (s *summer) report(ctx streams.ProcessorContext[string, string], kind string, ts int64) error {
	var parts []string
	it := s.sums.All()
	for it.Next() {
		parts = append(parts, fmt.Sprintf("%s=%d", it.Key(), it.Value()))
	}
	if err := it.Close(); err != nil {
		return err
	}
	if _, ok := ctx.RecordMetadata(); ok {
		parts = append(parts, "(record metadata in a punctuation!)")
	}
	return ctx.ForwardTo("reports-sink", streams.Record[string, string]{Key: kind, Value: strings.Join(parts, " "), Timestamp: ts})
}

func (s *summer) Close() error { return nil }

func summerTopology(t *testing.T) *streams.Topology {
	b := streams.NewBuilder()
	streams.AddStore(b, "sums")
	events := streams.Stream(b, "events", statestore.String{}, statestore.Int64{})
	out := streams.Process(events, func() streams.Processor[string, int64, string, string] { return &summer{} },
		statestore.String{}, statestore.String{}, streams.Named("summer"), streams.ConnectStores("sums"))
	out.To("acks", nil, nil, streams.Named("acks-sink"))
	out.To("reports", nil, nil, streams.Named("reports-sink"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// show renders records as "key:value@timestamp[headers]" for exact comparison.
func show[K, V any](recs []streams.Record[K, V]) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		out[i] = fmt.Sprintf("%v:%v@%d[%s]", r.Key, r.Value, r.Timestamp, strings.Join(hs, ","))
	}
	return out
}

func assertRecords(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestProcessorWithStoreAndBothPunctuationTypesWritesExactOutput(t *testing.T) {
	t.Parallel()
	d := streamstest.New(t, summerTopology(t), streamstest.Options{})
	events := streamstest.Input(d, "events", statestore.String{}, statestore.Int64{})
	acks := streamstest.Output(d, "acks", statestore.String{}, statestore.String{})
	reports := streamstest.Output(d, "reports", statestore.String{}, statestore.String{})

	events.PipeRecords(streams.Record[string, int64]{Key: "a", Value: 5, Timestamp: 1000,
		Headers: []streams.Header{{Key: "trace", Value: []byte("t1")}}})
	events.Pipe("b", 7, 4000)
	events.Pipe("a", 1, 12000)
	events.Pipe("b", 2, 9000) // late: stream time stays at 12000
	events.Pipe("c", 4, 31000)

	assertRecords(t, "acks", show(acks.ReadAll()), []string{
		"a:+5 from events/0@0 ts=1000 stream-time=1000 headers=[trace=t1]@1000[trace=t1,task=0_0]",
		"b:+7 from events/0@1 ts=4000 stream-time=4000 headers=[]@4000[task=0_0]",
		"a:+1 from events/0@2 ts=12000 stream-time=12000 headers=[]@12000[task=0_0]",
		"b:+2 from events/0@3 ts=9000 stream-time=12000 headers=[]@9000[task=0_0]",
		"c:+4 from events/0@4 ts=31000 stream-time=31000 headers=[]@31000[task=0_0]",
	})
	// Stream time: the first punctuation after the first record, then at the first record
	// reaching each next multiple of 10s (12000, then 31000: once, though 20000 and 30000 passed).
	assertRecords(t, "stream-time reports", show(reports.ReadAll()), []string{
		"stream-time:a=5@1000[]",
		"stream-time:a=6 b=7@12000[]",
		"stream-time:a=6 b=9 c=4@31000[]",
	})

	// Wall clock: the task scheduled its punctuation when it opened, at wall-clock time 0.
	d.AdvanceWallClock(30 * time.Second)
	assertRecords(t, "reports after 30s", show(reports.ReadAll()), nil)
	d.AdvanceWallClock(30 * time.Second)
	assertRecords(t, "reports after 60s", show(reports.ReadAll()), []string{"wall-clock:a=6 b=9 c=4@60000[]"})
	events.Pipe("a", 10, 32000)
	acks.ReadUntil(1)
	d.AdvanceWallClock(3 * time.Minute) // three intervals late: one punctuation
	assertRecords(t, "reports after 240s", show(reports.ReadAll()), []string{"wall-clock:a=16 b=9 c=4@240000[]"})
	d.AdvanceWallClock(10 * time.Minute) // cancelled after the second
	assertRecords(t, "reports after cancel", show(reports.ReadAll()), nil)

	if got, want := streamstest.ReadStore(d, "sums", statestore.String{}, statestore.Int64{}), map[string]int64{"a": 16, "b": 9, "c": 4}; !mapsEqual(got, want) {
		t.Fatalf("store sums = %v, want %v", got, want)
	}
}

func mapsEqual[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ticker counts its wall-clock punctuations, with the time of each.
type ticker struct {
	mu    *sync.Mutex
	ticks *[]time.Time
}

func (p ticker) Init(ctx streams.ProcessorContext[string, string]) error {
	_, err := ctx.Schedule(100*time.Millisecond, streams.WallClockTime, func(int64) error {
		p.mu.Lock()
		*p.ticks = append(*p.ticks, time.Now())
		p.mu.Unlock()
		return nil
	})
	return err
}

func (ticker) Process(streams.ProcessorContext[string, string], streams.Record[string, string]) error {
	return nil
}

func (ticker) Close() error { return nil }

func TestWallClockPunctuationFiresWhileTheLoopWaitsForRecords(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "idle", 1)
	var mu sync.Mutex
	var ticks []time.Time
	b := streams.NewBuilder()
	streams.Process(streams.Stream(b, "idle", statestore.String{}, statestore.String{}),
		func() streams.Processor[string, string, string, string] { return ticker{mu: &mu, ticks: &ticks} }, nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// The default commit interval (30s) would otherwise bound the loop's wait for records.
	reg := prometheus.NewRegistry()
	app := startApp(t, topo, streams.Config{ApplicationID: "ticks", BootstrapServers: []string{tb.Addr()},
		CommitInterval: streams.DefaultCommitInterval, MetricsRegisterer: reg})
	produce(t, tb.Addr(), &kgo.Record{Topic: "idle", Value: []byte("open the task")})

	// Every 100ms with no input at all: they keep coming, and not faster than the interval.
	var seen []time.Time
	waitFor(t, func() error {
		appFailed(t, app)
		mu.Lock()
		seen = slices.Clone(ticks)
		mu.Unlock()
		if len(seen) < 6 {
			return fmt.Errorf("%d wall-clock punctuations, want at least 6 (every 100ms) with no input", len(seen))
		}
		return nil
	})
	// NB: a late punctuation is followed by the next on schedule, so two may come closer than
	// the interval; on average they cannot.
	if spread := seen[len(seen)-1].Sub(seen[0]); spread < time.Duration(len(seen)-1)*50*time.Millisecond {
		t.Fatalf("%d wall-clock punctuations within %v: more than one per 100ms interval", len(seen), spread)
	}
	// Each punctuation's lateness is in the punctuation lag histogram.
	lags, _ := gather(t, reg)["gregor_streams_punctuation_lag_seconds"].sum("type=WALL_CLOCK_TIME")
	if lags < float64(len(seen)) {
		t.Errorf("%v punctuation lag samples of type WALL_CLOCK_TIME, want at least the %d punctuations seen", lags, len(seen))
	}
}

// upper upper-cases values and tries to change keys, which ProcessValues must not allow; it
// counts its Close calls.
type upper struct{ closed *atomic.Int32 }

func (upper) Init(streams.ProcessorContext[string, string]) error { return nil }

func (upper) Process(ctx streams.ProcessorContext[string, string], r streams.Record[string, string]) error {
	return ctx.Forward(streams.Record[string, string]{Key: "changed-" + r.Key, Value: strings.ToUpper(r.Value), Timestamp: r.Timestamp})
}

func (u upper) Close() error { u.closed.Add(1); return nil }

func TestProcessValuesKeepsKeysWithoutRepartitionAndClosesItsProcessors(t *testing.T) {
	t.Parallel()
	var closed atomic.Int32
	b := streams.NewBuilder()
	words := streams.Stream(b, "words", statestore.String{}, statestore.String{})
	upped := streams.ProcessValues(words, func() streams.Processor[string, string, string, string] { return upper{&closed} }, statestore.String{})
	upped.To("upper", nil, nil)
	upped.GroupByKey().Count(streams.Materialized("per-key")).ToStream().To("counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topo.Description().Subtopologies); n != 1 {
		t.Fatalf("%d sub-topologies, want 1: keys are kept, so no repartition\n%s", n, topo.Describe())
	}
	d := streamstest.New(t, topo, streamstest.Options{})
	in := streamstest.Input(d, "words", statestore.String{}, statestore.String{})
	in.Pipe("k1", "a", 10)
	in.Pipe("k2", "b", 20)
	in.Pipe("k1", "c", 30)
	assertRecords(t, "upper", show(streamstest.Output(d, "upper", statestore.String{}, statestore.String{}).ReadAll()),
		[]string{"k1:A@10[]", "k2:B@20[]", "k1:C@30[]"})
	assertRecords(t, "counts", show(streamstest.Output(d, "counts", statestore.String{}, statestore.Int64{}).ReadAll()),
		[]string{"k1:1@10[]", "k2:1@20[]", "k1:2@30[]"})
	if err := d.App().Close(); err != nil {
		t.Fatal(err)
	}
	if n := closed.Load(); n != 1 {
		t.Fatalf("processor closed %d times, want once (one task)", n)
	}
}

func TestProcessorMistakesStopTheAppWithAClearError(t *testing.T) {
	t.Parallel()
	type ctx = streams.ProcessorContext[string, string]
	type rec = streams.Record[string, string]
	for _, tc := range []struct {
		name    string
		stores  []string
		init    func(ctx) error
		process func(ctx, rec) error
		values  bool // ProcessValues instead of Process
		want    string
	}{
		{name: "store not connected", init: func(c ctx) error {
			_, err := c.KeyValueStore("elsewhere")
			return err
		}, want: `KSTREAM-PROCESSOR-0000000001: init: not connected to store "elsewhere": pass streams.ConnectStores("elsewhere") to Process`},
		{name: "unknown child", process: func(c ctx, r rec) error {
			return c.ForwardTo("nobody", r)
		}, want: `record in/0@0: processor KSTREAM-PROCESSOR-0000000001: no child "nobody" (children: [KSTREAM-SINK-0000000002])`},
		{name: "interval below 1ms", init: func(c ctx) error {
			_, err := c.Schedule(time.Microsecond, streams.StreamTime, func(int64) error { return nil })
			return err
		}, want: "KSTREAM-PROCESSOR-0000000001: init: punctuation interval 1µs: must be at least 1ms"},
		{name: "fixed-key forward from a punctuation", values: true, init: func(c ctx) error {
			_, err := c.Schedule(time.Millisecond, streams.StreamTime, func(ts int64) error {
				return c.Forward(rec{Key: "k", Value: "v", Timestamp: ts})
			})
			return err
		}, want: "of processor KSTREAM-PROCESSVALUES-0000000001 at 1000: a ProcessValues processor cannot forward outside Process"},
		{name: "punctuator error", init: func(c ctx) error {
			_, err := c.Schedule(time.Second, streams.StreamTime, func(int64) error { return errors.New("boom") })
			return err
		}, want: "punctuation (STREAM_TIME every 1000ms) of processor KSTREAM-PROCESSOR-0000000001 at 1000: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := testbroker.Start(t)
			createTopic(t, tb.Addr(), "in", 1)
			createTopic(t, tb.Addr(), "out", 1)
			supply := func() streams.Processor[string, string, string, string] {
				return &funcs{init: tc.init, process: tc.process}
			}
			b := streams.NewBuilder()
			in := streams.Stream(b, "in", statestore.String{}, statestore.String{})
			if tc.values {
				streams.ProcessValues(in, supply, statestore.String{}).To("out", nil, nil)
			} else {
				streams.Process(in, supply, statestore.String{}, statestore.String{}).To("out", nil, nil)
			}
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			produce(t, tb.Addr(), &kgo.Record{Topic: "in", Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1000)})
			app := startApp(t, topo, streams.Config{ApplicationID: "oops", BootstrapServers: []string{tb.Addr()}})
			select {
			case <-app.Done():
			case <-time.After(waitTimeout):
				t.Fatal("the App did not stop")
			}
			if err := app.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// funcs is a Processor made of optional functions.
type funcs struct {
	init    func(streams.ProcessorContext[string, string]) error
	process func(streams.ProcessorContext[string, string], streams.Record[string, string]) error
}

func (f *funcs) Init(ctx streams.ProcessorContext[string, string]) error {
	if f.init == nil {
		return nil
	}
	return f.init(ctx)
}

func (f *funcs) Process(ctx streams.ProcessorContext[string, string], r streams.Record[string, string]) error {
	if f.process == nil {
		return ctx.Forward(r)
	}
	return f.process(ctx, r)
}

func (f *funcs) Close() error { return nil }

func TestAddStoreWithoutAProcessorFailsBuild(t *testing.T) {
	b := streams.NewBuilder()
	streams.AddStore(b, "orphan")
	streams.Stream(b, "in", statestore.String{}, statestore.String{}).To("out", nil, nil)
	_, err := b.Build()
	want := `store "orphan" was added with AddStore but no processor is connected to it`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Build error = %v, want it to contain %q", err, want)
	}
}

func TestProcessorStoreIsRestoredFromItsChangelogInANewStateDir(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	opts := streamstest.Options{Broker: tb, Config: streams.Config{ApplicationID: "sums-app"}}
	first := streamstest.New(t, summerTopology(t), opts)
	events := streamstest.Input(first, "events", statestore.String{}, statestore.Int64{})
	events.Pipe("a", 5, 1000)
	events.Pipe("b", 7, 2000)
	first.WaitProcessed()
	if err := first.App().Close(); err != nil {
		t.Fatal(err)
	}

	// A new instance with an empty state dir (New makes one) restores "sums" from
	// sums-app-sums-changelog before it processes the next record.
	second := streamstest.New(t, summerTopology(t), opts)
	streamstest.Input(second, "events", statestore.String{}, statestore.Int64{}).Pipe("a", 1, 3000)
	if got, want := streamstest.ReadStore(second, "sums", statestore.String{}, statestore.Int64{}), map[string]int64{"a": 6, "b": 7}; !mapsEqual(got, want) {
		t.Fatalf("restored store sums = %v, want %v", got, want)
	}
	if restored := second.App().Stats().RecordsRestored; restored < 2 {
		t.Fatalf("RecordsRestored = %d, want the 2 keys from the changelog", restored)
	}
}

func TestQueryingAnUnknownStoreFailsNamingIt(t *testing.T) {
	app, err := streams.New(summerTopology(t), streams.Config{ApplicationID: "q", BootstrapServers: []string{"127.0.0.1:1"}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.Store("nope"); err == nil || !strings.Contains(err.Error(), `no store "nope"`) {
		t.Fatalf("Store(nope) error = %v, want it to name the store", err)
	}
	s, err := app.Store("sums")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.All(func(_, _ []byte) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("Store(sums).All before Start: %d entries, %v; want none, no error", n, err)
	}
}
