package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

// apiRange is the version range the broker implements for one API key.
type apiRange struct{ min, max int16 }

// supportedAPIs is exactly what ApiVersions advertises. Floors are the oldest versions common
// clients still send (librdkafka: Produce 3, Fetch 4; kafka-go: Metadata 1; kafkajs: ApiVersions 0).
var supportedAPIs = map[int16]apiRange{
	0:  {3, 13}, // Produce (v13: topic IDs)
	1:  {4, 17}, // Fetch (v13+: topic IDs)
	2:  {1, 10}, // ListOffsets
	3:  {0, 13}, // Metadata
	18: {0, 4},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	21: {0, 2},  // DeleteRecords
	22: {0, 5},  // InitProducerId
	23: {0, 4},  // OffsetForLeaderEpoch
	32: {0, 4},  // DescribeConfigs
	33: {0, 2},  // AlterConfigs
	37: {0, 3},  // CreatePartitions
	44: {0, 1},  // IncrementalAlterConfigs
	60: {0, 1},  // DescribeCluster

	// Consumer groups (classic protocol).
	8:  {0, 9}, // OffsetCommit (v10 uses topic IDs)
	9:  {0, 9}, // OffsetFetch (v10 uses topic IDs)
	10: {0, 6}, // FindCoordinator
	11: {0, 9}, // JoinGroup
	12: {0, 4}, // Heartbeat
	13: {0, 5}, // LeaveGroup
	14: {0, 5}, // SyncGroup
	15: {0, 6}, // DescribeGroups
	16: {0, 5}, // ListGroups
	42: {0, 2}, // DeleteGroups
	47: {0, 0}, // OffsetDelete
}

// SupportedVersions returns the advertised range for an API key (ok=false if not implemented).
func SupportedVersions(key int16) (min, max int16, ok bool) {
	r, ok := supportedAPIs[key]
	return r.min, r.max, ok
}

// Supported implements server.Handler.
func (b *Broker) Supported(key, version int16) bool {
	r, ok := supportedAPIs[key]
	return ok && version >= r.min && version <= r.max
}

// Handle implements server.Handler.
func (b *Broker) Handle(c *server.Conn, req kmsg.Request) server.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return server.Response{Msg: b.handleApiVersions(r)}
	case *kmsg.MetadataRequest:
		return server.Response{Msg: b.handleMetadata(r)}
	case *kmsg.ProduceRequest:
		resp := b.handleProduce(r, c.Body.Checksum, c.Done)
		if r.Acks == 0 {
			return server.Response{}
		}
		return server.Response{Msg: resp}
	case *kmsg.FetchRequest:
		return b.handleFetch(c, r)
	case *kmsg.ListOffsetsRequest:
		return server.Response{Msg: b.handleListOffsets(r)}
	case *kmsg.CreateTopicsRequest:
		return server.Response{Msg: b.handleCreateTopics(r)}
	case *kmsg.DeleteTopicsRequest:
		return server.Response{Msg: b.handleDeleteTopics(r)}
	case *kmsg.CreatePartitionsRequest:
		return server.Response{Msg: b.handleCreatePartitions(r)}
	case *kmsg.DescribeConfigsRequest:
		return server.Response{Msg: b.handleDescribeConfigs(r)}
	case *kmsg.AlterConfigsRequest:
		return server.Response{Msg: b.handleAlterConfigs(r)}
	case *kmsg.IncrementalAlterConfigsRequest:
		return server.Response{Msg: b.handleIncrementalAlterConfigs(r)}
	case *kmsg.DeleteRecordsRequest:
		return server.Response{Msg: b.handleDeleteRecords(r)}
	case *kmsg.DescribeClusterRequest:
		return server.Response{Msg: b.handleDescribeCluster(r)}
	case *kmsg.InitProducerIDRequest:
		return server.Response{Msg: b.handleInitProducerID(r)}
	case *kmsg.OffsetForLeaderEpochRequest:
		return server.Response{Msg: b.handleOffsetForLeaderEpoch(r)}
	case *kmsg.FindCoordinatorRequest:
		return server.Response{Msg: b.handleFindCoordinator(r)}
	case *kmsg.JoinGroupRequest:
		return b.handleJoinGroup(c, r)
	case *kmsg.SyncGroupRequest:
		return b.handleSyncGroup(c, r)
	case *kmsg.HeartbeatRequest:
		return b.handleHeartbeat(r)
	case *kmsg.LeaveGroupRequest:
		return b.handleLeaveGroup(r)
	case *kmsg.OffsetCommitRequest:
		return b.handleOffsetCommit(r)
	case *kmsg.OffsetFetchRequest:
		return b.handleOffsetFetch(r)
	case *kmsg.ListGroupsRequest:
		return b.handleListGroups(r)
	case *kmsg.DescribeGroupsRequest:
		return b.handleDescribeGroups(r)
	case *kmsg.DeleteGroupsRequest:
		return b.handleDeleteGroups(r)
	case *kmsg.OffsetDeleteRequest:
		return b.handleOffsetDelete(r)
	}
	// Supported() keeps anything else from reaching here.
	return server.Response{Close: true}
}

func (b *Broker) handleApiVersions(r *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, key := range sortedKeys() {
		rg := supportedAPIs[key]
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, rg.min, rg.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func sortedKeys() []int16 {
	keys := make([]int16, 0, len(supportedAPIs))
	for k := range supportedAPIs {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// errMsg returns a pointer to msg for kmsg's nullable error-message fields.
func errMsg(msg string) *string {
	if msg == "" {
		return nil
	}
	return &msg
}

// APIKeys lists the implemented API keys in order.
func APIKeys() []int16 { return sortedKeys() }
