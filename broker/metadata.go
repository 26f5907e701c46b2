package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// Metadata v0-13.
	register(3, 0, 13, func(b *Broker, _ *server.Conn, r *kmsg.MetadataRequest) server.Response {
		return server.Response{Msg: b.handleMetadata(r)}
	})
	// DescribeCluster v0-2 (v2: IncludeFencedBrokers, KIP-1073; describecluster.go).
	register(60, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.DescribeClusterRequest) server.Response {
		return server.Response{Msg: b.handleDescribeCluster(r)}
	})
}

func (b *Broker) handleMetadata(r *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	brokers := b.aliveBrokers()
	for _, e := range brokers {
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = e.nodeID, e.host, e.port, e.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = controllerIDForClients(brokers)

	// v0: an empty list means all topics; v1+: null means all, empty means none.
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, name := range b.sortedTopicNames() {
			resp.Topics = append(resp.Topics, b.metadataTopic(name, nil))
		}
		return resp
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	// NB: as Kafka does (it turns the requested topics into a set), a topic named or identified
	// many times is answered once, so the response grows with the distinct topics asked for, never
	// with the request's repetitions: 100,000 copies of one name once built a 131 MB response.
	seenNames := make(map[string]struct{})
	seenIDs := make(map[[16]byte]struct{})
	var autoCreateErrs map[string]error
	if autoCreate {
		autoCreateErrs = b.autoCreateViaController(r.Topics) // autocreate_kraft.go
	}
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			// Lookup by topic ID (v10+).
			if _, dup := seenIDs[rt.TopicID]; dup {
				continue
			}
			seenIDs[rt.TopicID] = struct{}{}
			t := b.topicByID(rt.TopicID)
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if _, dup := seenNames[t.name]; dup {
				continue
			}
			seenNames[t.name] = struct{}{}
			resp.Topics = append(resp.Topics, b.metadataTopic(t.name, nil))
			continue
		}
		name := *rt.Topic
		if _, dup := seenNames[name]; dup {
			continue
		}
		seenNames[name] = struct{}{}
		if err := validTopicName(name); err != nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.ErrorCode = kerr.InvalidTopicException.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if err := autoCreateErrs[name]; err != nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.ErrorCode = codeFor(err)
			resp.Topics = append(resp.Topics, mt)
			continue
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
	b.imageTopicPartitions(&mt, t.id)
	return mt
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
	brokers := b.aliveBrokers()
	for _, e := range brokers {
		br := kmsg.NewDescribeClusterResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = e.nodeID, e.host, e.port, e.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	resp.ControllerID = controllerIDForClients(brokers)
	b.appendFencedBrokers(r, resp)
	return resp
}
