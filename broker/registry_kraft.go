package broker

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// The topic registry of a KRaft broker (issue 10): every topic of the metadata image is in
// Broker.topics and Broker.byID, marked image, so the handlers find it as they find a single-node
// topic. Its partitions slice has one slot per partition of the image's topic; a slot holds the
// applier's partition if this broker is one of its replicas, and is nil (a hole) otherwise. Such
// topics are never written to gregor-topics.json. The log manager's loops (retention, flush,
// compaction, high-watermark checkpoints) serve their hosted partitions like the single node's
// (servedPartitions); closing them is the applier's.

// syncRegistry makes Broker.topics hold u.Image's topics, working from u.Changes alone: it
// registers the created topics, unregisters the deleted ones, grows the partition slots of the
// topics whose partitions changed, and installs changed topic configs in the registry and in the
// open partitions here (log config: retention, segment, flush, cleanup.policy, max.message.bytes...;
// replication config: min.insync.replicas). Run's alone.
//
// NB: O(changes) per image, under Broker.mu with no disk I/O (Log.SetConfig and
// Partition.SetConfig only store the new config): a broker with many topics pays nothing for the
// topics an image leaves alone (BenchmarkApplierIgnoresUnchangedTopics).
func (a *imageApplier) syncRegistry(u metadata.Update) {
	b, img, ch := a.b, u.Image, u.Changes
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, dt := range ch.DeletedTopics {
		t := a.topics[dt.ID]
		if t == nil {
			continue
		}
		if b.topics[t.name] == t {
			delete(b.topics, t.name)
		}
		if b.byID[dt.ID] == t {
			delete(b.byID, dt.ID)
		}
		delete(a.topics, dt.ID)
	}
	for _, ct := range ch.CreatedTopics {
		it := img.TopicByID(ct.ID)
		if it == nil || a.topics[it.ID] != nil {
			continue
		}
		t := &topic{name: it.Name, id: it.ID, configs: cloneMap(img.Configs(metadata.TopicResource(it.Name)))}
		a.topics[it.ID] = t
		b.topics[t.name] = t
		b.byID[t.id] = t
	}
	var last metadata.Uuid
	for _, pc := range ch.Partitions {
		if pc.Cur == nil || pc.TopicID == last {
			continue
		}
		last = pc.TopicID
		t, it := a.topics[pc.TopicID], img.TopicByID(pc.TopicID)
		if t == nil || it == nil {
			continue
		}
		for len(t.partitions) < it.NumPartitions() {
			t.partitions = append(t.partitions, nil)
		}
	}
	for _, res := range ch.Configs {
		if res.Type != metadata.ResourceTopic {
			continue
		}
		it := img.Topic(res.Name)
		if it == nil {
			continue
		}
		t := a.topics[it.ID]
		if t == nil || maps.Equal(t.configs, img.Configs(res)) {
			continue
		}
		a.setConfigsLocked(t, cloneMap(img.Configs(res)))
	}
}

// setConfigsLocked installs overrides as t's topic configs and gives its open partitions the
// resulting log and replication configs. Requires Broker.mu.
func (a *imageApplier) setConfigsLocked(t *topic, overrides map[string]string) {
	t.configs = overrides
	lc, rc := a.b.logConfig(overrides), a.b.replicationConfig(overrides)
	for _, p := range t.partitions {
		if p == nil {
			continue // hosted elsewhere
		}
		p.log.SetConfig(lc)
		p.state.SetConfig(rc)
	}
	a.b.logger.Info("topic configs changed", "topic", t.name, "configs", overrides)
}

// setSlot puts p (nil: a hole) in its topic's partition slot.
func (a *imageApplier) setSlot(t *topic, index int32, p *partition) {
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	for int32(len(t.partitions)) <= index {
		t.partitions = append(t.partitions, nil)
	}
	t.partitions[index] = p
}

