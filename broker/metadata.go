package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleMetadata(r *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, b.advHost, b.advPort
	resp.Brokers = append(resp.Brokers, br)
	resp.ClusterID = &b.clusterID
	resp.ControllerID = b.cfg.NodeID

	// v0: an empty list means all topics; v1+: null means all, empty means none.
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, name := range b.sortedTopicNames() {
			resp.Topics = append(resp.Topics, b.metadataTopic(name, nil))
		}
		return resp
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			// Lookup by topic ID (v10+).
			t := b.topicByID(rt.TopicID)
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, b.metadataTopic(t.name, nil))
			continue
		}
		name := *rt.Topic
		if err := validTopicName(name); err != nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.ErrorCode = kerr.InvalidTopicException.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if t, _ := b.lookup(name, 0); t == nil && autoCreate {
			if _, err := b.createTopic(name, b.cfg.NumPartitions, nil, false); err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = codeFor(err)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			b.log.Info("auto-created topic", "topic", name, "partitions", b.cfg.NumPartitions)
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(name, nil))
	}
	return resp
}

// metadataTopic describes one topic (UNKNOWN_TOPIC_OR_PARTITION if it does not exist).
func (b *Broker) metadataTopic(name string, _ []int32) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	n := name
	mt.Topic = &n
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[name]
	if t == nil {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return mt
	}
	mt.TopicID = t.id
	mt.IsInternal = isInternalTopic(name)
	for _, p := range t.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = b.cfg.NodeID
		mp.LeaderEpoch = p.leaderEpoch
		mp.Replicas = []int32{b.cfg.NodeID}
		mp.ISR = []int32{b.cfg.NodeID}
		mp.OfflineReplicas = []int32{}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
