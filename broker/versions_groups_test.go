package broker_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinAt joins group as a new consumer member at JoinGroup version v (doing the KIP-394 second
// join when the broker asks for it) and returns the member ID and generation.
func joinAt(t *testing.T, rc *rawConn, group string, v int16) (string, int32) {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = v, group, 10000, 10000
	req.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"vt"}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	resp := rc.do(req).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		if v < 4 {
			t.Fatalf("JoinGroup v%d got MEMBER_ID_REQUIRED", v)
		}
		req.MemberID = resp.MemberID
		resp = rc.do(req).(*kmsg.JoinGroupResponse)
	}
	mustOK(t, fmt.Sprintf("JoinGroup v%d", v), resp.ErrorCode, nil)
	if resp.LeaderID != resp.MemberID || len(resp.Members) != 1 || resp.Generation < 1 {
		t.Fatalf("JoinGroup v%d: leader %q member %q, %d members, generation %d", v, resp.LeaderID, resp.MemberID, len(resp.Members), resp.Generation)
	}
	return resp.MemberID, resp.Generation
}

func syncAt(t *testing.T, rc *rawConn, group, member string, gen int32, v int16) []byte {
	t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.MemberID, req.Generation = v, group, member, gen
	if v >= 5 {
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	}
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = member, []byte("assignment-for-"+group)
	req.GroupAssignment = append(req.GroupAssignment, a)
	resp := rc.do(req).(*kmsg.SyncGroupResponse)
	mustOK(t, fmt.Sprintf("SyncGroup v%d", v), resp.ErrorCode, nil)
	return resp.MemberAssignment
}

func commitAt(t *testing.T, rc *rawConn, group string, v int16, offset int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = v, group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "vt"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Metadata = 0, offset, kmsg.StringPtr("md")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.do(req).(*kmsg.OffsetCommitResponse)
	mustOK(t, fmt.Sprintf("OffsetCommit v%d", v), resp.Topics[0].Partitions[0].ErrorCode, nil)
}

