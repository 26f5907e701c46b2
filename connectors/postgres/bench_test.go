package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// arrivals consumes topics and records when each key id first arrived.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]map[int64]time.Time
	prod map[int64]time.Time
	stop func()
	done chan struct{}
}

func watchArrivals(t *testing.T, tb *testbroker.Broker, topics ...string) *arrivals {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &arrivals{at: map[string]map[int64]time.Time{}, prod: map[int64]time.Time{}, done: make(chan struct{})}
	for _, tp := range topics {
		a.at[tp] = map[int64]time.Time{}
	}
	a.stop = func() { cancel(); <-a.done; cl.Close() }
	t.Cleanup(a.stop)
	go func() {
		defer close(a.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			a.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				var k struct {
					Payload struct {
						ID int64 `json:"id"`
					} `json:"payload"`
				}
				if json.Unmarshal(r.Key, &k) == nil {
					if _, dup := a.at[r.Topic][k.Payload.ID]; !dup {
						a.at[r.Topic][k.Payload.ID] = now
						if r.Topic == "b.public.lat" {
							a.prod[k.Payload.ID] = r.Timestamp
						}
					}
				}
			})
			a.mu.Unlock()
		}
	}()
	return a
}

func (a *arrivals) count(topic string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at[topic])
}

func (a *arrivals) waitCount(t *testing.T, topic string, n int, timeout time.Duration) time.Time {
	t.Helper()
	testutil.CheckFor(t, timeout, 25*time.Millisecond, func() error {
		if a.count(topic) < n {
			return fmt.Errorf("%d records on %s", n, topic)
		}
		return nil
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	var last time.Time
	for _, at := range a.at[topic] {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// TestMeasureSnapshotStreamingAndLatency measures snapshot rows/s, streaming changes/s and
// insert-to-topic latency at a steady 1,000 changes/s. It is a measurement, not a unit test: set
// GREGOR_PGCDC_BENCH=1 to run it (figures in docs/benchmarks.md).
func TestMeasureSnapshotStreamingAndLatency(t *testing.T) {
	if os.Getenv("GREGOR_PGCDC_BENCH") == "" {
		t.Skip("set GREGOR_PGCDC_BENCH=1 to measure")
	}
	const snapshotRows, streamRows, rate, latencySeconds = 100_000, 50_000, 1000, 15
	pg := testpg.Start(t)
	db := pg.NewDatabase(t)
	pg.Exec(t, db,
		`CREATE TABLE snap (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz)`,
		fmt.Sprintf(`INSERT INTO snap SELECT g, 'name-' || g, g * 1.25, now() FROM generate_series(1, %d) g`, snapshotRows),
		`CREATE TABLE stream (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz)`,
		`CREATE TABLE lat (id bigint PRIMARY KEY, at timestamptz)`,
	)
	tb := testbroker.Start(t)
	flushMs := os.Getenv("GREGOR_PGCDC_BENCH_FLUSH_MS")
	if flushMs == "" {
		flushMs = "1000"
	}
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"), "offset.flush.interval.ms", flushMs)
	t.Logf("offset.flush.interval.ms=%s", flushMs)
	arr := watchArrivals(t, tb, "b.public.snap", "b.public.stream")

	start := time.Now()
	createConnector(t, w.Addr, "bench", cdcConfig(pg, db, "b"))
	last := arr.waitCount(t, "b.public.snap", snapshotRows, 5*time.Minute)
	snapRate := float64(snapshotRows) / last.Sub(start).Seconds()
	t.Logf("snapshot: %d rows in %v: %.0f rows/s", snapshotRows, last.Sub(start).Round(time.Millisecond), snapRate)

	conn := pg.Connect(t, db)
	ctx := context.Background()
	start = time.Now()
	for i := 0; i < streamRows; i += 1000 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO stream SELECT g, 'name-' || g, g * 1.25, now() FROM generate_series(%d, %d) g`, i+1, i+1000)); err != nil {
			t.Fatal(err)
		}
	}
	committed := time.Since(start)
	last = arr.waitCount(t, "b.public.stream", streamRows, 5*time.Minute)
	streamRate := float64(streamRows) / last.Sub(start).Seconds()
	t.Logf("streaming: %d inserts (100 transactions, committed in %v) on the topic after %v: %.0f changes/s",
		streamRows, committed.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond), streamRate)

	// NB: a consumer of its own, so the latency phase does not share fetches with the big topics.
	arr.stop()
	arr = watchArrivals(t, tb, "b.public.lat")
	// Warm up: the first change creates the topic and the consumer has to discover it, which takes
	// a metadata refresh; the steady state is measured after that.
	if _, err := conn.Exec(ctx, `INSERT INTO lat VALUES (0, now())`); err != nil {
		t.Fatal(err)
	}
	arr.waitCount(t, "b.public.lat", 1, time.Minute)
	n := rate * latencySeconds
	sent := make([]time.Time, n+1)
	var commitMax time.Duration
	start = time.Now()
	for i := 1; i <= n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		before := time.Now()
		if _, err := conn.Exec(ctx, `INSERT INTO lat VALUES ($1, now())`, i); err != nil {
			t.Fatal(err)
		}
		// NB: latency counts from the commit's acknowledgement: the connector cannot see a change
		// before that. Slow commits are reported apart.
		sent[i] = time.Now()
		commitMax = max(commitMax, sent[i].Sub(before))
	}
	achieved := float64(n) / time.Since(start).Seconds()
	arr.waitCount(t, "b.public.lat", n+1, time.Minute)
	arr.mu.Lock()
	lat := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		lat = append(lat, arr.at["b.public.lat"][int64(i)].Sub(sent[i]))
	}
	// Split each latency at the record's Kafka timestamp, which the worker's producer sets when the
	// task hands the record over: commit → produce is the connector, produce → consumer is Kafka.
	var conn2prod, prod2cons []time.Duration
	for i := 1; i <= n; i++ {
		conn2prod = append(conn2prod, arr.prod[int64(i)].Sub(sent[i]))
		prod2cons = append(prod2cons, arr.at["b.public.lat"][int64(i)].Sub(arr.prod[int64(i)]))
	}
	arr.mu.Unlock()
	for _, st := range []struct {
		name string
		l    []time.Duration
	}{{"commit → producer (connector)", conn2prod}, {"producer → consumer (Kafka path)", prod2cons}} {
		sort.Slice(st.l, func(i, j int) bool { return st.l[i] < st.l[j] })
		q := func(f float64) time.Duration { return st.l[int(f*float64(len(st.l)-1))].Round(100 * time.Microsecond) }
		t.Logf("  %s: p50 %v p99 %v max %v", st.name, q(0.5), q(0.99), st.l[len(st.l)-1].Round(time.Millisecond))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(100 * time.Microsecond) }
	t.Logf("commit-to-topic latency at %.0f changes/s (target %d/s, %d single-row transactions): p50 %v p90 %v p99 %v max %v (slowest commit %v)",
		achieved, rate, n, p(0.50), p(0.90), p(0.99), lat[len(lat)-1].Round(time.Millisecond), commitMax.Round(time.Millisecond))
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), %s/%s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	if p99 := p(0.99); p99 > 200*time.Millisecond {
		t.Errorf("p99 latency %v is above the 200ms target", p99)
	}
}
