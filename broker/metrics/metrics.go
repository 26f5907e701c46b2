package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gregor-streams/gregor/broker/server"
)

// Broker holds one broker's metrics and the registry they are registered in. Its methods are safe
// for concurrent use. A nil *Broker is valid and records nothing (metrics off).
type Broker struct {
	reg *prometheus.Registry

	requests *requestStats
	topics   *topicStats

	fetchWaiters prometheus.Gauge
	fsync        prometheus.Histogram
	isrShrinks   prometheus.Counter
	isrExpands   prometheus.Counter
}

// NewBroker returns a broker's metrics registered in a fresh registry (never the global default
// one: several brokers may run in one process), with the Go runtime and process collectors. state
// is read at every scrape; nil reports no state metrics.
func NewBroker(state Source) *Broker {
	m := &Broker{
		reg:      prometheus.NewRegistry(),
		requests: newRequestStats(),
		topics:   newTopicStats(),
		fetchWaiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gregor_broker_fetch_waiters",
			Help: "Fetch requests waiting (long poll) for fetch.min.bytes or fetch.max.wait.ms (Kafka's fetch purgatory size).",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gregor_broker_log_flush_duration_seconds",
			Help:    "Time taken by an fsync of a log file (segments, indexes, checkpoints).",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		isrShrinks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gregor_broker_isr_shrinks_total",
			Help: "ISR shrinks of partitions led by this broker, as seen in the metadata image.",
		}),
		isrExpands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gregor_broker_isr_expands_total",
			Help: "ISR expansions of partitions led by this broker, as seen in the metadata image.",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.topics, m.fetchWaiters, m.fsync, m.isrShrinks, m.isrExpands,
	)
	if state != nil {
		m.reg.MustRegister(newStateCollector(state, m.topics))
	}
	return m
}

// Registry returns the registry every metric of this broker is registered in.
func (m *Broker) Registry() *prometheus.Registry {
	if m == nil {
		return prometheus.NewRegistry()
	}
	return m.reg
}

// FetchWaitStarted records a fetch that begins to long-poll; call the returned func when it ends.
func (m *Broker) FetchWaitStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.fetchWaiters.Inc()
	return m.fetchWaiters.Dec
}

// Requests returns the server Observer that counts requests and observes their latency.
func (m *Broker) Requests() server.Observer {
	if m == nil {
		return nil
	}
	return m.requests
}
