package metadata

import (
	"cmp"
	"slices"
	"strconv"
)

// Broker is a registered broker as the image knows it. Never modify a Broker obtained from an Image.
type Broker struct {
	ID                   int32
	IncarnationID        Uuid
	Epoch                int64
	EndPoints            []EndPoint
	Rack                 *string
	Fenced               bool
	InControlledShutdown bool
}

// EndPoint returns the broker's endpoint for a listener name (e.g. "PLAINTEXT").
func (b *Broker) EndPoint(listener string) (EndPoint, bool) {
	for _, e := range b.EndPoints {
		if e.Name == listener {
			return e, true
		}
	}
	return EndPoint{}, false
}

// Usable reports whether the broker may lead or join an ISR: unfenced and not shutting down.
func (b *Broker) Usable() bool { return !b.Fenced && !b.InControlledShutdown }

// Partition is one partition's registration. Never modify a Partition (or its slices) obtained from an
// Image: images share them.
type Partition struct {
	ID                  int32
	Replicas            []int32
	Isr                 []int32
	AddingReplicas      []int32
	RemovingReplicas    []int32
	Leader              int32
	LeaderEpoch         int32
	PartitionEpoch      int32
	LeaderRecoveryState int8
}

// HasReplica reports whether broker is one of the partition's replicas.
func (p *Partition) HasReplica(broker int32) bool { return slices.Contains(p.Replicas, broker) }

// InIsr reports whether broker is in the partition's ISR.
func (p *Partition) InIsr(broker int32) bool { return slices.Contains(p.Isr, broker) }

// Reassigning reports whether a reassignment is in progress.
func (p *Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// Topic is a topic and its partitions. Never modify a Topic obtained from an Image.
type Topic struct {
	Name       string
	ID         Uuid
	partitions map[int32]*Partition
}

// Partition returns partition id, or nil.
func (t *Topic) Partition(id int32) *Partition { return t.partitions[id] }

// NumPartitions is the number of partitions.
func (t *Topic) NumPartitions() int { return len(t.partitions) }

// Partitions returns the partitions in ID order (a new slice; the partitions are shared).
func (t *Topic) Partitions() []*Partition {
	ps := make([]*Partition, 0, len(t.partitions))
	for _, p := range t.partitions {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *Partition) int { return cmp.Compare(a.ID, b.ID) })
	return ps
}

// ConfigResource names a config holder: a topic (by name) or a broker (by decimal ID, "" for the
// cluster-wide default).
type ConfigResource struct {
	Type int8
	Name string
}

// TopicResource is the config resource of a topic.
func TopicResource(name string) ConfigResource {
	return ConfigResource{Type: ResourceTopic, Name: name}
}

// BrokerResource is the config resource of a broker (id < 0: the cluster-wide default, name "").
func BrokerResource(id int32) ConfigResource {
	if id < 0 {
		return ConfigResource{Type: ResourceBroker}
	}
	return ConfigResource{Type: ResourceBroker, Name: strconv.Itoa(int(id))}
}

// TopicPartition names a partition by topic ID.
type TopicPartition struct {
	TopicID   Uuid
	Partition int32
}

// Image is the cluster metadata after applying a prefix of the metadata log. An Image is immutable once
// returned by Delta.Apply: it is safe to read from any number of goroutines without locks, and images
// share unchanged brokers, topics and partitions with their predecessors. The zero Image is not valid;
// start from Empty.
type Image struct {
	offset         int64
	epoch          int32
	brokers        map[int32]*Broker
	topics         map[Uuid]*Topic
	topicIDs       map[string]Uuid
	configs        map[ConfigResource]map[string]string
	features       map[string]int16
	nextProducerID int64
}

// Empty returns the image before any record: no brokers, no topics, offset -1.
func Empty() *Image {
	return &Image{
		offset:   -1,
		epoch:    -1,
		brokers:  map[int32]*Broker{},
		topics:   map[Uuid]*Topic{},
		topicIDs: map[string]Uuid{},
		configs:  map[ConfigResource]map[string]string{},
		features: map[string]int16{},
	}
}

// Offset is the log offset of the last record applied (-1 for Empty). A broker reports it as its
// CurrentMetadataOffset in heartbeats.
func (img *Image) Offset() int64 { return img.offset }

