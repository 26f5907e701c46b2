package streams_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// failoverSessionTimeout is the group session timeout of the failover measurement: the time
// the coordinator waits for a dead member's heartbeat, and so most of the time to recover.
const failoverSessionTimeout = 6 * time.Second

// TestMeasureFailoverTimeColdVsStandby measures, for docs/benchmarks.md, the time from an
// instance's death to its tasks processing again on the survivors, with cold restores
// (NumStandbyReplicas=0) and with standby replicas (1). It is opt-in, since it takes minutes:
//
//	GREGOR_STREAMS_FAILOVER_BENCH=1 go test -count=1 -v -run TestMeasureFailoverTime ./streams/
//
// GREGOR_STREAMS_FAILOVER_BENCH_RUNS (default 3) sets the runs per mode, alternated;
// GREGOR_STREAMS_FAILOVER_BENCH_KEYS (default 480,000) the distinct keys of the preload, hence
// the changelog records of the count (about one per key, over 6 partitions).
//
// Each run: a fresh broker, 3 instances of Stream → ProcessValues(observer) → GroupByKey →
// Count; the preload is counted, then records keep coming while one instance is cut off the
// network (testnet.Dialer.Sever, as in the failover tests). Per moved task it splits the time
// since the kill into detection (the coordinator drops the dead member: session timeout),
// rebalance (the group is Stable again with the task on a survivor), restore (until the task's
// processor is initialised on its new owner, its stores restored) and resume (until that
// processor sees its first record).
func TestMeasureFailoverTimeColdVsStandby(t *testing.T) {
	if os.Getenv("GREGOR_STREAMS_FAILOVER_BENCH") == "" {
		t.Skip("opt-in measurement: set GREGOR_STREAMS_FAILOVER_BENCH=1")
	}
	runs := envInt(t, "GREGOR_STREAMS_FAILOVER_BENCH_RUNS", 3)
	keys := envInt(t, "GREGOR_STREAMS_FAILOVER_BENCH_KEYS", 480000)
	t.Logf("machine: nproc %d, %s; session timeout %v", runtime.NumCPU(), cpuModel(), failoverSessionTimeout)
	results := map[int][]failoverRun{}
	for i := range runs {
		for _, standbys := range []int{0, 1} {
			t.Run(fmt.Sprintf("standbys=%d/run=%d", standbys, i+1), func(st *testing.T) {
				results[standbys] = append(results[standbys], measureFailover(t, st, standbys, keys))
			})
		}
	}
	for _, standbys := range []int{0, 1} {
		var detect, rebalance, restore, resume, restoreResume, afterDetection, total []time.Duration
		var restored, cold int64
		var loads []string
		for _, r := range results[standbys] {
			for _, tk := range r.tasks {
				detect = append(detect, tk.detected)
				rebalance = append(rebalance, tk.rebalanced-tk.detected)
				restore = append(restore, tk.opened-tk.rebalanced)
				resume = append(resume, tk.processed-tk.opened)
				restoreResume = append(restoreResume, tk.processed-tk.rebalanced)
				afterDetection = append(afterDetection, tk.processed-tk.detected)
				total = append(total, tk.processed)
			}
			restored += r.restored
			cold += r.changelog
			loads = append(loads, r.load)
		}
		t.Logf("NumStandbyReplicas=%d: %d runs, %d moved tasks; since the kill, p50/max: detection %s, rebalance %s, restore %s, resume %s (restore+resume %s), after detection %s, total %s; restored %d of the moved tasks' %d changelog records; load average at the kills: %s",
			standbys, len(results[standbys]), len(total), p50Max(detect), p50Max(rebalance), p50Max(restore), p50Max(resume), p50Max(restoreResume), p50Max(afterDetection), p50Max(total),
			restored, cold, strings.Join(loads, "; "))
	}
}

// failoverRun is what one run measured.
type failoverRun struct {
	tasks     []movedTask
	restored  int64  // changelog records the survivors restored to resume the moved tasks
	changelog int64  // changelog records of the moved tasks: what a cold restore reads
	load      string // /proc/loadavg at the kill
}

// movedTask is one of the dead instance's tasks; the times run from the kill.
type movedTask struct {
	partition  int32
	changelog  int64
	detected   time.Duration // the coordinator has dropped the dead member
	rebalanced time.Duration // the group is Stable with the task on a survivor
	opened     time.Duration // the task's processor is initialised on the survivor (stores restored)
	processed  time.Duration // it has processed its first record there
}

