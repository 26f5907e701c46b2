package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// ErrInconsistent is returned (wrapped) by Delta.Replay for a record that contradicts the image (a fence
// of an unknown broker, a change of a missing partition, a duplicate topic). The metadata log written by
// the controller never contains one; seeing one means the log or the code is broken, and the loader must
// stop rather than publish a guess.
var ErrInconsistent = errors.New("metadata: record inconsistent with image")

// Delta accumulates records on top of a base image and produces the next image. Unchanged brokers,
// topics, partitions and configs are shared with the base; anything changed is copied first, so the base
// (and every published image) is never mutated.
//
// A Delta is owned by one goroutine (the metadata loader, or the controller). Replay the records of a
// batch in log order, then Apply; after Apply the Delta continues from the image it returned.
type Delta struct {
	base *Image
	next *Image

	ownBrokers, ownTopics, ownTopicIDs, ownConfigs, ownFeatures bool
	ownedTopics                                                 map[Uuid]bool
	ownedPartitions                                             map[TopicPartition]bool
	ownedConfigs                                                map[ConfigResource]bool

	changedBrokers    map[int32]bool
	createdTopics     map[Uuid]bool
	deletedTopics     map[Uuid]*Topic
	changedPartitions map[TopicPartition]bool
	changedConfigs    map[ConfigResource]bool
	producerIDs       bool
	features          bool
}

// NewDelta starts a delta on base.
func NewDelta(base *Image) *Delta {
	next := *base
	return &Delta{
		base:              base,
		next:              &next,
		ownedTopics:       map[Uuid]bool{},
		ownedPartitions:   map[TopicPartition]bool{},
		ownedConfigs:      map[ConfigResource]bool{},
		changedBrokers:    map[int32]bool{},
		createdTopics:     map[Uuid]bool{},
		deletedTopics:     map[Uuid]*Topic{},
		changedPartitions: map[TopicPartition]bool{},
		changedConfigs:    map[ConfigResource]bool{},
	}
}

// Image returns the image as it stands with the records replayed so far. NB: it is a view of the working
// state: the caller must not keep it past the next Replay or publish it; Apply returns the image to keep.
func (d *Delta) Image() *Image { return d.next }

// Replay applies one record. On error the delta is unchanged by that record.
func (d *Delta) Replay(rec Record) error {
	switch r := rec.(type) {
	case *RegisterBrokerRecord:
		d.putBroker(&Broker{
			ID: r.BrokerID, IncarnationID: r.IncarnationID, Epoch: r.BrokerEpoch,
			EndPoints: slices.Clone(r.EndPoints), Rack: r.Rack, Fenced: r.Fenced,
			InControlledShutdown: r.InControlledShutdown,
		})
	case *FenceBrokerRecord:
		return d.changeBroker(r.BrokerID, r.BrokerEpoch, 1, 0)
	case *UnfenceBrokerRecord:
		return d.changeBroker(r.BrokerID, r.BrokerEpoch, -1, 0)
	case *BrokerRegistrationChangeRecord:
		return d.changeBroker(r.BrokerID, r.BrokerEpoch, r.Fenced, r.InControlledShutdown)
	case *TopicRecord:
		return d.createTopic(r)
	case *PartitionRecord:
		return d.putPartition(r)
	case *PartitionChangeRecord:
		return d.changePartition(r)
	case *ConfigRecord:
		d.setConfig(ConfigResource{Type: r.ResourceType, Name: r.ResourceName}, r.Name, r.Value)
	case *RemoveTopicRecord:
		return d.removeTopic(r.TopicID)
	case *ProducerIdsRecord:
		if r.NextProducerID < d.next.nextProducerID {
			return fmt.Errorf("%w: producer IDs move back from %d to %d", ErrInconsistent, d.next.nextProducerID, r.NextProducerID)
		}
		d.next.nextProducerID = r.NextProducerID
		d.producerIDs = true
	case *FeatureLevelRecord:
		if !d.ownFeatures {
			d.next.features = maps.Clone(d.next.features)
			d.ownFeatures = true
		}
		if r.FeatureLevel == 0 {
			delete(d.next.features, r.Name)
		} else {
			d.next.features[r.Name] = r.FeatureLevel
		}
		d.features = true
	case *NoOpRecord:
	default:
		return fmt.Errorf("%w: unknown record type %T", ErrInconsistent, rec)
	}
	return nil
}

