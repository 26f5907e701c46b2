package streams

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The App's Prometheus metrics (see Config.MetricsRegisterer). Every series carries the
// constant labels application_id and instance, so several Apps can share one registry.
const (
	metricProcessRecords  = "gregor_streams_process_records_total"
	metricProcessLatency  = "gregor_streams_process_latency_seconds"
	metricCommitLatency   = "gregor_streams_commit_latency_seconds"
	metricRestoreRestored = "gregor_streams_restore_restored_records"
	metricRestoreTotal    = "gregor_streams_restore_total_records"
	metricDroppedRecords  = "gregor_streams_dropped_records_total"
	metricPunctuationLag  = "gregor_streams_punctuation_lag_seconds"
	metricStoreSize       = "gregor_streams_store_size_bytes"
	metricSourceLag       = "gregor_streams_source_lag_records"
)

// latencySampleMask makes the per-node latency histograms time one record in 256 (the first,
// then every 256th) per task and node.
//
// NB: reading the clock twice per record and node costs more than the rest of a simple node;
// sampling keeps the cost of metrics within noise of the topology's throughput while the
// histogram still sees thousands of samples a minute on a busy node.
const latencySampleMask = 255

// latencyBuckets are the upper bounds (seconds) of the process latency histograms: 1µs to ~1s.
var latencyBuckets = prometheus.ExponentialBuckets(1e-6, 4, 11)

// latencyHistogram is a histogram over latencyBuckets updated with atomics (no lock), exposed
// as a constant histogram at scrape time.
type latencyHistogram struct {
	buckets  [11]atomic.Uint64 // not cumulative; len(latencyBuckets)
	count    atomic.Uint64
	sumNanos atomic.Int64
}

func (h *latencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	for i, le := range latencyBuckets {
		if s <= le {
			h.buckets[i].Add(1)
			break
		}
	}
	h.count.Add(1)
	h.sumNanos.Add(int64(d))
}

// snapshot returns the count, the sum in seconds and the cumulative bucket counts.
func (h *latencyHistogram) snapshot() (uint64, float64, map[float64]uint64) {
	cum := make(map[float64]uint64, len(latencyBuckets))
	var c uint64
	for i, le := range latencyBuckets {
		c += h.buckets[i].Load()
		cum[le] = c
	}
	return h.count.Load(), time.Duration(h.sumNanos.Load()).Seconds(), cum
}

// nodeMetrics are the counters of one node in one task. They are written by the task's
// goroutine and read by scrapes and the console publisher.
type nodeMetrics struct {
	name string
	// count is the records processed, counted by the task's goroutine only; processed is
	// count as last published (taskMetrics.publish), for other goroutines.
	//
	// NB: an atomic add per record and node cost ~30% of a stateless topology's throughput;
	// a plain increment published once per fetched batch costs next to nothing.
	count     int64
	processed atomic.Int64
	latency   latencyHistogram
}

// taskMetrics are a task's node metrics, resolved once when the task opens.
type taskMetrics struct {
	id     string
	nodes  []*nodeMetrics // in the sub-topology's node order
	byNode map[*node]*nodeMetrics
	// sourceLag is, per source topic of the task, the records after the last one processed up
	// to the high watermark of the last fetch (set per fetched batch, not per record).
	sourceLag map[string]*atomic.Int64
}

// publish makes the counts of the task's goroutine visible to scrapes. The task's goroutine
// calls it after each batch of records and each commit.
func (tm *taskMetrics) publish() {
	if tm == nil {
		return
	}
	for _, nm := range tm.nodes {
		nm.processed.Store(nm.count)
	}
}

// instrumented is a node instance with its metrics, as handed to its parent's instantiate:
// forwardTo unwraps it into a forwarding function that counts and samples latency.
type instrumented struct {
	fn any
	m  *nodeMetrics
}

// forwardTo returns the forwarding function to a child instance (a func(Record[K, V]) error,
// or one wrapped with its metrics).
func forwardTo[K, V any](c any) func(Record[K, V]) error {
	in, ok := c.(instrumented)
	if !ok {
		return c.(func(Record[K, V]) error)
	}
	return counted(in.m, in.fn.(func(Record[K, V]) error))
}

// counted wraps a node's instance: it counts the records handed to it and times one in
// latencySampleMask+1 of them.
func counted[R any](m *nodeMetrics, f func(R) error) func(R) error {
	return func(r R) error {
		m.count++
		if m.count&latencySampleMask != 1 {
			return f(r)
		}
		start := time.Now()
		err := f(r)
		m.latency.observe(time.Since(start))
		return err
	}
}

