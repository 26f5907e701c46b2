package metadata

import (
	"slices"
)

// PartitionChange is one partition that changed between two images. Prev is nil for a new partition,
// Cur nil for a deleted one (its topic was removed).
type PartitionChange struct {
	TopicID   Uuid
	TopicName string
	Partition int32
	Prev, Cur *Partition
}

// LeaderChanged reports whether the leader or the leader epoch changed (or the partition appeared or
// went away): the events on which a broker becomes leader or follower, or truncates.
func (c PartitionChange) LeaderChanged() bool {
	if c.Prev == nil || c.Cur == nil {
		return true
	}
	return c.Prev.Leader != c.Cur.Leader || c.Prev.LeaderEpoch != c.Cur.LeaderEpoch
}

// IsrChanged reports whether the ISR changed.
func (c PartitionChange) IsrChanged() bool {
	if c.Prev == nil || c.Cur == nil {
		return true
	}
	return !slices.Equal(c.Prev.Isr, c.Cur.Isr)
}

// Changes is what a Delta changed: the second argument every subscriber receives with a new image.
// Slices are sorted (brokers by ID, topics and partitions by topic name then partition) and owned by
// nobody once published: treat them as read only.
type Changes struct {
	// Brokers lists brokers registered, re-registered, fenced, unfenced or entering controlled shutdown.
	Brokers []int32
	// CreatedTopics are the topics new in this image.
	CreatedTopics []*Topic
	// DeletedTopics are the topics of the previous image removed in this one.
	DeletedTopics []*Topic
	// Partitions are the partitions created, changed or deleted.
	Partitions []PartitionChange
	// Configs are the resources whose configs changed.
	Configs []ConfigResource
	// ProducerIDs is true when a producer-ID block was handed out.
	ProducerIDs bool
	// Features is true when a feature level changed.
	Features bool
}

// Empty reports whether nothing changed (for example a batch of NoOpRecords).
func (c *Changes) Empty() bool {
	return len(c.Brokers) == 0 && len(c.CreatedTopics) == 0 && len(c.DeletedTopics) == 0 &&
		len(c.Partitions) == 0 && len(c.Configs) == 0 && !c.ProducerIDs && !c.Features
}

// LocalChanges is the part of Changes a broker acts on (Kafka's TopicsDelta.localChanges).
type LocalChanges struct {
	// Leaders are partitions this broker leads in the new image whose leader or leader epoch changed:
	// become leader (again) at Cur.LeaderEpoch.
	Leaders []PartitionChange
	// Followers are partitions this broker follows in the new image whose leader or leader epoch changed:
	// become follower of Cur.Leader (NoLeader: stop fetching and wait).
	Followers []PartitionChange
	// Deleted are partitions this broker held a replica of that are gone or no longer assigned to it:
	// stop and delete the local replica.
	Deleted []PartitionChange
	// IsrOnly are partitions this broker leads whose ISR or replicas changed without a leader change (an
	// AlterPartition it sent committed, a follower was removed by a fence, a reassignment step).
	IsrOnly []PartitionChange
}

// Local splits the partition changes by their meaning to broker.
func (c *Changes) Local(broker int32) LocalChanges {
	var l LocalChanges
	for _, pc := range c.Partitions {
		had := pc.Prev != nil && pc.Prev.HasReplica(broker)
		has := pc.Cur != nil && pc.Cur.HasReplica(broker)
		switch {
		case had && !has:
			l.Deleted = append(l.Deleted, pc)
		case !has:
		case pc.Cur.Leader == broker && pc.LeaderChanged():
			l.Leaders = append(l.Leaders, pc)
		case pc.Cur.Leader == broker:
			// NB: the partition epoch, as Kafka's localChanges: a reassignment changes the replicas
			// without touching the ISR, and the leader must know its new followers.
			if pc.IsrChanged() || pc.Prev.PartitionEpoch != pc.Cur.PartitionEpoch {
				l.IsrOnly = append(l.IsrOnly, pc)
			}
		case pc.LeaderChanged() || !had:
			l.Followers = append(l.Followers, pc)
		}
	}
	return l
}

func (d *Delta) changes(img *Image) *Changes {
	ch := &Changes{ProducerIDs: d.producerIDs, Features: d.features}
	for id := range d.changedBrokers {
		ch.Brokers = append(ch.Brokers, id)
	}
	slices.Sort(ch.Brokers)
	for id := range d.createdTopics {
		if t := img.topics[id]; t != nil {
			ch.CreatedTopics = append(ch.CreatedTopics, t)
		}
	}
	for _, t := range d.deletedTopics {
		ch.DeletedTopics = append(ch.DeletedTopics, t)
	}
	slices.SortFunc(ch.CreatedTopics, compareTopics)
	slices.SortFunc(ch.DeletedTopics, compareTopics)
	for tp := range d.changedPartitions {
		pc := PartitionChange{TopicID: tp.TopicID, Partition: tp.Partition}
		if t := d.base.topics[tp.TopicID]; t != nil {
			pc.Prev = t.partitions[tp.Partition]
			pc.TopicName = t.Name
		}
		if t := img.topics[tp.TopicID]; t != nil {
			pc.Cur = t.partitions[tp.Partition]
			pc.TopicName = t.Name
		}
		if pc.Prev == nil && pc.Cur == nil {
			continue // created and deleted within this delta
		}
		ch.Partitions = append(ch.Partitions, pc)
	}
	slices.SortFunc(ch.Partitions, comparePartitionChanges)
	for r := range d.changedConfigs {
		ch.Configs = append(ch.Configs, r)
	}
	slices.SortFunc(ch.Configs, compareResources)
	return ch
}
