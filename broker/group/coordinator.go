package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config holds the coordinator's settings, in Kafka's terms.
type Config struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	MaxSize               int           // group.max.size
	OffsetsRetention      time.Duration // offsets.retention.minutes
	OffsetsRetentionCheck time.Duration // offsets.retention.check.interval.ms
	MaxMetadataBytes      int           // offset.metadata.max.bytes
	Partitions            int32         // offsets.topic.num.partitions
	// PartitionExists reports whether a topic partition exists, for OffsetCommit validation.
	PartitionExists func(topic string, partition int32) bool
}

// Coordinator is every group's state. It is not safe for concurrent use: one goroutine drives it.
type Coordinator struct {
	cfg        Config
	store      Store
	groups     map[string]*Group
	lastExpiry time.Time
}

// New returns an empty coordinator; Replay loads persisted state into it.
func New(cfg Config, store Store) *Coordinator {
	return &Coordinator{cfg: cfg, store: store, groups: map[string]*Group{}}
}

func (c *Coordinator) newGroup(id string) *Group {
	g := &Group{id: id, members: map[string]*member{}, static: map[string]string{}, pending: map[string]time.Time{}, offsets: map[string]map[int32]Offset{}}
	c.groups[id] = g
	return g
}

// dropIfGone forgets a group that holds nothing any more.
func (c *Coordinator) dropIfGone(g *Group) {
	if g.state == Empty && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && !g.hasMetadata {
		delete(c.groups, g.id)
	}
}

// JoinResult is a JoinGroup answer.
type JoinResult struct {
	Err            int16
	Generation     int32
	ProtocolType   string
	Protocol       string
	Leader         string
	MemberID       string
	Members        []JoinMember // only for the leader
	SkipAssignment bool
}

// JoinMember is one member as the leader sees it.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// SyncResult is a SyncGroup answer.
type SyncResult struct {
	Err          int16
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// Join handles JoinGroup. reply is called exactly once, now or when the join phase ends. The
// request's byte slices must not alias buffers the caller reuses (Join keeps the metadata).
func (c *Coordinator) Join(now time.Time, r *kmsg.JoinGroupRequest, clientID, clientHost string, reply func(JoinResult)) {
	fail := func(code *kerr.Error) { reply(JoinResult{Err: code.Code, Generation: -1, MemberID: r.MemberID}) }
	if r.Group == "" {
		fail(kerr.InvalidGroupID)
		return
	}
	session := msDuration(r.SessionTimeoutMillis)
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		fail(kerr.InvalidSessionTimeout)
		return
	}
	if r.ProtocolType == "" || len(r.Protocols) == 0 {
		fail(kerr.InconsistentGroupProtocol)
		return
	}
	rebalance := session // v0 has no rebalance timeout: Kafka uses the session timeout
	if r.Version >= 1 && r.RebalanceTimeoutMillis > 0 {
		rebalance = msDuration(r.RebalanceTimeoutMillis)
	}
	protos := make([]protocol, len(r.Protocols))
	for i, p := range r.Protocols {
		protos[i] = protocol{name: p.Name, metadata: p.Metadata}
	}
	g := c.groups[r.Group]
	if g == nil {
		if r.MemberID != "" {
			fail(kerr.UnknownMemberID)
			return
		}
		g = c.newGroup(r.Group)
	}
	if g.state == Dead {
		fail(kerr.CoordinatorNotAvailable)
		return
	}
	// Protocol compatibility with the members already there.
	if len(g.members) > 0 || g.protocolType != "" && len(g.members) > 0 {
		if r.ProtocolType != g.protocolType {
			fail(kerr.InconsistentGroupProtocol)
			return
		}
		cands := g.candidateProtocols()
		ok := false
		for _, p := range protos {
			if cands[p.name] {
				ok = true
				break
			}
		}
		if !ok {
			fail(kerr.InconsistentGroupProtocol)
			return
		}
	}
	fresh := func(id string) *member {
		return &member{id: id, instanceID: r.InstanceID, clientID: clientID, clientHost: clientHost,
			sessionTimeout: session, rebalanceTimeout: rebalance, protocolType: r.ProtocolType, protocols: protos}
	}

	if r.MemberID == "" {
		if c.cfg.MaxSize > 0 && len(g.members)+len(g.pending) >= c.cfg.MaxSize {
			fail(kerr.GroupMaxSizeReached)
			return
		}
		if r.InstanceID != nil {
			if oldID, ok := g.static[*r.InstanceID]; ok {
				c.rejoinStatic(now, g, oldID, fresh(newMemberID(clientID)), reply)
				return
			}
			m := fresh(newMemberID(clientID))
			c.addAndRebalance(now, g, m, reply)
			return
		}
		id := newMemberID(clientID)
		if r.Version >= 4 {
			// KIP-394: hand out the ID first; the member joins for real with it.
			g.pending[id] = now.Add(session)
			reply(JoinResult{Err: kerr.MemberIDRequired.Code, Generation: -1, MemberID: id})
			return
		}
		c.addAndRebalance(now, g, fresh(id), reply)
		return
	}

	if exp, ok := g.pending[r.MemberID]; ok {
		_ = exp
		delete(g.pending, r.MemberID)
		c.addAndRebalance(now, g, fresh(r.MemberID), reply)
		return
	}
	m := g.members[r.MemberID]
	if m == nil {
		fail(kerr.UnknownMemberID)
		return
	}
	if r.InstanceID != nil && g.static[*r.InstanceID] != r.MemberID {
		fail(kerr.FencedInstanceID)
		return
	}
	changed := !sameProtocols(m.protocols, protos)
	m.protocols, m.sessionTimeout, m.rebalanceTimeout = protos, session, rebalance
	m.clientID, m.clientHost = clientID, clientHost
	switch g.state {
	case PreparingRebalance:
		c.setJoinReply(m, reply)
		m.heartbeatDeadline = now.Add(session)
		c.maybeCompleteJoin(now, g)
	case CompletingRebalance, Stable:
		if !changed && (g.state == CompletingRebalance || m.id != g.leader) {
			// Nothing changed: answer with the current generation again.
			reply(c.joinResult(g, m))
			m.heartbeatDeadline = now.Add(session)
			return
		}
		c.setJoinReply(m, reply)
		c.prepareRebalance(now, g)
	default:
		fail(kerr.UnknownMemberID)
	}
}