// restoreProgress is the progress of the last restore of one partition of a store.
type restoreProgress struct {
	restored, total atomic.Int64
}

type storePartition struct {
	store     string
	partition int32
}

// metrics are an App's metrics. A nil *metrics (metrics disabled) is valid: every method is a
// no-op.
type metrics struct {
	app *App
	reg prometheus.Registerer // wrapped with the App's constant labels

	commitLatency  prometheus.Histogram
	punctuationLag [WallClockTime + 1]prometheus.Observer // by PunctuationType
	punctLagVec    *prometheus.HistogramVec
	dropped        prometheus.CounterFunc
	collector      *metricsCollector
	// registered is set once register succeeded.
	//
	// NB: Unregister finds collectors by their descriptions, which are the same for another
	// App with the same application.id and instance: an App whose registration failed must
	// not unregister, or it would remove the running App's metrics.
	registered bool

	mu struct {
		sync.Mutex
		tasks    map[taskID]*taskMetrics
		restores map[storePartition]*restoreProgress
		// retired are the records processed per node by tasks closed since Start, so that the
		// console's per-node totals do not fall when a task moves away.
		retired map[string]int64
	}
}

func newMetrics(a *App) *metrics {
	if a.cfg.DisableMetrics {
		return nil
	}
	reg := a.cfg.MetricsRegisterer
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &metrics{app: a, reg: prometheus.WrapRegistererWith(prometheus.Labels{
		"application_id": a.cfg.ApplicationID, "instance_id": a.cfg.InstanceID}, reg)}
	m.mu.tasks = map[taskID]*taskMetrics{}
	m.mu.restores = map[storePartition]*restoreProgress{}
	m.mu.retired = map[string]int64{}
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    metricCommitLatency,
		Help:    "Time to commit: flush the record caches, the output, the stores and commit the input offsets.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	m.punctLagVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricPunctuationLag,
		Help:    "How late punctuations fire after their due time (stream time for STREAM_TIME, the App's clock for WALL_CLOCK_TIME).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"type"})
	for _, typ := range []PunctuationType{StreamTime, WallClockTime} {
		m.punctuationLag[typ] = m.punctLagVec.WithLabelValues(typ.String())
	}
	m.dropped = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: metricDroppedRecords,
		Help: "Records dropped: late for a closed window, or with a null key (or value) an aggregation cannot use.",
	}, func() float64 { return float64(a.droppedRecords.Load()) })
	m.collector = newMetricsCollector(m)
	return m
}

// register adds the App's metrics to the registerer.
func (m *metrics) register() error {
	if m == nil {
		return nil
	}
	for i, c := range m.collectors() {
		if err := m.reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				m.reg.Unregister(done)
			}
			return fmt.Errorf("streams: register metrics (application.id %q, instance %q): %w",
				m.app.cfg.ApplicationID, m.app.cfg.InstanceID, err)
		}
	}
	m.registered = true
	return nil
}

// unregister removes the App's metrics from the registerer (Close).
func (m *metrics) unregister() {
	if m == nil || !m.registered {
		return
	}
	m.registered = false
	for _, c := range m.collectors() {
		m.reg.Unregister(c)
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.commitLatency, m.punctLagVec, m.dropped, m.collector}
}

func (m *metrics) observeCommit(start time.Time) {
	if m != nil {
		m.commitLatency.Observe(time.Since(start).Seconds())
	}
}

func (m *metrics) observePunctuationLag(typ PunctuationType, lagMs int64) {
	if m != nil && typ >= StreamTime && typ <= WallClockTime {
		m.punctuationLag[typ].Observe(float64(lagMs) / 1000)
	}
}

// openTask resolves the metrics of a task's nodes; nil when metrics are off.
func (m *metrics) openTask(id taskID, st *subtopology) *taskMetrics {
	if m == nil {
		return nil
	}
	tm := &taskMetrics{id: id.String(), sourceLag: map[string]*atomic.Int64{}, byNode: map[*node]*nodeMetrics{}}
	for _, n := range st.nodes {
		nm := &nodeMetrics{name: n.name}
		tm.nodes = append(tm.nodes, nm)
		tm.byNode[n] = nm
		if n.kind == sourceNode {
			tm.sourceLag[topicName(m.app.cfg.ApplicationID, n)] = new(atomic.Int64)
		}
	}
	m.mu.Lock()
	m.mu.tasks[id] = tm
	m.mu.Unlock()
	return tm
}

