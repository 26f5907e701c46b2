package broker

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
)

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
	defer b.mu.Unlock()
	delete(b.creating, name)
	b.releasePartitionsLocked(partitions)
	if err != nil {
		return nil, apiErr(kerr.KafkaStorageError, "%v", err)
	}
	t.partitions = parts
	b.topics[name] = t
	b.byID[t.id] = t
	if err := b.saveMetaLocked(); err != nil {
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

func (b *Broker) handleCreateTopics(r *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
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
	tc := config.Topic{Overrides: t.configs, Broker: b.cfg}
	for _, e := range tc.Entries() {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		v := e.Value
		c.Value = &v
		c.Source = b.configSource(tc, e)
		st.Configs = append(st.Configs, c)
	}
	if !r.ValidateOnly {
		b.log.Info("created topic", "topic", t.name, "partitions", len(t.partitions), "configs", t.configs)
	}
	return nil
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

func (b *Broker) handleDeleteTopics(r *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	for _, n := range r.TopicNames { // v0-v5
		n := n
		targets = append(targets, target{name: &n})
	}
	for _, t := range r.Topics { // v6+
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		var err error
		var name string
		if tg.name != nil {
			name = *tg.name
		} else if t := b.topicByID(tg.id); t != nil {
			name = t.name
			st.Topic = &t.name
		} else {
			err = apiErr(kerr.UnknownTopicID, "no topic with id %s", formatUUID(tg.id))
		}
		if err == nil {
			var id [16]byte
			id, err = b.deleteTopic(name)
			if tg.name != nil {
				st.TopicID = id
			}
		}
		if err != nil {
			st.ErrorCode = codeFor(err)
			st.ErrorMessage = errText(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) deleteTopic(name string) ([16]byte, error) {
	if isInternalTopic(name) {
		return [16]byte{}, apiErr(kerr.InvalidRequest, "internal topic %s cannot be deleted", name)
	}
	b.mu.Lock()
	t := b.topics[name]
	if t == nil {
		b.mu.Unlock()
		return [16]byte{}, apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	delete(b.topics, name)
	delete(b.byID, t.id)
	err := b.saveMetaLocked()
	b.mu.Unlock()
	if err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	for _, p := range t.partitions {
		if err := p.log.Delete(); err != nil {
			b.log.Warn("deleting partition directory failed", "topic", name, "partition", p.index, "err", err)
		}
	}
	if err != nil {
		// On a full disk the deletion itself frees the space the registry needs: try again.
		b.mu.Lock()
		err = b.saveMetaLocked()
		b.mu.Unlock()
		if err != nil {
			b.log.Error("persisting topic metadata failed after deleting the topic's partitions", "topic", name, "err", err)
		}
	}
	b.log.Info("deleted topic", "topic", name)
	b.deleteTopicOffsets(name)
	return t.id, nil
}

func (b *Broker) handleCreatePartitions(r *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	budget := b.newRequestBudget()
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if err := b.createPartitions(rt, r.ValidateOnly, budget); err != nil {
			st.ErrorCode = codeFor(err)
			st.ErrorMessage = errText(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// createPartitions raises a topic's partition count. Like createTopic, it checks the bounds and
// reserves the new partitions under b.mu, creates them without it, and rolls back on failure.
func (b *Broker) createPartitions(rt kmsg.CreatePartitionsRequestTopic, validateOnly bool, budget *requestBudget) error {
	b.mu.Lock()
	t := b.topics[rt.Topic]
	have, err := b.checkCreatePartitionsLocked(t, rt)
	if err == nil {
		err = budget.take(rt.Count - have)
	}
	if err == nil {
		err = b.reservePartitionsLocked(rt.Count - have)
	}
	if err != nil || validateOnly {
		if err == nil {
			b.releasePartitionsLocked(rt.Count - have)
		}
		b.mu.Unlock()
		return err
	}
	t.growing = true
	b.mu.Unlock()

	parts, err := b.openNewPartitions(t, have, rt.Count)

	b.mu.Lock()
	defer b.mu.Unlock()
	t.growing = false
	b.releasePartitionsLocked(rt.Count - have)
	if err != nil {
		return apiErr(kerr.KafkaStorageError, "%v", err)
	}
	if b.topics[t.name] != t {
		b.deletePartitions(parts)
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q was deleted while its partitions were created", t.name)
	}
	t.partitions = append(t.partitions, parts...)
	if err := b.saveMetaLocked(); err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	b.log.Info("added partitions", "topic", t.name, "partitions", len(t.partitions))
	return nil
}

// checkCreatePartitionsLocked validates a CreatePartitions topic against t (nil: unknown) and
// returns t's current partition count. Requires b.mu.
func (b *Broker) checkCreatePartitionsLocked(t *topic, rt kmsg.CreatePartitionsRequestTopic) (int32, error) {
	if t == nil {
		return 0, apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
	}
	if t.growing {
		return 0, apiErr(kerr.InvalidPartitions, "partitions are being added to topic %q by another request", rt.Topic)
	}
	have := int32(len(t.partitions))
	if rt.Count <= have {
		return 0, apiErr(kerr.InvalidPartitions, "topic %q has %d partitions; the new count %d must be larger", rt.Topic, have, rt.Count)
	}
	if rt.Assignment != nil && int32(len(rt.Assignment)) != rt.Count-have {
		return 0, apiErr(kerr.InvalidReplicaAssignment, "%d assignments given for %d new partitions", len(rt.Assignment), rt.Count-have)
	}
	for _, a := range rt.Assignment {
		if len(a.Replicas) != 1 || a.Replicas[0] != b.cfg.NodeID {
			return 0, apiErr(kerr.InvalidReplicaAssignment, "replicas %v; this cluster has the single broker %d", a.Replicas, b.cfg.NodeID)
		}
	}
	return have, nil
}

const (
	resourceTopic  = 2
	resourceBroker = 4
)

func (b *Broker) handleDescribeConfigs(r *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		want := func(name string) bool {
			if rr.ConfigNames == nil {
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, source int8, readOnly, sensitive bool, kind config.TopicKind, doc string, synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym) {
			if !want(name) {
				return
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name = name
			v := value
			c.Value = &v
			c.ReadOnly = readOnly
			c.Source = kmsg.ConfigSource(source)
			c.IsDefault = source == 5
			c.IsSensitive = sensitive
			c.ConfigType = kmsg.ConfigType(configType(kind))
			if r.IncludeDocumentation && doc != "" {
				c.Documentation = &doc
			}
			if r.IncludeSynonyms {
				c.ConfigSynonyms = synonyms
			}
			sr.Configs = append(sr.Configs, c)
		}
		switch rr.ResourceType {
		case resourceTopic:
			b.mu.RLock()
			t := b.topics[rr.ResourceName]
			var overrides map[string]string
			if t != nil {
				overrides = cloneMap(t.configs)
			}
			b.mu.RUnlock()
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sr.ErrorMessage = errMsg(fmt.Sprintf("topic %q does not exist", rr.ResourceName))
				break
			}
			tc := config.Topic{Overrides: overrides, Broker: b.cfg}
			kinds := map[string]config.TopicKind{}
			for _, d := range config.TopicDefs() {
				kinds[d.Name] = d.Kind
			}
			for _, e := range tc.Entries() {
				src := b.configSource(tc, e)
				var syn []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
				if e.Explicit {
					s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					s.Name, s.Value, s.Source = e.Name, errMsg(e.Value), kmsg.ConfigSource(1)
					syn = append(syn, s)
				}
				if key, set := tc.BrokerSourceFor(e.Name); set {
					s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					s.Name, s.Value, s.Source = key, errMsg(b.cfg.Raw[key]), kmsg.ConfigSource(4)
					syn = append(syn, s)
				}
				add(e.Name, e.Value, src, false, false, kinds[e.Name], e.Doc, syn)
			}
		case resourceBroker:
			if rr.ResourceName != "" && rr.ResourceName != b.nodeIDString() {
				sr.ErrorCode = kerr.InvalidRequest.Code
				sr.ErrorMessage = errMsg(fmt.Sprintf("broker %q is not this broker (%d)", rr.ResourceName, b.cfg.NodeID))
				break
			}
			for _, e := range b.cfg.BrokerEntries() {
				src := int8(5)
				if e.Explicit {
					src = 4
				}
				add(e.Name, e.Value, src, true, false, config.KindString, "", nil)
			}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			sr.ErrorMessage = errMsg(fmt.Sprintf("resource type %d is not supported", rr.ResourceType))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func configType(k config.TopicKind) int8 {
	switch k {
	case config.KindBool:
		return 1
	case config.KindString:
		return 2
	case config.KindInt:
		return 3
	case config.KindLong:
		return 5
	case config.KindDouble:
		return 6
	case config.KindList:
		return 7
	}
	return 0
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// setTopicConfigs validates and installs a topic's complete override set.
func (b *Broker) setTopicConfigs(name string, overrides map[string]string, validateOnly bool) error {
	for k, v := range overrides {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return apiErr(kerr.InvalidConfig, "%v", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[name]
	if t == nil {
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	if validateOnly {
		return nil
	}
	t.configs = overrides
	lc := b.logConfig(overrides)
	for _, p := range t.partitions {
		p.log.SetConfig(lc)
	}
	if err := b.saveMetaLocked(); err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	b.log.Info("altered topic configs", "topic", name, "configs", overrides)
	return nil
}

func (b *Broker) handleAlterConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(int8(rr.ResourceType), func() error {
			m := map[string]string{}
			for _, c := range rr.Configs {
				if c.Value != nil {
					m[c.Name] = *c.Value
				}
			}
			return b.setTopicConfigs(rr.ResourceName, m, r.ValidateOnly)
		})
		if err != nil {
			sr.ErrorCode = codeFor(err)
			sr.ErrorMessage = errText(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

// alterResource applies a config change to a topic resource; other resource types are refused.
func alterResource(resourceType int8, alterTopic func() error) error {
	switch resourceType {
	case resourceTopic:
		return alterTopic()
	case resourceBroker:
		return apiErr(kerr.InvalidRequest, "dynamic broker configs are not supported; set them in server.properties")
	}
	return apiErr(kerr.InvalidRequest, "resource type %d is not supported", resourceType)
}

func (b *Broker) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		err := alterResource(int8(rr.ResourceType), func() error { return b.incrementalTopicConfigs(rr, r.ValidateOnly) })
		if err != nil {
			sr.ErrorCode = codeFor(err)
			sr.ErrorMessage = errText(err)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func (b *Broker) incrementalTopicConfigs(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	b.mu.RLock()
	t := b.topics[rr.ResourceName]
	var m map[string]string
	if t != nil {
		m = cloneMap(t.configs)
	}
	b.mu.RUnlock()
	if t == nil {
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", rr.ResourceName)
	}
	tc := config.Topic{Overrides: m, Broker: b.cfg}
	for _, c := range rr.Configs {
		val := ""
		if c.Value != nil {
			val = *c.Value
		}
		switch c.Op {
		case 0: // SET
			m[c.Name] = val
		case 1: // DELETE
			delete(m, c.Name)
		case 2, 3: // APPEND, SUBTRACT (list configs)
			if c.Name != "cleanup.policy" {
				return apiErr(kerr.InvalidConfig, "config %s is not a list; APPEND/SUBTRACT apply to list configs only", c.Name)
			}
			cur := splitList(tc.Get(c.Name))
			var out []string
			if c.Op == 2 {
				out = cur
				for _, v := range splitList(val) {
					if !contains(out, v) {
						out = append(out, v)
					}
				}
			} else {
				for _, v := range cur {
					if !contains(splitList(val), v) {
						out = append(out, v)
					}
				}
			}
			m[c.Name] = strings.Join(out, ",")
		default:
			return apiErr(kerr.InvalidRequest, "unknown config operation %d", c.Op)
		}
	}
	return b.setTopicConfigs(rr.ResourceName, m, validateOnly)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (b *Broker) handleDeleteRecords(r *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			_, p := b.lookup(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				off := rp.Offset
				if off == -1 {
					off = p.log.HighWatermark()
				}
				if off < 0 || off > p.log.HighWatermark() {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				} else if lso, err := p.log.DeleteRecordsBefore(off); err != nil {
					sp.ErrorCode = codeFor(err)
				} else {
					sp.LowWatermark = lso
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) handleDescribeCluster(r *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = errMsg(fmt.Sprintf("endpoint type %d is not supported; brokers (1) are", r.EndpointType))
		return resp
	}
	resp.EndpointType = 1
	resp.ClusterID = b.clusterID
	resp.ControllerID = b.cfg.NodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, b.advHost, b.advPort
	resp.Brokers = append(resp.Brokers, br)
	return resp
}

func (b *Broker) handleInitProducerID(r *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		b.log.Warn("transactional producer refused: transactions are not supported", "transactional_id", *r.TransactionalID)
		return resp
	}
	// An idempotent producer that already has an ID may ask to bump its epoch (KIP-360).
	if r.ProducerID >= 0 && r.ProducerEpoch >= 0 {
		if r.ProducerEpoch >= 32766 {
			// Epoch exhausted: hand out a fresh producer ID instead.
		} else {
			resp.ProducerID, resp.ProducerEpoch = r.ProducerID, r.ProducerEpoch+1
			return resp
		}
	}
	id, err := b.allocateProducerID()
	if err != nil {
		resp.ErrorCode = kerr.KafkaStorageError.Code
		b.repeats.Error("allocating producer id failed", "err", err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

const producerIDBlock = 1000

// allocateProducerID hands out a new producer ID. IDs are reserved in persisted blocks so that
// no ID is reused after a crash.
func (b *Broker) allocateProducerID() (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nextProducerID >= b.producerIDLimit {
		b.producerIDLimit = b.nextProducerID + producerIDBlock
		if err := b.saveMetaLocked(); err != nil {
			b.producerIDLimit = b.nextProducerID
			return -1, err
		}
	}
	id := b.nextProducerID
	b.nextProducerID++
	return id, nil
}
