package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// TopicCounters are one topic's traffic counters. A handler resolves them once per topic of a
// request (Broker.Topic) and adds to them with atomics. A nil *TopicCounters records nothing.
type TopicCounters struct {
	bytesIn   atomic.Uint64
	recordsIn atomic.Uint64
	bytesOut  atomic.Uint64
}

// Produced records one partition's appended batches: their size in bytes and record count.
func (c *TopicCounters) Produced(bytes int, records int64) {
	if c == nil {
		return
	}
	c.bytesIn.Add(uint64(bytes))
	c.recordsIn.Add(uint64(max(records, 0)))
}

// Fetched records bytes of record batches sent to a consumer (not to a follower replica).
func (c *TopicCounters) Fetched(bytes int) {
	if c == nil {
		return
	}
	c.bytesOut.Add(uint64(bytes))
}

// topicStats holds every topic's counters. The map is read lock-free (sync.Map) on the request
// path; a topic's entry is created on its first traffic and dropped at the first scrape after the
// topic is gone (see stateCollector).
type topicStats struct {
	byName sync.Map // string -> *TopicCounters

	bytesIn, recordsIn, bytesOut *prometheus.Desc
}

func newTopicStats() *topicStats {
	return &topicStats{
		bytesIn: prometheus.NewDesc("gregor_broker_topic_bytes_in_total",
			"Bytes of record batches appended by producers, per topic (Kafka's BytesInPerSec).", []string{"topic"}, nil),
		recordsIn: prometheus.NewDesc("gregor_broker_topic_records_in_total",
			"Records appended by producers, per topic (Kafka's MessagesInPerSec).", []string{"topic"}, nil),
		bytesOut: prometheus.NewDesc("gregor_broker_topic_bytes_out_total",
			"Bytes of record batches sent to consumers (replica fetches excluded), per topic (Kafka's BytesOutPerSec).", []string{"topic"}, nil),
	}
}

// Topic returns topic's counters, creating them on first use. On a nil *Broker it returns nil.
func (m *Broker) Topic(topic string) *TopicCounters {
	if m == nil {
		return nil
	}
	if c, ok := m.topics.byName.Load(topic); ok {
		return c.(*TopicCounters)
	}
	c, _ := m.topics.byName.LoadOrStore(topic, &TopicCounters{})
	return c.(*TopicCounters)
}

// forget drops the counters of topics for which keep returns false.
func (s *topicStats) forget(keep func(topic string) bool) {
	s.byName.Range(func(k, _ any) bool {
		if !keep(k.(string)) {
			s.byName.Delete(k)
		}
		return true
	})
}

// Describe implements prometheus.Collector.
func (s *topicStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.bytesIn
	ch <- s.recordsIn
	ch <- s.bytesOut
}

// Collect implements prometheus.Collector.
func (s *topicStats) Collect(ch chan<- prometheus.Metric) {
	s.byName.Range(func(k, v any) bool {
		name, c := k.(string), v.(*TopicCounters)
		ch <- prometheus.MustNewConstMetric(s.bytesIn, prometheus.CounterValue, float64(c.bytesIn.Load()), name)
		ch <- prometheus.MustNewConstMetric(s.recordsIn, prometheus.CounterValue, float64(c.recordsIn.Load()), name)
		ch <- prometheus.MustNewConstMetric(s.bytesOut, prometheus.CounterValue, float64(c.bytesOut.Load()), name)
		return true
	})
}