// measureFailover runs once; parent is the test that outlives the run, where the dead
// instance's Close is awaited.
func measureFailover(parent, t *testing.T, standbys, keys int) failoverRun {
	const app, victimID = "fot", "failover-time-victim"
	const changelog = app + "-counts-changelog"
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "events", 6)
	clock := &failoverClock{}
	clock.mu.events = map[failoverEvent]time.Time{}
	topology := func(instance int) *streams.Topology {
		b := streams.NewBuilder()
		s := streams.Stream(b, "events", statestore.String{}, statestore.String{})
		streams.ProcessValues(s, func() streams.Processor[string, string, string, string] {
			return &failoverObserver{clock: clock, instance: instance}
		}, statestore.String{}).GroupByKey().Count(streams.Materialized("counts"))
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	groupOpts := []kgo.Opt{kgo.SessionTimeout(failoverSessionTimeout), kgo.HeartbeatInterval(200 * time.Millisecond)}
	cfg := func() streams.Config {
		return streams.Config{ApplicationID: app, BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
			CommitInterval: 100 * time.Millisecond, NumStandbyReplicas: standbys, ClientOptions: groupOpts}
	}
	victimDialer := &testnet.Dialer{}
	vcfg := cfg()
	// NB: not in t's temporary directory: the dead instance's Close, which cannot reach the
	// broker, may still write there when t ends; the parent test waits for it.
	victimDir, err := os.MkdirTemp("", "failover-time-victim-")
	if err != nil {
		t.Fatal(err)
	}
	vcfg.StateDir = victimDir
	vcfg.ClientOptions = append([]kgo.Opt{kgo.Dialer(victimDialer.Dial), kgo.RecordDeliveryTimeout(3 * time.Second),
		kgo.ClientID(victimID)}, groupOpts...)
	vcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) // it outlives the test
	victim, err := streams.New(topology(0), vcfg)
	if err != nil {
		os.RemoveAll(victimDir)
		t.Fatal(err)
	}
	victimClosed := make(chan struct{})
	parent.Cleanup(func() {
		select {
		case <-victimClosed:
			os.RemoveAll(victimDir)
		case <-time.After(time.Minute):
			parent.Logf("the dead instance has not closed after a minute: %s left behind", victimDir)
		}
	})
	// Closed in the background (after the kill it cannot reach the broker and times out), at
	// the kill or when the run ends before it.
	closeVictim := sync.OnceFunc(func() {
		go func() {
			defer close(victimClosed)
			victim.Close()
		}()
	})
	t.Cleanup(closeVictim)
	if err := victim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	survivors := []*streams.App{startApp(t, topology(1), cfg()), startApp(t, topology(2), cfg())}
	waitForMembers(t, tb.Addr(), app, 3)

	// The preload: distinct keys, so every one is a changelog record that a cold restore reads.
	producer := client(t, tb.Addr())
	for from := 0; from < keys; from += 20000 {
		recs := make([]*kgo.Record, 0, 20000)
		for i := from; i < min(from+20000, keys); i++ {
			recs = append(recs, &kgo.Record{Topic: "events", Key: fmt.Appendf(nil, "key-%07d", i), Value: []byte("x")})
		}
		if err := producer.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitForCommittedEnd(t, tb.Addr(), app, "events", 5*time.Minute)
	standbyRestored := func() int64 {
		return survivors[0].Stats().StandbyRecordsRestored + survivors[1].Stats().StandbyRecordsRestored
	}
	if standbys > 0 {
		// The standbys have caught up once their restores stop moving with no new input.
		last := int64(-1)
		testutil.CheckFor(t, 2*time.Minute, 500*time.Millisecond, func() error {
			if n := standbyRestored(); n == 0 || n != last {
				last = n
				return fmt.Errorf("standby copies restored %d changelog records so far, still moving", n)
			}
			return nil
		})
	}

	// Records keep coming, to every partition, through the kill.
	liveCtx, stopLive := context.WithCancel(context.Background())
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		for i := 0; liveCtx.Err() == nil && i < 100000; i++ {
			recs := make([]*kgo.Record, 60)
			for j := range recs {
				recs[j] = &kgo.Record{Topic: "events", Key: fmt.Appendf(nil, "live-%03d", (i*60+j)%600), Value: []byte("x")}
			}
			producer.ProduceSync(liveCtx, recs...) // NB: errors only when stopped
			select {
			case <-liveCtx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() { stopLive(); <-liveDone }()
	before := victim.Stats().RecordsProcessed
	waitFor(t, func() error {
		if n := victim.Stats().RecordsProcessed - before; n < 1000 {
			return fmt.Errorf("the victim has processed %d live records, not yet 1000 (err %v)", n, victim.Err())
		}
		return nil
	})

	adm := kadm.NewClient(client(t, tb.Addr()))
	described, err := adm.DescribeGroups(ctxT(t), app)
	if err != nil {
		t.Fatal(err)
	}
	var victimMember string
	var moved []int32
	for _, m := range described[app].Members {
		if c, ok := m.Assigned.AsConsumer(); ok && m.ClientID == victimID {
			victimMember = m.MemberID
			for _, tp := range c.Topics {
				moved = append(moved, tp.Partitions...)
			}
		}
	}
	ends, err := adm.ListEndOffsets(ctxT(t), changelog)
	if err != nil {
		t.Fatal(err)
	}
	run := failoverRun{load: loadAverage()}
	for _, p := range moved {
		e, _ := ends.Lookup(changelog, p)
		run.tasks = append(run.tasks, movedTask{partition: p, changelog: e.Offset})
		run.changelog += e.Offset
	}
	if len(moved) == 0 || run.changelog < int64(keys)/10 {
		t.Fatalf("the victim owns partitions %v with %d changelog records: the run measures nothing", moved, run.changelog)
	}
	if standbys == 0 && standbyRestored() != 0 {
		t.Fatalf("survivors restored %d records into standby or warm-up copies although NumStandbyReplicas=0: not a cold failover", standbyRestored())
	}
	restoredBefore := survivors[0].Stats().RecordsRestored + survivors[1].Stats().RecordsRestored

	killedAt := time.Now()
	clock.kill()
	victimDialer.Sever()
	closeVictim()

	// The group, polled every 10 ms: when the dead member is gone, when the moved tasks are on
	// survivors in a Stable group.
	var detected, rebalanced time.Duration
	testutil.CheckFor(t, time.Minute, 10*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		described, err := adm.DescribeGroups(ctx, app)
		if err != nil {
			return fmt.Errorf("describe group %s: %w", app, err)
		}
		since := time.Since(killedAt)
		g := described[app]
		owned := map[int32]bool{}
		for _, m := range g.Members {
			if m.MemberID == victimMember {
				return fmt.Errorf("the dead member %s is still in group %s (%s)", victimMember, app, g.State)
			}
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range c.Topics {
					for _, p := range tp.Partitions {
						owned[p] = true
					}
				}
			}
		}
		if detected == 0 {
			detected = since
		}
		for _, p := range moved {
			if g.State != "Stable" || !owned[p] {
				return fmt.Errorf("group %s is %s; partition %d owned: %v", app, g.State, p, owned[p])
			}
		}
		rebalanced = since
		return nil
	})
	testutil.CheckFor(t, 2*time.Minute, 10*time.Millisecond, func() error {
		for _, p := range moved {
			if _, ok := clock.first(p, failoverProcessed); !ok {
				return fmt.Errorf("no survivor has processed a record of the moved partition %d yet", p)
			}
		}
		return nil
	})
	run.restored = survivors[0].Stats().RecordsRestored + survivors[1].Stats().RecordsRestored - restoredBefore
	for i := range run.tasks {
		tk := &run.tasks[i]
		opened, _ := clock.first(tk.partition, failoverOpened)
		processed, _ := clock.first(tk.partition, failoverProcessed)
		tk.detected, tk.rebalanced = detected, rebalanced
		tk.opened, tk.processed = opened.Sub(killedAt), processed.Sub(killedAt)
		t.Logf("task 0_%d (%d changelog records): detection %v, Stable %v, opened %v, first record %v after the kill",
			tk.partition, tk.changelog, ms(tk.detected), ms(tk.rebalanced), ms(tk.opened), ms(tk.processed))
	}
	if standbys > 0 && run.restored*20 >= run.changelog {
		t.Errorf("with standbys the survivors restored %d of the moved tasks' %d changelog records: not under 5%%", run.restored, run.changelog)
	}
	t.Logf("NumStandbyReplicas=%d: the survivors restored %d of the moved tasks' %d changelog records; load average at the kill %s, now %s",
		standbys, run.restored, run.changelog, run.load, loadAverage())
	return run
}

