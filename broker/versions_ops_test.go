package broker_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// opsVersionTests exercises, on a single node, the cluster-operations APIs at every advertised
// version (TestEveryAdvertisedVersionIsServed): topic "vt" with 2 partitions exists.
func opsVersionTests(t *testing.T, rc *rawConn) map[int16]func(v int16) {
	return map[int16]func(v int16){
		35: func(v int16) {
			req := kmsg.NewPtrDescribeLogDirsRequest()
			req.Version = v
			resp := rc.do(req).(*kmsg.DescribeLogDirsResponse)
			if len(resp.Dirs) != 1 || len(resp.Dirs[0].Topics) == 0 {
				t.Fatalf("DescribeLogDirs v%d: %+v", v, resp)
			}
		},
		43: func(v int16) {
			req := kmsg.NewPtrElectLeadersRequest()
			req.Version = v
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = "vt", []int32{0}
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.ElectLeadersResponse)
			if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.ElectionNotNeeded.Code {
				t.Fatalf("ElectLeaders v%d: %v, want ELECTION_NOT_NEEDED", v, kerr.ErrorForCode(got))
			}
		},
		45: func(v int16) {
			req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
			req.Version = v
			rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			rt.Topic = "vt"
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = 0, []int32{1}
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.AlterPartitionAssignmentsResponse)
			p := resp.Topics[0].Partitions[0]
			mustOK(t, "AlterPartitionReassignments", p.ErrorCode, p.ErrorMessage)
		},
		46: func(v int16) {
			req := kmsg.NewPtrListPartitionReassignmentsRequest()
			req.Version = v
			resp := rc.do(req).(*kmsg.ListPartitionReassignmentsResponse)
			mustOK(t, "ListPartitionReassignments", resp.ErrorCode, resp.ErrorMessage)
			if len(resp.Topics) != 0 {
				t.Fatalf("ListPartitionReassignments v%d on a single node: %+v", v, resp.Topics)
			}
		},
		55: func(v int16) {
			req := kmsg.NewPtrDescribeQuorumRequest()
			req.Version = v
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = "__cluster_metadata"
			rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.DescribeQuorumResponse)
			p := resp.Topics[0].Partitions[0]
			mustOK(t, "DescribeQuorum", p.ErrorCode, nil)
			if len(p.CurrentVoters) != 1 || p.LeaderID != p.CurrentVoters[0].ReplicaID {
				t.Fatalf("DescribeQuorum v%d: %+v", v, p)
			}
		},
	}
}
