package broker

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// CreateTopics v0-7.
	register(19, 0, 7, func(b *Broker, _ *server.Conn, r *kmsg.CreateTopicsRequest) server.Response {
		return server.Response{Msg: b.handleCreateTopics(r)}
	})
}

func (b *Broker) handleCreateTopics(r *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	if b.forwardsAdmin() {
		return b.forwardCreateTopics(r)
	}
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	budget := b.newRequestBudget()
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		err := b.createTopicFromRequest(r, &rt, &st, seen[rt.Topic] > 1, budget)
		if err != nil {
			st.ErrorCode = codeFor(err)
			st.ErrorMessage = errText(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
func (b *Broker) createTopicFromRequest(r *kmsg.CreateTopicsRequest, rt *kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic, duplicate bool, budget *requestBudget) error {
	if duplicate {
		return apiErr(kerr.InvalidRequest, "topic %q appears more than once in the request", rt.Topic)
	}
	partitions, rf := rt.NumPartitions, rt.ReplicationFactor
	if len(rt.ReplicaAssignment) > 0 {
		if partitions != -1 || rf != -1 {
			return apiErr(kerr.InvalidRequest, "both a replica assignment and partitions/replication factor were given")
		}
		partitions = int32(len(rt.ReplicaAssignment))
		for i, a := range rt.ReplicaAssignment {
			if a.Partition != int32(i) {
				return apiErr(kerr.InvalidReplicaAssignment, "replica assignment partitions must be 0..%d in order", partitions-1)
			}
			if len(a.Replicas) != 1 || a.Replicas[0] != b.cfg.NodeID {
				return apiErr(kerr.InvalidReplicaAssignment, "partition %d: replicas %v; this cluster has the single broker %d", i, a.Replicas, b.cfg.NodeID)
			}
		}
		rf = 1
	}
	if rf == -1 {
		rf = b.cfg.DefaultReplicationFactor
	}
	if rf <= 0 {
		return apiErr(kerr.InvalidReplicationFactor, "replication factor must be larger than 0, got %d", rf)
	}
	if rf > 1 {
		return apiErr(kerr.InvalidReplicationFactor, "replication factor %d is larger than the 1 available broker", rf)
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			continue
		}
		configs[c.Name] = *c.Value
	}
	t, err := b.createTopic(rt.Topic, partitions, configs, r.ValidateOnly, budget)
	if err != nil {
		return err
	}
	st.NumPartitions, st.ReplicationFactor = int32(len(t.partitions)), 1
	st.TopicID = t.id
	b.describeCreatedConfigs(st, t.configs)
	if !r.ValidateOnly {
		b.logger.Info("created topic", "topic", t.name, "partitions", len(t.partitions), "configs", t.configs)
	}
	return nil
}

// createTopic creates (or with validateOnly, checks) a topic. budget, if not nil, is the
// request's partition budget. Errors are apiErrors.
//
// NB: b.mu is not held while the partitions are created (thousands of files): the name and the
// partition count are reserved first, so produce, fetch and metadata carry on meanwhile.
func (b *Broker) createTopic(name string, partitions int32, configs map[string]string, validateOnly bool, budget *requestBudget) (*topic, error) {
	if err := validTopicName(name); err != nil {
		return nil, apiErr(kerr.InvalidTopicException, "%v", err)
	}
	if partitions == -1 {
		partitions = b.cfg.NumPartitions
	}
	if partitions <= 0 {
		return nil, apiErr(kerr.InvalidPartitions, "number of partitions must be larger than 0, got %d", partitions)
	}
	clean := map[string]string{}
	for k, v := range configs {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return nil, apiErr(kerr.InvalidConfig, "%v", err)
		}
		clean[k] = v
	}
	b.mu.Lock()
	if _, ok := b.topics[name]; ok || b.creating[name] {
		b.mu.Unlock()
		return nil, apiErr(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if collides := b.collidingTopicLocked(name); collides != "" {
		b.mu.Unlock()
		return nil, apiErr(kerr.InvalidTopicException, "topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", name, collides)
	}
	if err := budget.take(partitions); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if err := b.reservePartitionsLocked(partitions); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if validateOnly {
		b.releasePartitionsLocked(partitions)
		b.mu.Unlock()
		return &topic{name: name, configs: clean, partitions: make([]*partition, partitions)}, nil
	}
	b.creating[name] = true
	b.mu.Unlock()

	t := &topic{name: name, id: newUUID(), configs: clean}
	parts, err := b.openNewPartitions(t, 0, partitions)

	b.mu.Lock()
	delete(b.creating, name)
	b.releasePartitionsLocked(partitions)
	if err != nil {
		b.mu.Unlock()
		return nil, apiErr(kerr.KafkaStorageError, "%v", err)
	}
	t.partitions = parts
	b.topics[name] = t
	b.byID[t.id] = t
	b.mu.Unlock()
	if err := b.saveMeta(false); err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	return t, nil
}
func (b *Broker) collidingTopicLocked(name string) string {
	norm := strings.ReplaceAll(name, ".", "_")
	for other := range b.topics {
		if strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	for other := range b.creating {
		if strings.ReplaceAll(other, ".", "_") == norm {
			return other
		}
	}
	return ""
}

// configSource is DescribeConfigs' source enum for a topic config entry.
func (b *Broker) configSource(tc config.Topic, e config.Entry) int8 {
	if e.Explicit {
		return 1 // DYNAMIC_TOPIC_CONFIG
	}
	if _, set := tc.BrokerSourceFor(e.Name); set {
		return 4 // STATIC_BROKER_CONFIG
	}
	return 5 // DEFAULT_CONFIG
}