// closeTask drops a task's series; its node counts go on counting in the console's totals.
func (m *metrics) closeTask(id taskID, tm *taskMetrics) {
	if m == nil || tm == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.tasks[id] != tm {
		return
	}
	delete(m.mu.tasks, id)
	for _, nm := range tm.nodes {
		m.mu.retired[nm.name] += nm.processed.Load()
	}
}

// restoreListener returns the statestore.Options.RestoreListener of one store partition.
func (m *metrics) restoreListener(store string, partition int32) func(restored, total int64) {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	p := m.mu.restores[storePartition{store, partition}]
	if p == nil {
		p = &restoreProgress{}
		m.mu.restores[storePartition{store, partition}] = p
	}
	m.mu.Unlock()
	return func(restored, total int64) {
		p.total.Store(total)
		p.restored.Store(restored)
	}
}

// nodeTotals returns the records processed per node since Start (live and closed tasks), the
// sampled latency per node (count, sum in seconds), and the source lag per node.
func (m *metrics) nodeTotals() (processed map[string]int64, latCount map[string]uint64, latSum map[string]float64, lag map[string]int64) {
	processed, latCount, latSum, lag = map[string]int64{}, map[string]uint64{}, map[string]float64{}, map[string]int64{}
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.Copy(processed, m.mu.retired)
	for _, tm := range m.mu.tasks {
		for _, nm := range tm.nodes {
			processed[nm.name] += nm.processed.Load()
			c, s, _ := nm.latency.snapshot()
			latCount[nm.name] += c
			latSum[nm.name] += s
		}
		for topic, l := range tm.sourceLag {
			lag[topic] += l.Load()
		}
	}
	return
}

// metricsCollector exposes the per-task series at scrape time: node counters and latency
// histograms, source lag, restore progress and store sizes.
type metricsCollector struct {
	m                                                    *metrics
	processed, latency, restored, total, size, sourceLag *prometheus.Desc
}

func newMetricsCollector(m *metrics) *metricsCollector {
	return &metricsCollector{
		m: m,
		processed: prometheus.NewDesc(metricProcessRecords,
			"Records processed per task and node (the process rate is its rate()).", []string{"task", "node"}, nil),
		latency: prometheus.NewDesc(metricProcessLatency,
			"Time a node takes to process a record, its downstream nodes included (one record in 256 is timed).",
			[]string{"task", "node"}, nil),
		restored: prometheus.NewDesc(metricRestoreRestored,
			"Changelog records (offsets) restored so far by the last restore of a store partition.", []string{"store", "partition"}, nil),
		total: prometheus.NewDesc(metricRestoreTotal,
			"Changelog records (offsets) the last restore of a store partition has to restore.", []string{"store", "partition"}, nil),
		size: prometheus.NewDesc(metricStoreSize,
			"Approximate on-disk size of a store partition open on this instance (LevelDB's estimate).", []string{"store", "partition"}, nil),
		sourceLag: prometheus.NewDesc(metricSourceLag,
			"Records of a task's source partition after the last one processed, up to the high watermark of the last fetch.",
			[]string{"task", "topic"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.processed, c.latency, c.restored, c.total, c.size, c.sourceLag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	tasks := slices.Collect(maps.Values(c.m.mu.tasks))
	restores := maps.Clone(c.m.mu.restores)
	c.m.mu.Unlock()
	for _, tm := range tasks {
		for _, nm := range tm.nodes {
			ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(nm.processed.Load()), tm.id, nm.name)
			count, sum, buckets := nm.latency.snapshot()
			ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, buckets, tm.id, nm.name)
		}
		for topic, lag := range tm.sourceLag {
			ch <- prometheus.MustNewConstMetric(c.sourceLag, prometheus.GaugeValue, float64(lag.Load()), tm.id, topic)
		}
	}
	for sp, p := range restores {
		part := strconv.Itoa(int(sp.partition))
		ch <- prometheus.MustNewConstMetric(c.restored, prometheus.GaugeValue, float64(p.restored.Load()), sp.store, part)
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(p.total.Load()), sp.store, part)
	}
	a := c.m.app
	a.iq.mu.RLock()
	defer a.iq.mu.RUnlock()
	for name, parts := range a.iq.stores {
		for p, kv := range parts {
			size, err := kv.ApproximateSizeBytes()
			if err != nil {
				continue // closed under us: it is gone from the next scrape
			}
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(size), name, strconv.Itoa(int(p)))
		}
	}
}

// nodeMetrics returns the metrics of one of the task's nodes, nil when metrics are off. Node
// instances that count themselves (countsItself) call it once, when they are made.
func (t *task) nodeMetrics(n *node) *nodeMetrics {
	if t.metrics == nil {
		return nil
	}
	return t.metrics.byNode[n]
}
