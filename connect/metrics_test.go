package connect_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/file"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testmetrics"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// scrapeMetric GETs url and sums the samples of name carrying every "k=v" label in want
// (histograms count their observations).
func scrapeMetric(url, name string, want ...string) (float64, error) {
	fs, err := testmetrics.Scrape(url)
	if err != nil {
		return 0, err
	}
	v, ok := fs.Value(name, want...)
	if !ok {
		return 0, fmt.Errorf("no %s%v in the scrape", name, want)
	}
	return v, nil
}

// TestWorkerMetricsCountRecordsCommitsDLQAndStates runs a file source and a tolerant sink with a
// dead letter queue, and reads on the REST listener's /metrics what Kafka Connect's JMX metrics
// would show: records polled and written per source task, read and put per sink task, batch
// latencies, offset commits, DLQ records, and connector and task states.
func TestWorkerMetricsCountRecordsCommitsDLQAndStates(t *testing.T) {
	tb := testbroker.Start(t)
	const n = 20
	produceMixed(t, tb, "mixed", n) // 10 valid, 10 bad records
	w := startWorker(t, tb, nil, "")
	if w.MetricsRegistry() == nil {
		t.Fatal("Runner.MetricsRegistry is nil with no Options.Metrics")
	}
	c := restClient{t: t, base: "http://" + w.Addr}
	url := c.base + "/metrics"

	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("a\nb\nc\nd\ne\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.expect(201, "POST", "/connectors", fmt.Sprintf(`{"name":"lines","config":{"connector.class":"FileStreamSource","file":%q,"topic":"lines"}}`, in))
	c.expect(201, "POST", "/connectors", fmt.Sprintf(`{"name":"tolerant","config":{"connector.class":"FileStreamSink","file":%q,"topics":"mixed",%s,
		"errors.tolerance":"all","errors.deadletterqueue.topic.name":"mixed-dlq","errors.deadletterqueue.topic.replication.factor":"1"}}`,
		filepath.Join(t.TempDir(), "out.txt"), schemalessJSON))

	checks := []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{
		{"gregor_connect_source_records_polled_total", []string{"connector=lines", "task=0"}, 5, false},
		{"gregor_connect_source_records_written_total", []string{"connector=lines", "task=0"}, 5, false},
		{"gregor_connect_sink_records_read_total", []string{"connector=tolerant", "task=0"}, n, false},
		{"gregor_connect_sink_records_written_total", []string{"connector=tolerant", "task=0"}, n / 2, false},
		{"gregor_connect_dlq_records_total", []string{"connector=tolerant", "task=0"}, n / 2, false},
		{"gregor_connect_batch_duration_seconds", []string{"connector=lines", "op=poll"}, 1, true},
		{"gregor_connect_batch_duration_seconds", []string{"connector=tolerant", "op=put"}, 1, true},
		{"gregor_connect_offset_commits_total", []string{"connector=lines", "result=success"}, 1, true},
		{"gregor_connect_offset_commits_total", []string{"connector=tolerant", "result=success"}, 1, true},
		{"gregor_connect_connector_status", []string{"connector=tolerant", "state=RUNNING"}, 1, false},
		{"gregor_connect_connector_status", []string{"connector=tolerant"}, 1, false}, // exactly one state is 1
		{"gregor_connect_task_status", []string{"connector=lines", "task=0", "state=RUNNING"}, 1, false},
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		for _, ck := range checks {
			got, err := scrapeMetric(url, ck.name, ck.labels...)
			if err != nil {
				return err
			}
			if got != ck.want && !(ck.atLeast && got >= ck.want) {
				return fmt.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
			}
		}
		return nil
	})

	// A paused connector shows PAUSED.
	c.expect(202, "PUT", "/connectors/lines/pause", "")
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		got, err := scrapeMetric(url, "gregor_connect_connector_status", "connector=lines", "state=PAUSED")
		if err == nil && got != 1 {
			err = fmt.Errorf("lines PAUSED = %v", got)
		}
		return err
	})

	// A deleted connector leaves no series behind (its task's counters are removed when the task
	// stops; its status series go with it).
	c.expect(204, "DELETE", "/connectors/tolerant", "")
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		fs, err := testmetrics.Scrape(url)
		if err != nil {
			return err
		}
		for _, name := range []string{"gregor_connect_sink_records_read_total", "gregor_connect_dlq_records_total",
			"gregor_connect_batch_duration_seconds", "gregor_connect_offset_commits_total", "gregor_connect_task_status"} {
			if v, ok := fs.Value(name, "connector=tolerant"); ok {
				return fmt.Errorf("%s{connector=tolerant} = %v after the connector was deleted", name, v)
			}
		}
		if _, ok := fs.Value("gregor_connect_source_records_polled_total", "connector=lines"); !ok {
			return fmt.Errorf("the remaining connector lines lost its series")
		}
		return nil
	})
}

// TestDistributedWorkersEachReportTheTasksTheyRun: two distributed workers in one process keep
// separate registries, serve them on their REST listeners, and exactly one of them reports the
// running task of a connector (each worker reports what it runs, as Kafka Connect's JMX does).
func TestDistributedWorkersEachReportTheTasksTheyRun(t *testing.T) {
	tb := startDistBroker(t)
	a := startDistWorker(t, tb, nil, "metrics-cluster")
	b := startDistWorker(t, tb, nil, "metrics-cluster")
	if a.MetricsRegistry() == nil || a.MetricsRegistry() == b.MetricsRegistry() {
		t.Fatal("distributed workers do not have registries of their own")
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("x\ny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeRetrying(restOf(t, a), 201, "POST", "/connectors",
		fmt.Sprintf(`{"name":"spread","config":{"connector.class":"FileStreamSource","file":%q,"topic":"spread-lines","tasks.max":"1"}}`, in))
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		running, polled := 0.0, 0.0
		for _, w := range []*connect.DistributedRunner{a, b} {
			fs, err := testmetrics.Scrape("http://" + w.Addr + "/metrics")
			if err != nil {
				return err
			}
			n, _ := fs.Value("gregor_connect_task_status", "connector=spread", "task=0", "state=RUNNING")
			running += n
			p, _ := fs.Value("gregor_connect_source_records_polled_total", "connector=spread")
			polled += p
		}
		// NB: at least 2: a task moved by a rebalance before its offsets were stored polls again.
		if running != 1 || polled < 2 {
			return fmt.Errorf("workers report task spread-0 RUNNING %v times (want 1) and %v records polled (want 2 or more)", running, polled)
		}
		return nil
	})
}