func (c *Coordinator) setJoinReply(m *member, reply func(JoinResult)) {
	if m.joinReply != nil {
		// A second JoinGroup from the same member while the first waits: the first loses.
		m.joinReply(JoinResult{Err: kerr.RebalanceInProgress.Code, Generation: -1, MemberID: m.id})
	}
	m.joinReply = reply
}

// rejoinStatic replaces a static member's ID (fencing the old one). In a Stable group whose
// protocols it keeps, it gets its old assignment without a rebalance.
func (c *Coordinator) rejoinStatic(now time.Time, g *Group, oldID string, m *member, reply func(JoinResult)) {
	old := g.members[oldID]
	if old.joinReply != nil {
		old.joinReply(JoinResult{Err: kerr.FencedInstanceID.Code, Generation: -1, MemberID: oldID})
		old.joinReply = nil
	}
	if old.syncReply != nil {
		old.syncReply(SyncResult{Err: kerr.FencedInstanceID.Code})
		old.syncReply = nil
	}
	wasLeader := g.leader == oldID
	// Take over the old member's place (and join order) under the new ID.
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = m.id
		}
	}
	delete(g.members, oldID)
	g.members[m.id] = m
	g.static[*m.instanceID] = m.id
	m.assignment = old.assignment
	if wasLeader {
		g.leader = m.id
	}
	m.heartbeatDeadline = now.Add(m.sessionTimeout)
	// As Kafka: no rebalance when the vote would pick the same protocol. (The metadata may differ —
	// a restarted consumer no longer lists owned partitions — which is why the member rejoined.)
	if g.state == Stable && g.selectProtocol() == g.protocol {
		res := c.joinResult(g, m)
		res.SkipAssignment = wasLeader
		res.Members = nil
		if wasLeader {
			// The leader learns the members (so it could assign) but is told to skip assigning.
			res.Members = c.joinMembers(g)
		}
		// A failed write is retried by Tick (persistGroup marks the group).
		_ = c.persistGroup(now, g)
		reply(res)
		return
	}
	c.setJoinReply(m, reply)
	c.prepareRebalance(now, g)
}

func (c *Coordinator) addAndRebalance(now time.Time, g *Group, m *member, reply func(JoinResult)) {
	g.addMember(m)
	m.joinReply = reply
	m.joinedThisGen = true
	m.heartbeatDeadline = now.Add(m.sessionTimeout)
	if g.protocolType == "" || g.state == Empty {
		g.protocolType = m.protocolType
	}
	c.prepareRebalance(now, g)
}

