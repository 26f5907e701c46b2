package broker_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

func mustOK(t *testing.T, what string, code int16, msg *string) {
	t.Helper()
	if code != 0 {
		m := ""
		if msg != nil {
			m = *msg
		}
		t.Fatalf("%s: %v %s", what, kerr.ErrorForCode(code), m)
	}
}

func createTopicRaw(t *testing.T, rc *rawConn, name string, partitions int32, configs map[string]string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp := rc.do(req).(*kmsg.CreateTopicsResponse)
	mustOK(t, "create "+name, resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
	return resp.Topics[0].TopicID
}

// TestEveryAdvertisedVersionIsServed sends a meaningful request at every version ApiVersions
// advertises, decodes the answer at that version and checks it.
func TestEveryAdvertisedVersionIsServed(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	id := createTopicRaw(t, rc, "vt", 2, nil)

	exercised := map[int16]func(v int16){
		18: func(v int16) {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = v
			req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
			resp := rc.do(req).(*kmsg.ApiVersionsResponse)
			mustOK(t, "ApiVersions", resp.ErrorCode, nil)
			if len(resp.ApiKeys) != len(broker.APIKeys()) {
				t.Fatalf("ApiVersions v%d lists %d keys, want %d", v, len(resp.ApiKeys), len(broker.APIKeys()))
			}
		},
		3: func(v int16) {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = v
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr("vt")
			req.Topics = append(req.Topics, mt)
			resp := rc.do(req).(*kmsg.MetadataResponse)
			if len(resp.Brokers) != 1 || len(resp.Topics) != 1 {
				t.Fatalf("Metadata v%d: %d brokers %d topics", v, len(resp.Brokers), len(resp.Topics))
			}
			mustOK(t, "Metadata", resp.Topics[0].ErrorCode, nil)
			if len(resp.Topics[0].Partitions) != 2 {
				t.Fatalf("Metadata v%d: %d partitions", v, len(resp.Topics[0].Partitions))
			}
			if v >= 10 && resp.Topics[0].TopicID != id {
				t.Fatalf("Metadata v%d: topic id %x, want %x", v, resp.Topics[0].TopicID, id)
			}
		},
		0: func(v int16) {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = v, -1, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = "vt", id
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = recordBatch(-1, -1, -1, 1000, record("k", fmt.Sprintf("v%d", v)))
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.ProduceResponse)
			p := resp.Topics[0].Partitions[0]
			mustOK(t, fmt.Sprintf("Produce v%d", v), p.ErrorCode, p.ErrorMessage)
		},
		1: func(v int16) {
			req := kmsg.NewPtrFetchRequest()
			req.Version, req.MaxBytes, req.MinBytes, req.MaxWaitMillis = v, 1<<20, 1, 10
			req.SessionEpoch = -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = "vt", id
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.FetchOffset, rp.PartitionMaxBytes = 0, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.FetchResponse)
			p := resp.Topics[0].Partitions[0]
			mustOK(t, fmt.Sprintf("Fetch v%d", v), p.ErrorCode, nil)
			if p.HighWatermark <= 0 || len(p.RecordBatches) == 0 {
				t.Fatalf("Fetch v%d: hw %d, %d bytes", v, p.HighWatermark, len(p.RecordBatches))
			}
		},
		2: func(v int16) {
			for _, ts := range []int64{-2, -1} {
				req := kmsg.NewPtrListOffsetsRequest()
				req.Version, req.ReplicaID = v, -1
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = "vt"
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Timestamp = ts
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp := rc.do(req).(*kmsg.ListOffsetsResponse)
				p := resp.Topics[0].Partitions[0]
				mustOK(t, "ListOffsets", p.ErrorCode, nil)
				if ts == -2 && p.Offset != 0 || ts == -1 && p.Offset <= 0 {
					t.Fatalf("ListOffsets v%d ts %d: offset %d", v, ts, p.Offset)
				}
			}
		},
		19: func(v int16) {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.Version = v
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("ct-%d", v), 1, 1
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.CreateTopicsResponse)
			mustOK(t, "CreateTopics", resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
		},
		37: func(v int16) {
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.Version = v
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = fmt.Sprintf("ct-%d", v), 3
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.CreatePartitionsResponse)
			mustOK(t, "CreatePartitions", resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
		},
		20: func(v int16) {
			name := fmt.Sprintf("dt-%d", v)
			createTopicRaw(t, rc, name, 1, nil)
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.Version = v
			if v >= 6 {
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.Topic = &name
				req.Topics = append(req.Topics, rt)
			} else {
				req.TopicNames = []string{name}
			}
			resp := rc.do(req).(*kmsg.DeleteTopicsResponse)
			mustOK(t, "DeleteTopics", resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
		},
		21: func(v int16) {
			req := kmsg.NewPtrDeleteRecordsRequest()
			req.Version = v
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = "vt"
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = 1, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.DeleteRecordsResponse)
			mustOK(t, "DeleteRecords", resp.Topics[0].Partitions[0].ErrorCode, nil)
		},
		22: func(v int16) {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version = v
			resp := rc.do(req).(*kmsg.InitProducerIDResponse)
			mustOK(t, "InitProducerId", resp.ErrorCode, nil)
			if resp.ProducerID < 0 {
				t.Fatalf("InitProducerId v%d: id %d", v, resp.ProducerID)
			}
		},
		23: func(v int16) {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.Version, req.ReplicaID = v, -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = "vt"
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.OffsetForLeaderEpochResponse)
			p := resp.Topics[0].Partitions[0]
			mustOK(t, "OffsetForLeaderEpoch", p.ErrorCode, nil)
			if p.EndOffset <= 0 {
				t.Fatalf("OffsetForLeaderEpoch v%d: end offset %d", v, p.EndOffset)
			}
		},
		32: func(v int16) {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.Version = v
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "vt"
			req.Resources = append(req.Resources, rr)
			resp := rc.do(req).(*kmsg.DescribeConfigsResponse)
			mustOK(t, "DescribeConfigs", resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
			if len(resp.Resources[0].Configs) < 10 {
				t.Fatalf("DescribeConfigs v%d: %d configs", v, len(resp.Resources[0].Configs))
			}
		},
		33: func(v int16) {
			req := kmsg.NewPtrAlterConfigsRequest()
			req.Version = v
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "vt"
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("3600000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			resp := rc.do(req).(*kmsg.AlterConfigsResponse)
			mustOK(t, "AlterConfigs", resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
		},
		44: func(v int16) {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			req.Version = v
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "vt"
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value, c.Op = "segment.ms", kmsg.StringPtr("600000"), 0
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			resp := rc.do(req).(*kmsg.IncrementalAlterConfigsResponse)
			mustOK(t, "IncrementalAlterConfigs", resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
		},
		60: func(v int16) {
			req := kmsg.NewPtrDescribeClusterRequest()
			req.Version = v
			req.EndpointType = 1
			resp := rc.do(req).(*kmsg.DescribeClusterResponse)
			mustOK(t, "DescribeCluster", resp.ErrorCode, resp.ErrorMessage)
			if len(resp.Brokers) != 1 || resp.ClusterID == "" {
				t.Fatalf("DescribeCluster v%d: %+v", v, resp)
			}
		},
	}
	for k, fn := range groupVersionTests(t, rc) {
		exercised[k] = fn
	}
	for k, fn := range opsVersionTests(t, rc) {
		exercised[k] = fn
	}
	// Produce before Fetch/ListOffsets/OffsetForLeaderEpoch need data; CreateTopics before CreatePartitions.
	order := []int16{18, 3, 0, 1, 2, 19, 37, 20, 22, 23, 32, 33, 44, 60, 21,
		10, 11, 14, 12, 13, 8, 9, 15, 16, 47, 42, 35, 43, 45, 46, 55}
	if len(order) != len(broker.APIKeys()) {
		t.Fatalf("test covers %d API keys, broker implements %d: add the new key here", len(order), len(broker.APIKeys()))
	}
	for _, key := range order {
		min, max, ok := broker.SupportedVersions(key)
		if !ok {
			t.Fatalf("key %d not implemented", key)
		}
		fn := exercised[key]
		for v := min; v <= max; v++ {
			t.Run(fmt.Sprintf("%s/v%d", kmsg.NameForKey(key), v), func(t *testing.T) { fn(v) })
		}
	}
}

func TestApiVersionsTooNewGetsV0ErrorAnswer(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 5 // newer than advertised
	corr := rc.send(req)
	v0 := kmsg.NewPtrApiVersionsRequest()
	v0.Version = 0
	resp, err := rc.recv(v0, corr)
	if err != nil {
		t.Fatal(err)
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) == 0 {
		t.Fatalf("got error %d with %d keys; want UNSUPPORTED_VERSION with the key list", av.ErrorCode, len(av.ApiKeys))
	}
	// The connection stays usable: a supported version works next.
	if got := rc.do(v0).(*kmsg.ApiVersionsResponse); got.ErrorCode != 0 {
		t.Fatalf("v0 retry: error %d", got.ErrorCode)
	}
}
