package streams_test

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/streams"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// series are the gathered samples of one metric, by their labels ("k=v,k=v" sorted by name).
type series map[string]*dto.Metric

func gather(t *testing.T, reg *prometheus.Registry) map[string]series {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]series{}
	for _, f := range families {
		s := series{}
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			s[strings.Join(labels, ",")] = m
		}
		out[f.GetName()] = s
	}
	return out
}

// sum adds the counter (or gauge, or histogram count) values of the series whose labels
// contain every one of match.
func (s series) sum(match ...string) (float64, int) {
	var total float64
	n := 0
	for labels, m := range s {
		ok := true
		for _, want := range match {
			if !strings.Contains(","+labels+",", ","+want+",") {
				ok = false
			}
		}
		if !ok {
			continue
		}
		n++
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total, n
}

func TestTwoAppsShareARegistryAndCloseRemovesTheirSeries(t *testing.T) {
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "counts-out", 2)
	reg := prometheus.NewRegistry()
	start := func(id string) *streams.App {
		return startApp(t, consoleTopology(t), streams.Config{ApplicationID: id, BootstrapServers: []string{addr},
			StateDir: t.TempDir(), InstanceID: "one", MetricsRegisterer: reg, ConsolePublishInterval: -1})
	}
	a, b := start("metrics-a"), start("metrics-b")
	const n = 300
	var records []*kgo.Record
	for i := range n {
		records = append(records, &kgo.Record{Topic: "orders", Key: []byte(strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i%5))})
	}
	produce(t, addr, records...)
	for _, id := range []string{"metrics-a", "metrics-b"} {
		app := map[string]*streams.App{"metrics-a": a, "metrics-b": b}[id]
		waitFor(t, func() error {
			appFailed(t, app)
			m := gather(t, reg)
			app := "application_id=" + id
			for _, node := range []string{"orders-source", "by-value", "count"} {
				if got, _ := m["gregor_streams_process_records_total"].sum(app, "node="+node); got != n {
					return fmt.Errorf("%s: %s processed %v records, want %d", id, node, got, n)
				}
			}
			// The count's record cache forwards the latest count per key (5 keys) per commit.
			if got, _ := m["gregor_streams_process_records_total"].sum(app, "node=counts-sink"); got < 5 || got > n {
				return fmt.Errorf("%s: counts-sink processed %v records, want 5 to %d", id, got, n)
			}
			if got, _ := m["gregor_streams_process_latency_seconds"].sum(app, "node=orders-source"); got < 1 {
				return fmt.Errorf("%s: no process latency sample at the source", id)
			}
			if got, _ := m["gregor_streams_commit_latency_seconds"].sum(app); got < 1 {
				return fmt.Errorf("%s: no commit latency sample", id)
			}
			if _, k := m["gregor_streams_store_size_bytes"].sum(app, "store=counts"); k != 2 {
				return fmt.Errorf("%s: %d store size series of counts, want one per partition (2)", id, k)
			}
			restored, k := m["gregor_streams_restore_restored_records"].sum(app, "store=counts")
			total, _ := m["gregor_streams_restore_total_records"].sum(app, "store=counts")
			if k != 2 || restored != total {
				return fmt.Errorf("%s: restore progress of counts over %d partitions: %v of %v", id, k, restored, total)
			}
			if _, k := m["gregor_streams_dropped_records_total"].sum(app); k != 1 {
				return fmt.Errorf("%s: %d dropped records series, want 1", id, k)
			}
			if _, k := m["gregor_streams_source_lag_records"].sum(app, "topic=orders"); k != 2 {
				return fmt.Errorf("%s: %d source lag series of orders, want 2", id, k)
			}
			return nil
		})
	}

	// A second App with the same application.id and instance cannot register its metrics.
	dup, err := streams.New(consoleTopology(t), streams.Config{ApplicationID: "metrics-b", BootstrapServers: []string{addr},
		StateDir: t.TempDir(), InstanceID: "one", MetricsRegisterer: reg, ConsolePublishInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("Start of a duplicate instance = %v, want a register metrics error", err)
	}
	dup.Close()

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	m := gather(t, reg)
	for name, s := range m {
		if _, k := s.sum("application_id=metrics-a"); k != 0 {
			t.Errorf("%s still has %d series of the closed App", name, k)
		}
	}
	if got, _ := m["gregor_streams_process_records_total"].sum("application_id=metrics-b", "node=orders-source"); got != n {
		t.Errorf("the open App's source count = %v after the other closed, want %d", got, n)
	}
}

func TestRestoreProgressGaugesReachTheChangelogEndOnANewInstance(t *testing.T) {
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "counts-out", 2)
	cfg := streams.Config{ApplicationID: "restorer", BootstrapServers: []string{addr}, StateDir: t.TempDir(),
		MetricsRegisterer: prometheus.NewRegistry(), ConsolePublishInterval: -1}
	first := startApp(t, consoleTopology(t), cfg)
	var records []*kgo.Record
	for i := range 200 {
		records = append(records, &kgo.Record{Topic: "orders", Key: []byte(strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i%40))})
	}
	produce(t, addr, records...)
	waitCaughtUp(t, first, addr, "restorer")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// A new instance without local state restores the counts from their changelog, logging its
	// progress (every fetch, with the interval shortened).
	reg := prometheus.NewRegistry()
	var logs lockedLog
	cfg.StateDir, cfg.MetricsRegisterer, cfg.Logger = t.TempDir(), reg, slog.New(slog.NewTextHandler(&logs, nil))
	cfg.CommitInterval = 100 * time.Millisecond // bounds the loop's poll, after which assigned tasks open
	second, err := streams.New(consoleTopology(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	streams.SetRestoreProgressInterval(second, time.Nanosecond)
	if err := second.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		appFailed(t, second)
		m := gather(t, reg)
		restored, k := m["gregor_streams_restore_restored_records"].sum("store=counts")
		total, _ := m["gregor_streams_restore_total_records"].sum("store=counts")
		if k != 2 || total == 0 || restored != total {
			return fmt.Errorf("restore progress of counts over %d partitions: %v of %v, want all of a non-zero total over 2", k, restored, total)
		}
		return nil
	})

	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="restoring store from changelog"`) {
			line = l
			break
		}
	}
	for _, want := range []string{"store=counts", "partition=", "records=", "done=", "total=", "percent=", "eta="} {
		if !strings.Contains(line, want) {
			t.Errorf("restore progress line lacks %q: %q", want, line)
		}
	}
}

// lockedLog is a goroutine-safe log sink.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
