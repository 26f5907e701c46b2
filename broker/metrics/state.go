package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Source gives the broker state that is read, not counted: Snapshot is called once per scrape,
// from the scraping goroutine. It must be safe for concurrent use and should not block for long
// (a scrape waits for it).
type Source interface {
	Snapshot() State
}

// State is the broker's state at one scrape. The collector owns it once returned.
type State struct {
	// Topics names every topic the broker knows; per-topic counters of other topics are dropped.
	Topics []string
	// Partitions are the partitions with a log on this broker.
	Partitions []PartitionState
	// Connections counts open client connections per listener name.
	Connections map[string]int
	// Groups counts the consumer groups this broker coordinates, per state name.
	Groups map[string]int
	// Lag holds, per group and partition it committed, the committed offset and the high watermark.
	Lag []GroupLag
	// OfflinePartitions counts partitions of the metadata image without a leader; -1 when the
	// broker has no image (a single node, whose partitions are never offline).
	OfflinePartitions int
}

// PartitionState is one hosted partition's log and replication state.
type PartitionState struct {
	Topic          string
	Partition      int32
	SizeBytes      int64
	Segments       int
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	// Leader is true when this broker leads the partition (always, on a single node).
	Leader bool
	// UnderReplicated is true when this broker leads the partition and its ISR is smaller than
	// its replica set.
	UnderReplicated bool
}

// GroupLag is one committed offset of a group, with its partition's high watermark (-1: the
// partition is not hosted here, and no lag is reported).
type GroupLag struct {
	Group         string
	Topic         string
	Partition     int32
	Committed     int64
	HighWatermark int64
}

// Lag is the high watermark minus the committed offset, never negative (Kafka's consumer lag).
func (l GroupLag) Lag() int64 { return max(l.HighWatermark-l.Committed, 0) }

type stateCollector struct {
	src    Source
	topics *topicStats

	logSize, segments, logStart, logEnd, highWatermark *prometheus.Desc
	partitions, leaders, underReplicated, offline      *prometheus.Desc
	connections, groups, lag                           *prometheus.Desc
}

func newStateCollector(src Source, topics *topicStats) *stateCollector {
	tp := []string{"topic", "partition"}
	return &stateCollector{
		src: src, topics: topics,
		logSize:         prometheus.NewDesc("gregor_broker_log_size_bytes", "Bytes of a partition's segment files (Kafka's Log Size).", tp, nil),
		segments:        prometheus.NewDesc("gregor_broker_log_segments", "Segments of a partition's log (Kafka's Log NumLogSegments).", tp, nil),
		logStart:        prometheus.NewDesc("gregor_broker_log_start_offset", "A partition's log start offset (Kafka's Log LogStartOffset).", tp, nil),
		logEnd:          prometheus.NewDesc("gregor_broker_log_end_offset", "A partition's log end offset (Kafka's Log LogEndOffset).", tp, nil),
		highWatermark:   prometheus.NewDesc("gregor_broker_high_watermark", "A partition's high watermark: the offset consumers read up to.", tp, nil),
		partitions:      prometheus.NewDesc("gregor_broker_partitions", "Partitions with a log on this broker (Kafka's PartitionCount).", nil, nil),
		leaders:         prometheus.NewDesc("gregor_broker_leader_partitions", "Partitions this broker leads (Kafka's LeaderCount).", nil, nil),
		underReplicated: prometheus.NewDesc("gregor_broker_under_replicated_partitions", "Partitions led here whose ISR is smaller than their replica set (Kafka's UnderReplicatedPartitions).", nil, nil),
		offline:         prometheus.NewDesc("gregor_broker_offline_partitions", "Partitions of the metadata image without a leader (Kafka's OfflinePartitionsCount; the cluster's view, the same on every broker).", nil, nil),
		connections:     prometheus.NewDesc("gregor_broker_connections", "Open client connections per listener (Kafka's connection-count).", []string{"listener"}, nil),
		groups:          prometheus.NewDesc("gregor_groups", "Consumer groups coordinated by this broker, per state (Kafka's NumGroupsStable, NumGroupsEmpty, ...).", []string{"state"}, nil),
		lag:             prometheus.NewDesc("gregor_group_lag", "Consumer lag: the partition's high watermark minus the group's committed offset, computed by the group coordinator.", []string{"group", "topic", "partition"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.logSize, c.segments, c.logStart, c.logEnd, c.highWatermark,
		c.partitions, c.leaders, c.underReplicated, c.offline, c.connections, c.groups, c.lag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Snapshot()
	known := make(map[string]bool, len(st.Topics))
	for _, t := range st.Topics {
		known[t] = true
	}
	c.topics.forget(func(t string) bool { return known[t] })

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	leaders, under := 0, 0
	for _, p := range st.Partitions {
		part := strconv.Itoa(int(p.Partition))
		gauge(c.logSize, float64(p.SizeBytes), p.Topic, part)
		gauge(c.segments, float64(p.Segments), p.Topic, part)
		gauge(c.logStart, float64(p.LogStartOffset), p.Topic, part)
		gauge(c.logEnd, float64(p.LogEndOffset), p.Topic, part)
		gauge(c.highWatermark, float64(p.HighWatermark), p.Topic, part)
		if p.Leader {
			leaders++
		}
		if p.UnderReplicated {
			under++
		}
	}
	gauge(c.partitions, float64(len(st.Partitions)))
	gauge(c.leaders, float64(leaders))
	gauge(c.underReplicated, float64(under))
	gauge(c.offline, float64(max(st.OfflinePartitions, 0)))
	for name, n := range st.Connections {
		gauge(c.connections, float64(n), name)
	}
	for state, n := range st.Groups {
		gauge(c.groups, float64(n), state)
	}
	for _, l := range st.Lag {
		if l.HighWatermark < 0 {
			continue
		}
		gauge(c.lag, float64(l.Lag()), l.Group, l.Topic, strconv.Itoa(int(l.Partition)))
	}
}
