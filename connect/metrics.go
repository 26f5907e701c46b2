package connect

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// workerMetrics are a worker's Prometheus metrics, with Kafka Connect's meanings (JMX groups
// connector-metrics, connector-task-metrics, source-task-metrics, sink-task-metrics and
// task-error-metrics). docs/metrics.md lists them.
type workerMetrics struct {
	sourcePolled, sourceWritten *prometheus.CounterVec
	sinkRead, sinkWritten       *prometheus.CounterVec
	batch                       *prometheus.HistogramVec
	commits                     *prometheus.CounterVec
	dlq                         *prometheus.CounterVec
}

var taskLabels = []string{"connector", "task"}

// newWorkerMetrics registers a worker's metrics with reg. Metrics already registered there (a
// second worker on a shared registry) are reused, so their counts add up.
func newWorkerMetrics(reg prometheus.Registerer) *workerMetrics {
	m := &workerMetrics{
		sourcePolled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_source_records_polled_total",
			Help: "Records returned by a source task's poll, before transforms (Kafka Connect's source-record-poll-total).",
		}, taskLabels),
		sourceWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_source_records_written_total",
			Help: "Records of a source task acknowledged by Kafka (Kafka Connect's source-record-write-total).",
		}, taskLabels),
		sinkRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_sink_records_read_total",
			Help: "Records a sink task consumed from Kafka, before transforms (Kafka Connect's sink-record-read-total).",
		}, taskLabels),
		sinkWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_sink_records_written_total",
			Help: "Records a sink task's put accepted, after transforms (Kafka Connect's sink-record-send-total).",
		}, taskLabels),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gregor_connect_batch_duration_seconds",
			Help:    "Time of one call into a task with a batch: op=poll is a source task's poll, op=put a sink task's put (Kafka Connect's poll-batch-*-time-ms and put-batch-*-time-ms).",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"connector", "task", "op"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_offset_commits_total",
			Help: "Offset commits of a task by result, success or failure (Kafka Connect's offset-commit-completion-total and offset-commit-skip-total).",
		}, []string{"connector", "task", "result"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gregor_connect_dlq_records_total",
			Help: "Records a sink task wrote to its dead letter queue (Kafka Connect's deadletterqueue-produce-requests).",
		}, taskLabels),
	}
	m.sourcePolled = register(reg, m.sourcePolled)
	m.sourceWritten = register(reg, m.sourceWritten)
	m.sinkRead = register(reg, m.sinkRead)
	m.sinkWritten = register(reg, m.sinkWritten)
	m.batch = register(reg, m.batch)
	m.commits = register(reg, m.commits)
	m.dlq = register(reg, m.dlq)
	return m
}

// register registers c with reg, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// NB: a name clash with an unrelated collector leaves this one unregistered: the worker
		// still runs, its counts are just not exported.
	}
	return c
}

// taskMetrics are one task's metrics, resolved once when its runner is made so the record loops
// only add to counters. A nil *taskMetrics records nothing.
type taskMetrics struct {
	polled, written, read, put prometheus.Counter
	pollBatch, putBatch        prometheus.Observer
	commitOK, commitFailed     prometheus.Counter
	dlq                        prometheus.Counter
}

func (m *workerMetrics) task(connector string, id int) *taskMetrics {
	if m == nil {
		return nil
	}
	task := strconv.Itoa(id)
	return &taskMetrics{
		polled: m.sourcePolled.WithLabelValues(connector, task), written: m.sourceWritten.WithLabelValues(connector, task),
		read: m.sinkRead.WithLabelValues(connector, task), put: m.sinkWritten.WithLabelValues(connector, task),
		pollBatch: m.batch.WithLabelValues(connector, task, "poll"), putBatch: m.batch.WithLabelValues(connector, task, "put"),
		commitOK: m.commits.WithLabelValues(connector, task, "success"), commitFailed: m.commits.WithLabelValues(connector, task, "failure"),
		dlq: m.dlq.WithLabelValues(connector, task),
	}
}

