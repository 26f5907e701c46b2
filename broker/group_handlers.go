package broker

import (
	"net"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/group"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// OffsetCommit v0-9 (v10 uses topic IDs).
	register(8, 0, 9, func(b *Broker, _ *server.Conn, r *kmsg.OffsetCommitRequest) server.Response {
		return b.handleOffsetCommit(r)
	})
	// OffsetFetch v0-9 (v10 uses topic IDs).
	register(9, 0, 9, func(b *Broker, _ *server.Conn, r *kmsg.OffsetFetchRequest) server.Response {
		return b.handleOffsetFetch(r)
	})
	// FindCoordinator v0-6.
	register(10, 0, 6, func(b *Broker, _ *server.Conn, r *kmsg.FindCoordinatorRequest) server.Response {
		return server.Response{Msg: b.handleFindCoordinator(r)}
	})
	// JoinGroup v0-9.
	register(11, 0, 9, func(b *Broker, c *server.Conn, r *kmsg.JoinGroupRequest) server.Response {
		return b.handleJoinGroup(c, r)
	})
	// Heartbeat v0-4.
	register(12, 0, 4, func(b *Broker, _ *server.Conn, r *kmsg.HeartbeatRequest) server.Response {
		return b.handleHeartbeat(r)
	})
	// LeaveGroup v0-5.
	register(13, 0, 5, func(b *Broker, _ *server.Conn, r *kmsg.LeaveGroupRequest) server.Response {
		return b.handleLeaveGroup(r)
	})
	// SyncGroup v0-5.
	register(14, 0, 5, func(b *Broker, c *server.Conn, r *kmsg.SyncGroupRequest) server.Response {
		return b.handleSyncGroup(c, r)
	})
	// DescribeGroups v0-6.
	register(15, 0, 6, func(b *Broker, _ *server.Conn, r *kmsg.DescribeGroupsRequest) server.Response {
		return b.handleDescribeGroups(r)
	})
	// ListGroups v0-5.
	register(16, 0, 5, func(b *Broker, _ *server.Conn, r *kmsg.ListGroupsRequest) server.Response {
		return b.handleListGroups(r)
	})
	// DeleteGroups v0-2.
	register(42, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.DeleteGroupsRequest) server.Response {
		return b.handleDeleteGroups(r)
	})
	// OffsetDelete v0.
	register(47, 0, 0, func(b *Broker, _ *server.Conn, r *kmsg.OffsetDeleteRequest) server.Response {
		return b.handleOffsetDelete(r)
	})
}