// Apply returns the next image, stamped with the offset and quorum epoch of the last record replayed, and
// what changed since the base. The delta then continues from the returned image.
func (d *Delta) Apply(offset int64, epoch int32) (*Image, *Changes) {
	img := d.next
	img.offset = offset
	img.epoch = epoch
	ch := d.changes(img)
	*d = *NewDelta(img)
	return img, ch
}

func (d *Delta) putBroker(b *Broker) {
	if !d.ownBrokers {
		d.next.brokers = maps.Clone(d.next.brokers)
		d.ownBrokers = true
	}
	d.next.brokers[b.ID] = b
	d.changedBrokers[b.ID] = true
}

func (d *Delta) changeBroker(id int32, epoch int64, fenced, shutdown int8) error {
	cur := d.next.brokers[id]
	if cur == nil {
		return fmt.Errorf("%w: broker %d is not registered", ErrInconsistent, id)
	}
	if cur.Epoch != epoch {
		return fmt.Errorf("%w: broker %d has epoch %d, record says %d", ErrInconsistent, id, cur.Epoch, epoch)
	}
	b := *cur
	switch fenced {
	case 1:
		b.Fenced = true
		// NB: Kafka clears the controlled-shutdown flag when a broker is fenced: it is now down.
		b.InControlledShutdown = false
	case -1:
		b.Fenced = false
	}
	if shutdown == 1 {
		b.InControlledShutdown = true
	}
	d.putBroker(&b)
	return nil
}

// ownTopicMaps copies the topic map (and, with names, the name index) before the first write to it.
// NB: copying is O(topics) once per delta; the name index is copied only when names change, so the
// common batch (partition changes) pays for one map. A persistent map would make it O(log topics).
func (d *Delta) ownTopicMaps(names bool) {
	if !d.ownTopics {
		d.next.topics = maps.Clone(d.next.topics)
		d.ownTopics = true
	}
	if names && !d.ownTopicIDs {
		d.next.topicIDs = maps.Clone(d.next.topicIDs)
		d.ownTopicIDs = true
	}
}

func (d *Delta) createTopic(r *TopicRecord) error {
	if r.TopicID.IsZero() {
		return fmt.Errorf("%w: topic %q has the zero ID", ErrInconsistent, r.Name)
	}
	if _, ok := d.next.topicIDs[r.Name]; ok {
		return fmt.Errorf("%w: topic %q already exists", ErrInconsistent, r.Name)
	}
	if _, ok := d.next.topics[r.TopicID]; ok {
		return fmt.Errorf("%w: topic ID %s already exists", ErrInconsistent, r.TopicID)
	}
	d.ownTopicMaps(true)
	d.next.topics[r.TopicID] = &Topic{Name: r.Name, ID: r.TopicID, partitions: map[int32]*Partition{}}
	d.next.topicIDs[r.Name] = r.TopicID
	d.ownedTopics[r.TopicID] = true
	d.createdTopics[r.TopicID] = true
	return nil
}

// writableTopic returns a copy of the topic owned by this delta.
func (d *Delta) writableTopic(id Uuid) (*Topic, error) {
	t := d.next.topics[id]
	if t == nil {
		return nil, fmt.Errorf("%w: unknown topic ID %s", ErrInconsistent, id)
	}
	if d.ownedTopics[id] {
		return t, nil
	}
	d.ownTopicMaps(false)
	c := &Topic{Name: t.Name, ID: t.ID, partitions: maps.Clone(t.partitions)}
	d.next.topics[id] = c
	d.ownedTopics[id] = true
	return c, nil
}

func (d *Delta) removeTopic(id Uuid) error {
	t := d.next.topics[id]
	if t == nil {
		return fmt.Errorf("%w: cannot remove unknown topic ID %s", ErrInconsistent, id)
	}
	d.ownTopicMaps(true)
	delete(d.next.topics, id)
	delete(d.next.topicIDs, t.Name)
	if base := d.base.topics[id]; base != nil {
		d.deletedTopics[id] = base
	}
	delete(d.createdTopics, id)
	for pid := range t.partitions {
		d.changedPartitions[TopicPartition{id, pid}] = true
	}
	res := TopicResource(t.Name)
	if _, ok := d.next.configs[res]; ok {
		d.ownConfigMap()
		delete(d.next.configs, res)
		d.changedConfigs[res] = true
	}
	return nil
}