// Epoch is the quorum epoch (Raft term) of the last record applied.
func (img *Image) Epoch() int32 { return img.epoch }

// NextProducerID is the first producer ID not yet handed out.
func (img *Image) NextProducerID() int64 { return img.nextProducerID }

// Feature returns a finalized feature level (0 when unset).
func (img *Image) Feature(name string) int16 { return img.features[name] }

// Broker returns the registration of broker id, or nil.
func (img *Image) Broker(id int32) *Broker { return img.brokers[id] }

// Brokers returns every registered broker in ID order.
func (img *Image) Brokers() []*Broker {
	bs := make([]*Broker, 0, len(img.brokers))
	for _, b := range img.brokers {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(a, b *Broker) int { return cmp.Compare(a.ID, b.ID) })
	return bs
}

// AliveBrokers returns the IDs of unfenced brokers in ID order (those in controlled shutdown included:
// they still serve until they stop).
func (img *Image) AliveBrokers() []int32 {
	var ids []int32
	for _, b := range img.brokers {
		if !b.Fenced {
			ids = append(ids, b.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// UsableBrokers returns the IDs of brokers that may lead and take new replicas (unfenced, not shutting
// down), in ID order.
func (img *Image) UsableBrokers() []int32 {
	var ids []int32
	for _, b := range img.brokers {
		if b.Usable() {
			ids = append(ids, b.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// IsUsable reports whether broker id is registered, unfenced and not shutting down.
func (img *Image) IsUsable(id int32) bool {
	b := img.brokers[id]
	return b != nil && b.Usable()
}

// Topic returns the topic called name, or nil.
func (img *Image) Topic(name string) *Topic {
	id, ok := img.topicIDs[name]
	if !ok {
		return nil
	}
	return img.topics[id]
}

// TopicByID returns the topic with id, or nil.
func (img *Image) TopicByID(id Uuid) *Topic { return img.topics[id] }

// Topics returns every topic in name order.
func (img *Image) Topics() []*Topic {
	ts := make([]*Topic, 0, len(img.topics))
	for _, t := range img.topics {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, compareTopics)
	return ts
}

// NumTopics is the number of topics.
func (img *Image) NumTopics() int { return len(img.topics) }

// Partition returns a partition of a topic by name, or nil.
func (img *Image) Partition(topic string, partition int32) *Partition {
	t := img.Topic(topic)
	if t == nil {
		return nil
	}
	return t.partitions[partition]
}

// Leader returns the leader and leader epoch of a partition; ok is false when the partition does not
// exist. A leader of NoLeader means the partition is offline.
func (img *Image) Leader(topic string, partition int32) (leader, leaderEpoch int32, ok bool) {
	p := img.Partition(topic, partition)
	if p == nil {
		return NoLeader, -1, false
	}
	return p.Leader, p.LeaderEpoch, true
}

// PartitionsLedBy returns the partitions broker leads, ordered by topic name then partition.
func (img *Image) PartitionsLedBy(broker int32) []TopicPartition {
	return img.partitionsWhere(func(p *Partition) bool { return p.Leader == broker })
}

// PartitionsFollowedBy returns the partitions where broker is a replica but not the leader.
func (img *Image) PartitionsFollowedBy(broker int32) []TopicPartition {
	return img.partitionsWhere(func(p *Partition) bool { return p.Leader != broker && p.HasReplica(broker) })
}

func (img *Image) partitionsWhere(keep func(*Partition) bool) []TopicPartition {
	var out []TopicPartition
	for _, t := range img.Topics() {
		for _, p := range t.Partitions() {
			if keep(p) {
				out = append(out, TopicPartition{TopicID: t.ID, Partition: p.ID})
			}
		}
	}
	return out
}

// Configs returns the explicitly set configs of a resource (nil when none). The map is shared: read only.
func (img *Image) Configs(res ConfigResource) map[string]string { return img.configs[res] }

// Config returns one explicitly set config value of a resource.
func (img *Image) Config(res ConfigResource, key string) (string, bool) {
	v, ok := img.configs[res][key]
	return v, ok
}

// ConfigResources returns every resource with at least one config set, ordered by type then name.
func (img *Image) ConfigResources() []ConfigResource {
	out := make([]ConfigResource, 0, len(img.configs))
	for r := range img.configs {
		out = append(out, r)
	}
	slices.SortFunc(out, compareResources)
	return out
}