// prepareRebalance starts (or extends) a join phase.
func (c *Coordinator) prepareRebalance(now time.Time, g *Group) {
	switch g.state {
	case CompletingRebalance:
		// Members waiting for the leader's assignment must rejoin.
		for _, m := range g.members {
			if m.syncReply != nil {
				m.syncReply(SyncResult{Err: kerr.RebalanceInProgress.Code})
				m.syncReply = nil
			}
		}
	case PreparingRebalance:
		if !g.initialDelayUntil.IsZero() {
			// A new member during the initial delay extends it, up to the rebalance timeout.
			g.initialDelayUntil = minTime(now.Add(c.cfg.InitialRebalanceDelay), g.rebalanceDeadline)
		}
		c.maybeCompleteJoin(now, g)
		return
	}
	wasEmpty := g.state == Empty
	g.state = PreparingRebalance
	g.rebalanceDeadline = now.Add(g.maxRebalanceTimeout())
	g.initialDelayUntil = time.Time{}
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		g.initialDelayUntil = minTime(now.Add(c.cfg.InitialRebalanceDelay), g.rebalanceDeadline)
	}
	c.maybeCompleteJoin(now, g)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (c *Coordinator) maybeCompleteJoin(now time.Time, g *Group) {
	if g.state != PreparingRebalance {
		return
	}
	if !g.initialDelayUntil.IsZero() && now.Before(g.initialDelayUntil) {
		return
	}
	if g.allJoined() || !now.Before(g.rebalanceDeadline) {
		c.completeJoin(now, g)
	}
}

// completeJoin ends the join phase: members that did not rejoin are dropped, the generation moves
// on, and every joined member gets its answer.
func (c *Coordinator) completeJoin(now time.Time, g *Group) {
	for _, id := range append([]string(nil), g.order...) {
		if g.members[id].joinReply == nil {
			g.removeMember(id)
		}
	}
	g.pending = map[string]time.Time{}
	g.initialDelayUntil = time.Time{}
	g.generation++
	if len(g.members) == 0 {
		g.state = Empty
		g.protocol = ""
		g.leader = ""
		g.emptySince = now
		_ = c.persistGroup(now, g) // a failed write is retried by Tick
		return
	}
	g.protocol = g.selectProtocol()
	if g.leader == "" || g.members[g.leader] == nil {
		g.leader = g.order[0]
	}
	g.state = CompletingRebalance
	g.syncDeadline = now.Add(g.maxRebalanceTimeout())
	for _, id := range g.order {
		m := g.members[id]
		reply := m.joinReply
		m.joinReply = nil
		m.joinedThisGen = false
		m.heartbeatDeadline = now.Add(m.sessionTimeout)
		reply(c.joinResult(g, m))
	}
}

func (c *Coordinator) joinResult(g *Group, m *member) JoinResult {
	res := JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, Leader: g.leader, MemberID: m.id}
	if m.id == g.leader {
		res.Members = c.joinMembers(g)
	}
	return res
}

func (c *Coordinator) joinMembers(g *Group) []JoinMember {
	out := make([]JoinMember, 0, len(g.order))
	for _, id := range g.order {
		mm := g.members[id]
		out = append(out, JoinMember{MemberID: mm.id, InstanceID: mm.instanceID, Metadata: mm.metadataFor(g.protocol)})
	}
	return out
}

// checkMember validates member ID, static instance and generation for Sync/Heartbeat/Commit.
func (g *Group) checkMember(memberID string, instanceID *string, generation int32) (*member, *kerr.Error) {
	m := g.members[memberID]
	if instanceID != nil {
		if cur, ok := g.static[*instanceID]; ok && cur != memberID {
			return nil, kerr.FencedInstanceID
		}
	}
	if m == nil {
		return nil, kerr.UnknownMemberID
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration
	}
	return m, nil
}