func validLeader(leader int32, replicas, isr []int32) bool {
	return leader == NoLeader || (slices.Contains(replicas, leader) && slices.Contains(isr, leader))
}

func (d *Delta) putPartition(r *PartitionRecord) error {
	if len(r.Replicas) == 0 {
		return fmt.Errorf("%w: partition %s-%d has no replicas", ErrInconsistent, r.TopicID, r.PartitionID)
	}
	if !validLeader(r.Leader, r.Replicas, r.Isr) {
		return fmt.Errorf("%w: partition %s-%d leader %d not in replicas %v and ISR %v", ErrInconsistent,
			r.TopicID, r.PartitionID, r.Leader, r.Replicas, r.Isr)
	}
	t, err := d.writableTopic(r.TopicID)
	if err != nil {
		return err
	}
	tp := TopicPartition{r.TopicID, r.PartitionID}
	t.partitions[r.PartitionID] = &Partition{
		ID: r.PartitionID, Replicas: slices.Clone(r.Replicas), Isr: slices.Clone(r.Isr),
		AddingReplicas: slices.Clone(r.AddingReplicas), RemovingReplicas: slices.Clone(r.RemovingReplicas),
		Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch,
		LeaderRecoveryState: r.LeaderRecoveryState,
	}
	d.ownedPartitions[tp] = true
	d.changedPartitions[tp] = true
	return nil
}

func (d *Delta) changePartition(r *PartitionChangeRecord) error {
	t := d.next.topics[r.TopicID]
	if t == nil || t.partitions[r.PartitionID] == nil {
		return fmt.Errorf("%w: change of unknown partition %s-%d", ErrInconsistent, r.TopicID, r.PartitionID)
	}
	cur := t.partitions[r.PartitionID]
	p := *cur
	if r.Replicas != nil {
		p.Replicas = slices.Clone(r.Replicas)
	}
	if r.Isr != nil {
		p.Isr = slices.Clone(r.Isr)
	}
	if r.AddingReplicas != nil {
		p.AddingReplicas = slices.Clone(r.AddingReplicas)
	}
	if r.RemovingReplicas != nil {
		p.RemovingReplicas = slices.Clone(r.RemovingReplicas)
	}
	if r.Leader != NoLeaderChange {
		p.Leader = r.Leader
		p.LeaderEpoch++
	}
	if r.LeaderRecoveryState != NoLeaderRecoveryChange {
		p.LeaderRecoveryState = r.LeaderRecoveryState
	}
	p.PartitionEpoch++
	if len(p.Replicas) == 0 || !validLeader(p.Leader, p.Replicas, p.Isr) {
		return fmt.Errorf("%w: change leaves partition %s-%d with leader %d, replicas %v, ISR %v",
			ErrInconsistent, r.TopicID, r.PartitionID, p.Leader, p.Replicas, p.Isr)
	}
	wt, _ := d.writableTopic(r.TopicID)
	tp := TopicPartition{r.TopicID, r.PartitionID}
	wt.partitions[r.PartitionID] = &p
	d.ownedPartitions[tp] = true
	d.changedPartitions[tp] = true
	return nil
}

func (d *Delta) ownConfigMap() {
	if !d.ownConfigs {
		d.next.configs = maps.Clone(d.next.configs)
		d.ownConfigs = true
	}
}

func (d *Delta) setConfig(res ConfigResource, key string, value *string) {
	d.ownConfigMap()
	m := d.next.configs[res]
	if !d.ownedConfigs[res] {
		m = maps.Clone(m)
		if m == nil {
			m = map[string]string{}
		}
		d.ownedConfigs[res] = true
	}
	if value == nil {
		delete(m, key)
	} else {
		m[key] = *value
	}
	if len(m) == 0 {
		delete(d.next.configs, res)
		delete(d.ownedConfigs, res)
	} else {
		d.next.configs[res] = m
	}
	d.changedConfigs[res] = true
}

// BrokerIDString is the config resource name of a broker.
func BrokerIDString(id int32) string { return strconv.Itoa(int(id)) }
