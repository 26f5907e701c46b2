package broker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/metrics"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/server"
)

// MetricsRegistry returns the registry holding this broker's Prometheus metrics (its own, never
// the global default: several brokers may share a process), with the Go and process collectors.
// Serve it with promhttp or combine several with prometheus.Gatherers.
func (b *Broker) MetricsRegistry() *prometheus.Registry { return b.metrics.Registry() }

// MetricsAddr returns the bound address of metrics.listener, or "" when it is off.
func (b *Broker) MetricsAddr() string {
	if b.metricsListener == nil {
		return ""
	}
	return b.metricsListener.Addr().String()
}

// startMetricsListener serves /metrics on metrics.listener, if set.
func (b *Broker) startMetricsListener(ctx context.Context) error {
	if b.cfg.MetricsListener == "" {
		return nil
	}
	l, err := metrics.Listen(ctx, b.cfg.MetricsListener, b.MetricsRegistry(), b.logger)
	if err != nil {
		return err
	}
	b.metricsListener = l
	b.logger.Info("serving metrics", "addr", "http://"+l.Addr().String()+"/metrics")
	return nil
}

// requestObserver is the server's Observer: the metrics', or nil when metrics are off (no clock
// read per request).
func (b *Broker) requestObserver() server.Observer {
	if b.metrics == nil {
		return nil
	}
	return b.metrics.Requests()
}

// observeImages counts the ISR changes of partitions led here, from every published image.
func (b *Broker) observeImages(pub *metadata.Publisher) {
	if b.metrics == nil {
		return
	}
	pub.Subscribe("metrics", func(u metadata.Update) { b.metrics.ObserveImage(b.cfg.NodeID, u.Changes) })
}

// countFetched adds the record bytes of a consumer's fetch response to its topics' bytes out
// (replica fetches are replication traffic, not counted). Splices are in response order, one per
// partition that returned records.
func (b *Broker) countFetched(r *kmsg.FetchRequest, resp *kmsg.FetchResponse, splices []server.Splice) {
	if b.metrics == nil || len(splices) == 0 || r.ReplicaID >= 0 || (r.Version >= 15 && r.ReplicaState.ID >= 0) {
		return
	}
	next := 0
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		var c *metrics.TopicCounters
		for j := range rt.Partitions {
			rb := rt.Partitions[j].RecordBatches
			if next >= len(splices) || len(rb) == 0 || len(splices[next].Placeholder) == 0 || &rb[0] != &splices[next].Placeholder[0] {
				continue
			}
			if c == nil {
				name := rt.Topic
				if r.Version >= 13 {
					if t := b.topicByID(rt.TopicID); t != nil {
						name = t.name
					}
				}
				c = b.metrics.Topic(name)
			}
			for _, fr := range splices[next].Ranges {
				c.Fetched(fr.Size)
			}
			next++
		}
	}
}

// metricsSource reads the broker's state for a scrape.
type metricsSource struct{ b *Broker }

// Snapshot implements metrics.Source.
func (s metricsSource) Snapshot() metrics.State {
	b := s.b
	st := metrics.State{OfflinePartitions: -1, Connections: map[string]int{}, Groups: map[string]int{}}
	var parts []*partition
	b.mu.RLock()
	for name, t := range b.topics {
		st.Topics = append(st.Topics, name)
		for _, p := range t.partitions {
			if p != nil {
				parts = append(parts, p)
			}
		}
	}
	b.mu.RUnlock()
	hws := make(map[topicPartition]int64, len(parts))
	for _, p := range parts {
		snap := p.state.Snapshot()
		leader := snap.Role == replication.RoleLeader
		ps := metrics.PartitionState{
			Topic: p.topic.name, Partition: p.index,
			SizeBytes: p.log.Size(), Segments: p.log.NumSegments(),
			LogStartOffset: p.log.LogStartOffset(), LogEndOffset: p.log.LogEndOffset(),
			HighWatermark: snap.HighWatermark, Leader: leader,
			UnderReplicated: leader && len(snap.ISR) < len(snap.Replicas),
		}
		st.Partitions = append(st.Partitions, ps)
		hws[topicPartition{p.topic.name, p.index}] = snap.HighWatermark
	}
	if img := b.MetadataImage(); img != nil {
		st.OfflinePartitions = 0
		for _, t := range img.Topics() {
			for _, p := range t.Partitions() {
				if p.Leader < 0 {
					st.OfflinePartitions++
				}
			}
		}
	}
	if b.srv != nil {
		byAddr := b.srv.ConnectionsByListener()
		for i, l := range b.clientListeners() {
			if i < len(b.addrs) {
				st.Connections[l.Name] += byAddr[b.addrs[i].String()]
			}
		}
	}
	s.groups(&st, hws)
	return st
}

// metricsGroupsTimeout bounds how long a scrape waits for the group coordinator's goroutine.
const metricsGroupsTimeout = 5 * time.Second

// groups fills in group counts by state and lag, read on the coordinator's goroutine.
func (s metricsSource) groups(st *metrics.State, hws map[topicPartition]int64) {
	b := s.b
	if b.groups == nil {
		return
	}
	for _, name := range group.StateNames() {
		st.Groups[name] = 0
	}
	got := make(chan []group.Summary, 1)
	go func() {
		// NB: do waits for the coordinator's goroutine, which Start launches; a scrape before Start
		// or after Close gets no group metrics rather than a hang.
		var all []group.Summary
		_, err := b.groups.doAll(func(c *group.Coordinator, _ time.Time) { all = append(all, c.Summaries()...) })
		if err == nil {
			got <- all
		} else {
			select {
			case got <- nil: // stopping: the scrape goes on without group metrics
			default:
			}
		}
	}()
	var sums []group.Summary
	select {
	case sums = <-got:
	case <-time.After(metricsGroupsTimeout):
		b.repeats.Warn("metrics: the group coordinator did not answer in time; group metrics skipped")
		return
	}
	for _, g := range sums {
		st.Groups[g.State.String()]++
		for _, o := range g.Offsets {
			hw, ok := hws[topicPartition{o.Topic, o.Partition}]
			if !ok {
				hw = -1
			}
			st.Lag = append(st.Lag, metrics.GroupLag{Group: g.Group, Topic: o.Topic, Partition: o.Partition, Committed: o.Offset, HighWatermark: hw})
		}
	}
}