// Sync handles SyncGroup; reply is called now or when the leader's assignment arrives.
func (c *Coordinator) Sync(now time.Time, r *kmsg.SyncGroupRequest, reply func(SyncResult)) {
	g := c.groups[r.Group]
	if r.Group == "" {
		reply(SyncResult{Err: kerr.InvalidGroupID.Code})
		return
	}
	if g == nil || g.state == Empty || g.state == Dead {
		reply(SyncResult{Err: kerr.UnknownMemberID.Code})
		return
	}
	m, err := g.checkMember(r.MemberID, r.InstanceID, r.Generation)
	if err != nil {
		reply(SyncResult{Err: err.Code})
		return
	}
	if r.ProtocolType != nil && *r.ProtocolType != g.protocolType || r.Protocol != nil && *r.Protocol != g.protocol {
		reply(SyncResult{Err: kerr.InconsistentGroupProtocol.Code})
		return
	}
	m.heartbeatDeadline = now.Add(m.sessionTimeout)
	switch g.state {
	case PreparingRebalance:
		reply(SyncResult{Err: kerr.RebalanceInProgress.Code})
	case Stable:
		reply(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment})
	case CompletingRebalance:
		if m.syncReply != nil {
			m.syncReply(SyncResult{Err: kerr.RebalanceInProgress.Code})
		}
		m.syncReply = reply
		if m.id != g.leader {
			return
		}
		assigned := map[string][]byte{}
		for _, a := range r.GroupAssignment {
			assigned[a.MemberID] = a.MemberAssignment
		}
		for _, mm := range g.members {
			mm.assignment = assigned[mm.id]
		}
		if err := c.persistGroup(now, g); err != nil {
			// Kafka answers a failed group write with COORDINATOR_NOT_AVAILABLE (NOT_COORDINATOR
			// once leadership moved) and rebalances.
			code := persistErrCode(err)
			for _, mm := range g.members {
				if mm.syncReply != nil {
					mm.syncReply(SyncResult{Err: code})
					mm.syncReply = nil
				}
			}
			c.prepareRebalance(now, g)
			return
		}
		g.state = Stable
		for _, mm := range g.members {
			if mm.syncReply != nil {
				mm.syncReply(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: mm.assignment})
				mm.syncReply = nil
			}
		}
	}
}

// Heartbeat handles Heartbeat and returns the error code to answer with.
func (c *Coordinator) Heartbeat(now time.Time, r *kmsg.HeartbeatRequest) int16 {
	g := c.groups[r.Group]
	if r.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	if g == nil || g.state == Empty || g.state == Dead {
		return kerr.UnknownMemberID.Code
	}
	m, err := g.checkMember(r.MemberID, r.InstanceID, r.Generation)
	if err != nil {
		return err.Code
	}
	m.heartbeatDeadline = now.Add(m.sessionTimeout)
	if g.state == PreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// LeaveMember identifies a member leaving; Err is filled in.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Err        int16
}

// Leave handles LeaveGroup; it fills each member's Err and returns the request-level error.
func (c *Coordinator) Leave(now time.Time, group string, members []LeaveMember) int16 {
	g := c.groups[group]
	if group == "" {
		return kerr.InvalidGroupID.Code
	}
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	removed := false
	for i := range members {
		lm := &members[i]
		id := lm.MemberID
		if lm.InstanceID != nil {
			cur, ok := g.static[*lm.InstanceID]
			switch {
			case !ok:
				lm.Err = kerr.UnknownMemberID.Code
				continue
			case id != "" && id != cur:
				lm.Err = kerr.FencedInstanceID.Code
				continue
			}
			id = cur
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			removed = true
			continue
		}
		m := g.members[id]
		if m == nil {
			lm.Err = kerr.UnknownMemberID.Code
			continue
		}
		if m.joinReply != nil {
			m.joinReply(JoinResult{Err: kerr.UnknownMemberID.Code, Generation: -1, MemberID: id})
		}
		if m.syncReply != nil {
			m.syncReply(SyncResult{Err: kerr.UnknownMemberID.Code})
		}
		g.removeMember(id)
		removed = true
	}
	if removed {
		c.membersChanged(now, g)
	}
	return 0
}

func (c *Coordinator) membersChanged(now time.Time, g *Group) {
	switch g.state {
	case Stable, CompletingRebalance:
		c.prepareRebalance(now, g)
	case PreparingRebalance:
		c.maybeCompleteJoin(now, g)
	}
}

