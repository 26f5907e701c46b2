// Package metrics is the broker's Prometheus instrumentation: one registry per broker holding
// request counters and latency histograms, per-topic traffic counters, fsync latency, and
// collectors that read partition, replication, connection and consumer-group state at scrape time.
//
// Counters on the request path are atomics reached without a map lookup under a lock: request
// counts sit in a fixed array indexed by API key and version, histograms are resolved once per
// API key and cached, and per-topic counters are resolved once per topic of a request (a
// sync.Map read), never per record. Everything else (log sizes, offsets, ISR health, group lag)
// is read from the broker when Prometheus scrapes, through the Source the broker provides, so
// nothing is kept up to date on writes.
//
// Metric names follow Prometheus conventions (`gregor_broker_…_total`, `_seconds`, `_bytes`) with
// Kafka's meanings; docs/metrics.md lists each with its Kafka JMX equivalent.
package metrics
