package fetchsession

import "github.com/prometheus/client_golang/prometheus"

var (
	sessionsDesc = prometheus.NewDesc("gregor_fetch_sessions",
		"Incremental fetch sessions (KIP-227) cached by this broker.", nil, nil)
	partitionsDesc = prometheus.NewDesc("gregor_fetch_session_partitions",
		"Partitions held across this broker's cached fetch sessions.", nil, nil)
	evictionsDesc = prometheus.NewDesc("gregor_fetch_session_evictions_total",
		"Fetch sessions evicted to make room for new ones.", nil, nil)
	omittedDesc = prometheus.NewDesc("gregor_fetch_session_partitions_omitted_total",
		"Partitions left out of incremental fetch responses because nothing changed for the client.", nil, nil)
)

// Collector returns a Prometheus collector of the cache's Stats, read at each scrape.
func (c *Cache) Collector() prometheus.Collector { return collector{c} }

type collector struct{ c *Cache }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- partitionsDesc
	ch <- evictionsDesc
	ch <- omittedDesc
}

func (m collector) Collect(ch chan<- prometheus.Metric) {
	st := m.c.Stats()
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(st.Sessions))
	ch <- prometheus.MustNewConstMetric(partitionsDesc, prometheus.GaugeValue, float64(st.Partitions))
	ch <- prometheus.MustNewConstMetric(evictionsDesc, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(omittedDesc, prometheus.CounterValue, float64(st.Omitted))
}