// Tick expires sessions, pending member IDs, join and sync phases, and (every
// offsets.retention.check.interval.ms) old offsets.
func (c *Coordinator) Tick(now time.Time) {
	expiry := now.Sub(c.lastExpiry) >= c.cfg.OffsetsRetentionCheck
	if expiry {
		c.lastExpiry = now
	}
	for _, g := range c.groups {
		if g.metadataUnsaved && (g.state == Stable || g.state == Empty) {
			// NB: a failed write is never dropped: the store reported it, and the group's current
			// metadata is written again until it lands.
			_ = c.persistGroup(now, g)
		}
		for id, exp := range g.pending {
			if !now.Before(exp) {
				delete(g.pending, id)
				c.maybeCompleteJoin(now, g)
			}
		}
		expired := false
		for _, id := range append([]string(nil), g.order...) {
			m := g.members[id]
			if m.joinReply != nil || m.syncReply != nil || now.Before(m.heartbeatDeadline) {
				continue
			}
			g.removeMember(id)
			expired = true
		}
		if expired {
			c.membersChanged(now, g)
		}
		switch g.state {
		case PreparingRebalance:
			c.maybeCompleteJoin(now, g)
		case CompletingRebalance:
			if !now.Before(g.syncDeadline) {
				// The leader never sent its assignment: drop members that have not synced, rebalance.
				for _, id := range append([]string(nil), g.order...) {
					if g.members[id].syncReply == nil {
						g.removeMember(id)
					}
				}
				c.prepareRebalance(now, g)
			}
		}
		if expiry {
			c.expireOffsets(now, g)
		}
	}
}

// expireOffsets applies offsets.retention.minutes: an empty group's offsets expire that long after
// it became empty; a group without members or metadata (standalone commits) by commit time.
func (c *Coordinator) expireOffsets(now time.Time, g *Group) {
	if c.cfg.OffsetsRetention <= 0 || g.state != Empty || (len(g.offsets) == 0 && !g.tombstoneUnsaved) {
		return
	}
	cutoff := now.Add(-c.cfg.OffsetsRetention).UnixMilli()
	var recs []Record
	for topic, ps := range g.offsets {
		for p, o := range ps {
			base := o.CommitTimestamp
			if g.hasMetadata && !g.emptySince.IsZero() {
				base = max(base, g.emptySince.UnixMilli())
			}
			if base <= cutoff {
				recs = append(recs, Record{Key: offsetKey(g.id, topic, p)})
			}
		}
	}
	if len(recs) == 0 && !g.tombstoneUnsaved {
		return
	}
	if len(recs) > 0 {
		if err := c.store.Persist(PartitionFor(g.id, c.cfg.Partitions), recs); err != nil {
			return // the store reported it; the next check expires them again
		}
		for _, r := range recs {
			var k kmsg.OffsetCommitKey
			if k.ReadFrom(r.Key) == nil {
				g.deleteOffset(k.Topic, k.Partition)
			}
		}
	}
	if len(g.offsets) == 0 && len(g.members) == 0 {
		// A failed tombstone is written again at the next check.
		g.tombstoneUnsaved = c.deleteGroup(now, g) != nil
	}
}

// persistGroup writes the group's metadata record.
func (c *Coordinator) persistGroup(now time.Time, g *Group) error {
	rec := Record{Key: groupKey(g.id), Value: g.metadataValue(now.UnixMilli())}
	if err := c.store.Persist(PartitionFor(g.id, c.cfg.Partitions), []Record{rec}); err != nil {
		g.metadataUnsaved = true
		return err
	}
	g.hasMetadata, g.metadataUnsaved = true, false
	return nil
}

func (c *Coordinator) deleteGroup(now time.Time, g *Group) error {
	recs := []Record{{Key: groupKey(g.id)}}
	for topic, ps := range g.offsets {
		for p := range ps {
			recs = append(recs, Record{Key: offsetKey(g.id, topic, p)})
		}
	}
	if err := c.store.Persist(PartitionFor(g.id, c.cfg.Partitions), recs); err != nil {
		return err
	}
	g.state = Dead
	delete(c.groups, g.id)
	return nil
}

// Unload is Kafka's resignation of an offsets partition: every request waiting for a join or
// sync phase is answered NOT_COORDINATOR (the client finds the new coordinator and rejoins
// there), and every group is forgotten. The coordinator must not be used afterwards; its groups
// live on in the log, from which the partition's next leader loads them.
func (c *Coordinator) Unload() {
	for _, g := range c.groups {
		for _, m := range g.members {
			if m.joinReply != nil {
				m.joinReply(JoinResult{Err: kerr.NotCoordinator.Code, Generation: -1, MemberID: m.id})
				m.joinReply = nil
			}
			if m.syncReply != nil {
				m.syncReply(SyncResult{Err: kerr.NotCoordinator.Code})
				m.syncReply = nil
			}
		}
		g.state = Dead
	}
	c.groups = map[string]*Group{}
}

// Groups returns how many groups the coordinator holds (loaded or created since).
func (c *Coordinator) Groups() int { return len(c.groups) }