// failoverEvent is a task event seen by the observer of one instance after the kill.
type failoverEvent struct {
	instance  int // 0 is the victim
	partition int32
	kind      string
}

const (
	failoverOpened    = "opened"
	failoverProcessed = "processed"
)

// failoverClock collects the observers' events after the kill.
type failoverClock struct {
	killed atomic.Bool
	mu     struct {
		sync.Mutex
		events map[failoverEvent]time.Time
	}
}

func (c *failoverClock) kill() { c.killed.Store(true) }

func (c *failoverClock) record(ev failoverEvent) {
	if !c.killed.Load() {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.events[ev]; !ok {
		c.mu.events[ev] = now
	}
}

// first returns the earliest event of kind on partition at a survivor.
func (c *failoverClock) first(partition int32, kind string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for ev, at := range c.mu.events {
		if ev.instance != 0 && ev.partition == partition && ev.kind == kind && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// failoverObserver passes records on and tells its clock when its task opened (Init runs once
// the task's stores are restored) and when it saw its first record.
type failoverObserver struct {
	clock     *failoverClock
	instance  int
	partition int32
	reported  bool
}

func (o *failoverObserver) Init(ctx streams.ProcessorContext[string, string]) error {
	_, p, _ := strings.Cut(ctx.TaskID(), "_")
	n, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("task id %q: %w", ctx.TaskID(), err)
	}
	o.partition = int32(n)
	o.clock.record(failoverEvent{o.instance, o.partition, failoverOpened})
	return nil
}

func (o *failoverObserver) Process(ctx streams.ProcessorContext[string, string], rec streams.Record[string, string]) error {
	// NB: one branch per record until the kill and then one record per task: the observer
	// barely weighs on the processing it measures.
	if !o.reported && o.clock.killed.Load() {
		o.reported = true
		o.clock.record(failoverEvent{o.instance, o.partition, failoverProcessed})
	}
	return ctx.Forward(rec)
}

func (o *failoverObserver) Close() error { return nil }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func p50Max(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%v/%v", ms(s[(len(s)-1)/2]), ms(s[len(s)-1]))
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "cpu unknown"
}