// forgetTask removes the series of connector's task id once its runner stopped on this worker, as
// Kafka Connect removes a task's metrics when the task stops: a deleted connector, or a task moved
// to another worker, leaves no series behind; a task started again counts from zero (a counter
// reset to Prometheus).
func (m *workerMetrics) forgetTask(connector string, id int) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"connector": connector, "task": strconv.Itoa(id)}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.sourcePolled, m.sourceWritten, m.sinkRead, m.sinkWritten, m.batch, m.commits, m.dlq,
	} {
		v.DeletePartialMatch(labels)
	}
}

func (t *taskMetrics) polledBatch(n int, took time.Duration) {
	if t == nil {
		return
	}
	t.polled.Add(float64(n))
	t.pollBatch.Observe(took.Seconds())
}

func (t *taskMetrics) sourceWritten() {
	if t != nil {
		t.written.Inc()
	}
}

func (t *taskMetrics) sinkRead(n int) {
	if t != nil {
		t.read.Add(float64(n))
	}
}

func (t *taskMetrics) putBatchDone(n int, took time.Duration) {
	if t == nil {
		return
	}
	t.put.Add(float64(n))
	t.putBatch.Observe(took.Seconds())
}

func (t *taskMetrics) committed(err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.commitFailed.Inc()
		return
	}
	t.commitOK.Inc()
}

func (t *taskMetrics) dlqWritten(n int) {
	if t != nil {
		t.dlq.Add(float64(n))
	}
}

// statusCollector reports, at scrape time, the state of every connector and task this worker runs
// (Kafka Connect's connector-metrics status and connector-task-metrics status): one series per
// state, 1 for the current one.
type statusCollector struct {
	h                   Herder
	connector, taskDesc *prometheus.Desc
}

var connectStates = []string{StateUnassigned, StateRunning, StatePaused, StateFailed, StateRestarting, StateStopped}

func newStatusCollector(h Herder) *statusCollector {
	return &statusCollector{h: h,
		connector: prometheus.NewDesc("gregor_connect_connector_status",
			"1 for a connector's current state on this worker (UNASSIGNED, RUNNING, PAUSED, FAILED, RESTARTING, STOPPED), 0 for the others.",
			[]string{"connector", "state"}, nil),
		taskDesc: prometheus.NewDesc("gregor_connect_task_status",
			"1 for a task's current state on this worker, 0 for the others.",
			[]string{"connector", "task", "state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connector
	ch <- c.taskDesc
}

// Collect implements prometheus.Collector.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	worker := c.h.WorkerID()
	emit := func(d *prometheus.Desc, current string, labels ...string) {
		for _, s := range connectStates {
			v := 0.0
			if s == current {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels, s)...)
		}
	}
	for _, name := range c.h.Connectors() {
		st, err := c.h.ConnectorStatus(name)
		if err != nil {
			continue // deleted since listed
		}
		if st.Connector.WorkerID == worker {
			emit(c.connector, st.Connector.State, name)
		}
		for _, t := range st.Tasks {
			if t.WorkerID == worker {
				emit(c.taskDesc, t.State, name, strconv.Itoa(t.ID))
			}
		}
	}
}

// withMetrics fills in Metrics with a fresh registry when unset.
func (o Options) withMetrics() Options {
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	return o
}

// registerStatus adds h's connector and task states to the worker's registry.
func registerStatus(reg prometheus.Registerer, h Herder) {
	if reg != nil {
		_ = reg.Register(newStatusCollector(h))
	}
}

// metricsHandler serves reg on /metrics when it is also a Gatherer (a *prometheus.Registry is).
func metricsHandler(reg prometheus.Registerer) http.Handler {
	g, ok := reg.(prometheus.Gatherer)
	if !ok {
		return nil
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// registryOf returns reg as a *prometheus.Registry, or nil when it is another Registerer.
func registryOf(reg prometheus.Registerer) *prometheus.Registry {
	r, _ := reg.(*prometheus.Registry)
	return r
}

// MetricsRegistry returns the registry holding this worker's metrics: the one passed as
// Options.Metrics when it is a *prometheus.Registry, or the fresh one made when none was passed.
// It is served on the REST listener's /metrics.
func (r *Runner) MetricsRegistry() *prometheus.Registry { return registryOf(r.metrics) }

// MetricsRegistry returns the registry holding this worker's metrics (see Runner.MetricsRegistry).
func (r *DistributedRunner) MetricsRegistry() *prometheus.Registry { return registryOf(r.metrics) }