// groupVersionTests exercises every version of the group APIs; versions_test.go runs them.
func groupVersionTests(t *testing.T, rc *rawConn) map[int16]func(v int16) {
	return map[int16]func(v int16){
		10: func(v int16) {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.Version, req.CoordinatorKey, req.CoordinatorKeys = v, "g", []string{"g", "h"}
			resp := rc.do(req).(*kmsg.FindCoordinatorResponse)
			if v >= 4 {
				if len(resp.Coordinators) != 2 || resp.Coordinators[1].ErrorCode != 0 || resp.Coordinators[1].Port <= 0 {
					t.Fatalf("FindCoordinator v%d: %+v", v, resp.Coordinators)
				}
			} else if resp.ErrorCode != 0 || resp.Port <= 0 {
				t.Fatalf("FindCoordinator v%d: error %d port %d", v, resp.ErrorCode, resp.Port)
			}
		},
		11: func(v int16) { joinAt(t, rc, fmt.Sprintf("jg-%d", v), v) },
		14: func(v int16) {
			g := fmt.Sprintf("sg-%d", v)
			m, gen := joinAt(t, rc, g, 5)
			if a := syncAt(t, rc, g, m, gen, v); string(a) != "assignment-for-"+g {
				t.Fatalf("SyncGroup v%d: assignment %q", v, a)
			}
		},
		12: func(v int16) {
			g := fmt.Sprintf("hb-%d", v)
			m, gen := joinAt(t, rc, g, 5)
			syncAt(t, rc, g, m, gen, 3)
			req := kmsg.NewPtrHeartbeatRequest()
			req.Version, req.Group, req.MemberID, req.Generation = v, g, m, gen
			mustOK(t, fmt.Sprintf("Heartbeat v%d", v), rc.do(req).(*kmsg.HeartbeatResponse).ErrorCode, nil)
			req.Generation = gen + 7
			if code := rc.do(req).(*kmsg.HeartbeatResponse).ErrorCode; code != kerr.IllegalGeneration.Code {
				t.Fatalf("Heartbeat v%d with a wrong generation: %v", v, kerr.ErrorForCode(code))
			}
		},
		13: func(v int16) {
			g := fmt.Sprintf("lg-%d", v)
			m, gen := joinAt(t, rc, g, 5)
			syncAt(t, rc, g, m, gen, 3)
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version, req.Group, req.MemberID = v, g, m
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = m
			req.Members = append(req.Members, lm)
			resp := rc.do(req).(*kmsg.LeaveGroupResponse)
			mustOK(t, fmt.Sprintf("LeaveGroup v%d", v), resp.ErrorCode, nil)
			if v >= 3 && (len(resp.Members) != 1 || resp.Members[0].ErrorCode != 0) {
				t.Fatalf("LeaveGroup v%d members %+v", v, resp.Members)
			}
		},
		8: func(v int16) { commitAt(t, rc, fmt.Sprintf("oc-%d", v), v, int64(v)+1) },
		9: func(v int16) {
			g := fmt.Sprintf("of-%d", v)
			commitAt(t, rc, g, 5, 42)
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version, req.Group = v, g
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = "vt", []int32{0, 1}
			req.Topics = append(req.Topics, rt)
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = "vt", []int32{0, 1}
			rg.Topics = append(rg.Topics, gt)
			req.Groups = append(req.Groups, rg)
			resp := rc.do(req).(*kmsg.OffsetFetchResponse)
			var got, missing int64
			var md string
			if v >= 8 {
				ps := resp.Groups[0].Topics[0].Partitions
				got, missing, md = ps[0].Offset, ps[1].Offset, *ps[0].Metadata
			} else {
				ps := resp.Topics[0].Partitions
				got, missing, md = ps[0].Offset, ps[1].Offset, *ps[0].Metadata
			}
			if got != 42 || missing != -1 || md != "md" {
				t.Fatalf("OffsetFetch v%d: offset %d (want 42), uncommitted %d (want -1), metadata %q", v, got, missing, md)
			}
		},
		15: func(v int16) {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Version, req.Groups = v, []string{"sg-5", "no-such-group"}
			resp := rc.do(req).(*kmsg.DescribeGroupsResponse)
			g := resp.Groups[0]
			if g.ErrorCode != 0 || g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 1 || string(g.Members[0].MemberAssignment) != "assignment-for-sg-5" {
				t.Fatalf("DescribeGroups v%d: %+v", v, g)
			}
			if unknown := resp.Groups[1]; v >= 6 && unknown.ErrorCode != kerr.GroupIDNotFound.Code || v < 6 && unknown.State != "Dead" {
				t.Fatalf("DescribeGroups v%d unknown group: error %d state %q", v, unknown.ErrorCode, unknown.State)
			}
		},
		16: func(v int16) {
			req := kmsg.NewPtrListGroupsRequest()
			req.Version = v
			if v >= 4 {
				req.StatesFilter = []string{"Stable"}
			}
			resp := rc.do(req).(*kmsg.ListGroupsResponse)
			found := false
			for _, g := range resp.Groups {
				if g.Group == "sg-5" && g.ProtocolType == "consumer" {
					found = true
				}
				if v >= 4 && g.GroupState != "Stable" {
					t.Fatalf("ListGroups v%d state filter let %s (%s) through", v, g.Group, g.GroupState)
				}
			}
			if !found {
				t.Fatalf("ListGroups v%d does not list sg-5: %+v", v, resp.Groups)
			}
		},
		47: func(v int16) {
			commitAt(t, rc, "od", 5, 9)
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Version, req.Group = v, "od"
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = "vt"
			rp := kmsg.NewOffsetDeleteRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := rc.do(req).(*kmsg.OffsetDeleteResponse)
			mustOK(t, "OffsetDelete", resp.ErrorCode, nil)
			mustOK(t, "OffsetDelete partition", resp.Topics[0].Partitions[0].ErrorCode, nil)
		},
		42: func(v int16) {
			g := fmt.Sprintf("dg-%d", v)
			commitAt(t, rc, g, 5, 1)
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Version, req.Groups = v, []string{g, "sg-5", "never-existed"}
			resp := rc.do(req).(*kmsg.DeleteGroupsResponse)
			want := []int16{0, kerr.NonEmptyGroup.Code, kerr.GroupIDNotFound.Code}
			for i, w := range want {
				if resp.Groups[i].ErrorCode != w {
					t.Fatalf("DeleteGroups v%d %s: %v, want %v", v, resp.Groups[i].Group, kerr.ErrorForCode(resp.Groups[i].ErrorCode), kerr.ErrorForCode(w))
				}
			}
		},
	}
}