func (b *Broker) handleFindCoordinator(r *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	answer := func(key string) (ep brokerEndpoint, code int16, msg *string) {
		switch r.CoordinatorType {
		case 0: // group
			return b.groupCoordinatorNode(key)
		case 1:
			return ep, kerr.CoordinatorNotAvailable.Code, errMsg("transactions are not supported by this broker")
		default:
			return ep, kerr.InvalidRequest.Code, errMsg("unknown coordinator type")
		}
	}
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			var ep brokerEndpoint
			ep, c.ErrorCode, c.ErrorMessage = answer(key)
			if c.ErrorCode == 0 {
				c.NodeID, c.Host, c.Port = ep.nodeID, ep.host, ep.port
			} else {
				c.NodeID, c.Port = -1, -1
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	var ep brokerEndpoint
	ep, resp.ErrorCode, resp.ErrorMessage = answer(r.CoordinatorKey)
	if resp.ErrorCode == 0 {
		resp.NodeID, resp.Host, resp.Port = ep.nodeID, ep.host, ep.port
	} else {
		resp.NodeID, resp.Port = -1, -1
	}
	return resp
}

// waitReply waits for a coordinator reply, giving up when the client goes or the broker stops.
func waitReply[T any](b *Broker, c *server.Conn, ch <-chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	case <-c.Done:
	case <-b.stop:
	}
	var zero T
	return zero, false
}
func clientHost(c *server.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr)
	if err != nil {
		return c.RemoteAddr
	}
	return "/" + host
}
func (b *Broker) handleJoinGroup(c *server.Conn, r *kmsg.JoinGroupRequest) server.Response {
	// The coordinator keeps protocol metadata beyond this request: copy it out of the pooled body.
	for i := range r.Protocols {
		r.Protocols[i].Metadata = append([]byte(nil), r.Protocols[i].Metadata...)
	}
	ch := make(chan group.JoinResult, 1)
	clientID, host := c.ClientID, clientHost(c)
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) {
		co.Join(now, r, clientID, host, func(res group.JoinResult) { ch <- res })
	})
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		ch <- group.JoinResult{Err: code, Generation: -1, MemberID: r.MemberID}
	}
	res, ok := waitReply(b, c, ch)
	if !ok {
		return server.Response{Close: true}
	}
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode, resp.Generation, resp.LeaderID, resp.MemberID = res.Err, res.Generation, res.Leader, res.MemberID
	resp.SkipAssignment = res.SkipAssignment
	if res.Err == 0 {
		resp.ProtocolType = &res.ProtocolType
		resp.Protocol = &res.Protocol
	}
	for _, m := range res.Members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, jm)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleSyncGroup(c *server.Conn, r *kmsg.SyncGroupRequest) server.Response {
	for i := range r.GroupAssignment {
		r.GroupAssignment[i].MemberAssignment = append([]byte(nil), r.GroupAssignment[i].MemberAssignment...)
	}
	ch := make(chan group.SyncResult, 1)
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) {
		co.Sync(now, r, func(res group.SyncResult) { ch <- res })
	})
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		ch <- group.SyncResult{Err: code}
	}
	res, ok := waitReply(b, c, ch)
	if !ok {
		return server.Response{Close: true}
	}
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	resp.ErrorCode = res.Err
	if res.Err == 0 {
		resp.ProtocolType, resp.Protocol = &res.ProtocolType, &res.Protocol
		resp.MemberAssignment = res.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleHeartbeat(r *kmsg.HeartbeatRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) { resp.ErrorCode = co.Heartbeat(now, r) })
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		resp.ErrorCode = code
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleLeaveGroup(r *kmsg.LeaveGroupRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []group.LeaveMember
	if r.Version < 3 {
		members = []group.LeaveMember{{MemberID: r.MemberID}}
	} else {
		for _, m := range r.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
		}
	}
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) { resp.ErrorCode = co.Leave(now, r.Group, members) })
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		resp.ErrorCode = code
		if r.Version >= 3 {
			return server.Response{Msg: resp} // Kafka answers a request-level error with no members
		}
	}
	if r.Version < 3 {
		if resp.ErrorCode == 0 {
			resp.ErrorCode = members[0].Err
		}
		return server.Response{Msg: resp}
	}
	for _, m := range members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, m.Err
		resp.Members = append(resp.Members, rm)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleOffsetCommit(r *kmsg.OffsetCommitRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	var parts []group.CommitPartition
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			epoch := int32(-1)
			if r.Version >= 6 {
				epoch = p.LeaderEpoch
			}
			parts = append(parts, group.CommitPartition{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: epoch, Metadata: p.Metadata})
		}
	}
	generation, member := r.Generation, r.MemberID
	if r.Version == 0 {
		generation, member = -1, ""
	}
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) {
		co.Commit(now, r.Group, member, r.InstanceID, generation, parts)
	})
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		for i := range parts {
			parts[i].Err = code
		}
	}
	i := 0
	for _, t := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = t.Topic
		for range t.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = parts[i].Partition, parts[i].Err
			st.Partitions = append(st.Partitions, sp)
			i++
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleOffsetFetch(r *kmsg.OffsetFetchRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	type req struct {
		group  string
		topics []kmsg.OffsetFetchRequestTopic
		out    []group.FetchedOffset
		code   int16 // NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS
	}
	var reqs []*req
	if r.Version < 8 {
		topics := r.Topics
		if r.Version < 2 && topics == nil {
			topics = []kmsg.OffsetFetchRequestTopic{} // v0-1 have no "all topics"
		}
		reqs = append(reqs, &req{group: r.Group, topics: topics})
	} else {
		for _, g := range r.Groups {
			rq := &req{group: g.Group}
			if g.Topics != nil {
				rq.topics = []kmsg.OffsetFetchRequestTopic{}
				for _, t := range g.Topics {
					rq.topics = append(rq.topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			reqs = append(reqs, rq)
		}
	}
	for _, rq := range reqs {
		var err error
		rq.code, err = b.groups.doGroup(rq.group, func(co *group.Coordinator, now time.Time) {
			rq.out = co.FetchOffsets(rq.group, rq.topics)
		})
		if err != nil {
			return server.Response{Close: true}
		}
	}
	if r.Version < 8 {
		if code := reqs[0].code; code != 0 {
			if r.Version >= 2 {
				resp.ErrorCode = code
				return server.Response{Msg: resp}
			}
			// v0-1 have no request-level error: every partition asked for carries it.
			for _, t := range reqs[0].topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return server.Response{Msg: resp}
		}
		byTopic := map[string]int{}
		for _, o := range reqs[0].out {
			i, ok := byTopic[o.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[o.Topic] = i
				t := kmsg.NewOffsetFetchResponseTopic()
				t.Topic = o.Topic
				resp.Topics = append(resp.Topics, t)
			}
			p := kmsg.NewOffsetFetchResponseTopicPartition()
			p.Partition, p.Offset, p.LeaderEpoch = o.Partition, o.Offset.Offset, o.LeaderEpoch
			md := o.Metadata
			p.Metadata = &md
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
		}
		if reqs[0].group == "" && r.Version >= 2 {
			resp.ErrorCode = kerr.InvalidGroupID.Code
		}
		return server.Response{Msg: resp}
	}
	for _, rq := range reqs {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = rq.group
		if rq.group == "" {
			g.ErrorCode = kerr.InvalidGroupID.Code
		}
		if rq.code != 0 {
			g.ErrorCode = rq.code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		byTopic := map[string]int{}
		for _, o := range rq.out {
			i, ok := byTopic[o.Topic]
			if !ok {
				i = len(g.Topics)
				byTopic[o.Topic] = i
				t := kmsg.NewOffsetFetchResponseGroupTopic()
				t.Topic = o.Topic
				g.Topics = append(g.Topics, t)
			}
			p := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			p.Partition, p.Offset, p.LeaderEpoch = o.Partition, o.Offset.Offset, o.LeaderEpoch
			md := o.Metadata
			p.Metadata = &md
			g.Topics[i].Partitions = append(g.Topics[i].Partitions, p)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleListGroups(r *kmsg.ListGroupsRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	var states []group.State
	for _, s := range r.StatesFilter {
		st, ok := group.ParseState(s)
		if !ok {
			continue // an unknown state matches nothing; Kafka ignores it the same way
		}
		states = append(states, st)
	}
	if len(r.StatesFilter) > 0 && len(states) == 0 {
		return server.Response{Msg: resp}
	}
	var listed []group.ListedGroup
	loading, err := b.groups.doAll(func(co *group.Coordinator, now time.Time) { listed = append(listed, co.List(states, r.TypesFilter)...) })
	if err != nil {
		return server.Response{Close: true}
	}
	if loading {
		// NB: as Kafka, which lists no group while any of its partitions loads.
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return server.Response{Msg: resp}
	}
	sort.Slice(listed, func(i, j int) bool { return listed[i].Group < listed[j].Group })
	for _, g := range listed {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Group, g.ProtocolType, g.State.String(), "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleDescribeGroups(r *kmsg.DescribeGroupsRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	described := make([]group.DescribedGroup, len(r.Groups))
	codes := make([]int16, len(r.Groups))
	for i, g := range r.Groups {
		var err error
		codes[i], err = b.groups.doGroup(g, func(co *group.Coordinator, now time.Time) { described[i] = co.Describe(g) })
		if err != nil {
			return server.Response{Close: true}
		}
	}
	for i, d := range described {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = r.Groups[i]
		dg.State, dg.ProtocolType, dg.Protocol = d.State.String(), d.ProtocolType, d.Protocol
		switch {
		case codes[i] != 0:
			dg.ErrorCode, dg.State = codes[i], ""
		case r.Groups[i] == "":
			dg.ErrorCode = kerr.InvalidGroupID.Code
		case !d.Found && r.Version >= 6:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = errMsg("group " + r.Groups[i] + " not found")
		}
		for _, m := range d.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = orEmpty(m.Metadata), orEmpty(m.Assignment)
			dg.Members = append(dg.Members, dm)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return server.Response{Msg: resp}
}
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
func (b *Broker) handleDeleteGroups(r *kmsg.DeleteGroupsRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	codes := make([]int16, len(r.Groups))
	for i, g := range r.Groups {
		code, err := b.groups.doGroup(g, func(co *group.Coordinator, now time.Time) { codes[i] = co.DeleteGroup(now, g) })
		if err != nil {
			return server.Response{Close: true}
		}
		if code != 0 {
			codes[i] = code
		}
	}
	for i, g := range r.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group, dg.ErrorCode = g, codes[i]
		resp.Groups = append(resp.Groups, dg)
	}
	return server.Response{Msg: resp}
}
func (b *Broker) handleOffsetDelete(r *kmsg.OffsetDeleteRequest) server.Response {
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var parts []group.DeletePartition
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, group.DeletePartition{Topic: t.Topic, Partition: p.Partition})
		}
	}
	code, err := b.groups.doGroup(r.Group, func(co *group.Coordinator, now time.Time) { resp.ErrorCode = co.DeleteOffsets(now, r.Group, parts) })
	if err != nil {
		return server.Response{Close: true}
	}
	if code != 0 {
		resp.ErrorCode = code
	}
	if resp.ErrorCode != 0 {
		return server.Response{Msg: resp}
	}
	i := 0
	for _, t := range r.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = t.Topic
		for range t.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition, sp.ErrorCode = parts[i].Partition, parts[i].Err
			st.Partitions = append(st.Partitions, sp)
			i++
		}
		resp.Topics = append(resp.Topics, st)
	}
	return server.Response{Msg: resp}
}