// missingPartitionError is the error for partition index of t when this broker hosts no replica of
// it: NOT_LEADER_OR_FOLLOWER for a partition of an image topic hosted elsewhere (the client
// refreshes its metadata and goes to the leader), UNKNOWN_TOPIC_OR_PARTITION otherwise.
func (b *Broker) missingPartitionError(t *topic, index int32) error {
	if t != nil && index >= 0 {
		b.mu.RLock()
		n := int32(len(t.partitions))
		b.mu.RUnlock()
		if index < n {
			return apiErr(kerr.NotLeaderForPartition, "this broker hosts no replica of %s-%d", t.name, index)
		}
	}
	if t == nil {
		return apiErr(kerr.UnknownTopicOrPartition, "unknown topic")
	}
	return apiErr(kerr.UnknownTopicOrPartition, "topic %s has no partition %d", t.name, index)
}

// imageTopicPartitions fills mt's partitions from the newest metadata image: leader, leader epoch,
// replicas, ISR, and the replicas on brokers the image does not list as alive as offline.
func (b *Broker) imageTopicPartitions(mt *kmsg.MetadataResponseTopic, id [16]byte) {
	img := b.MetadataImage()
	if img == nil {
		return
	}
	it := img.TopicByID(id)
	if it == nil {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return
	}
	alive := img.AliveBrokers()
	for _, ip := range it.Partitions() {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = ip.ID
		mp.Leader, mp.LeaderEpoch = ip.Leader, ip.LeaderEpoch
		if ip.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mp.Replicas = slices.Clone(ip.Replicas)
		mp.ISR = slices.Clone(ip.Isr)
		mp.OfflineReplicas = []int32{}
		for _, r := range ip.Replicas {
			if !slices.Contains(alive, r) {
				mp.OfflineReplicas = append(mp.OfflineReplicas, r)
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
}

// currentLeader is the image's leader of partition index of t and that leader's client endpoint,
// for KIP-951's current-leader fields of a NOT_LEADER_OR_FOLLOWER answer; ok is false for a
// single-node topic, a partition without a leader, or a leader without a client endpoint.
func (b *Broker) currentLeader(t *topic, index int32) (leader, leaderEpoch int32, ep brokerEndpoint, ok bool) {
	if t == nil {
		return -1, -1, ep, false
	}
	img := b.MetadataImage()
	if img == nil {
		return -1, -1, ep, false
	}
	it := img.TopicByID(t.id)
	if it == nil {
		return -1, -1, ep, false
	}
	p := it.Partition(index)
	if p == nil || p.Leader < 0 {
		return -1, -1, ep, false
	}
	for _, e := range b.aliveBrokers() {
		if e.nodeID == p.Leader {
			return p.Leader, p.LeaderEpoch, e, true
		}
	}
	return -1, -1, ep, false
}

// servedPartitions snapshots every partition whose log this broker serves (the applier's hosted
// replicas), for the log manager's loops (retention, flush, compaction, high-watermark checkpoints).
// A partition may be closed or deleted while a loop holds it; its log then answers log.ErrClosed.
func (b *Broker) servedPartitions() []*partition {
	if b.kraft == nil || b.kraft.applier == nil {
		return nil // NB: before Start, or a controller-only node
	}
	a := b.kraft.applier
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*partition, 0, len(a.mu.hosted))
	for _, p := range a.mu.hosted {
		out = append(out, p)
	}
	return out
}

// unopenedHighWatermarks are the checkpointed high watermarks of the replicas not reopened since
// the broker started (nil receiver: none).
func (a *imageApplier) unopenedHighWatermarks() map[topicPartition]int64 {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.mu.checkpointed)
}

// takeCheckpointedHighWatermark returns (and forgets) the high watermark checkpointed for tp, or 0.
func (a *imageApplier) takeCheckpointedHighWatermark(tp topicPartition) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	hw := a.mu.checkpointed[tp]
	delete(a.mu.checkpointed, tp)
	return hw
}

// assignedReplica reports whether broker replicaID is one of the image's replicas of partition index
// of t, for fetch.go: only an assigned replica's fetch is a follower's.
func (b *Broker) assignedReplica(t *topic, index, replicaID int32) bool {
	img := b.MetadataImage()
	if img == nil || t == nil {
		return false
	}
	it := img.TopicByID(t.id)
	if it == nil {
		return false
	}
	p := it.Partition(index)
	return p != nil && slices.Contains(p.Replicas, replicaID)
}
