package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitPartition is one partition of an OffsetCommit; Err is filled in.
type CommitPartition struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
	Err         int16
}

// Commit handles OffsetCommit: it validates the member and generation (generation -1 with no member
// is a standalone commit, allowed while the group has no members), persists the offsets and fills
// each partition's Err.
func (c *Coordinator) Commit(now time.Time, group, memberID string, instanceID *string, generation int32, parts []CommitPartition) {
	setAll := func(code int16) {
		for i := range parts {
			parts[i].Err = code
		}
	}
	if group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return
	}
	g := c.groups[group]
	if g == nil {
		if generation >= 0 || memberID != "" {
			// Kafka: a member of a group the coordinator does not know.
			setAll(kerr.IllegalGeneration.Code)
			return
		}
		g = c.newGroup(group)
	}
	switch {
	case generation < 0 && g.state == Empty:
		// Standalone (simple consumer / admin) commit.
	case g.state == Dead:
		setAll(kerr.CoordinatorNotAvailable.Code)
		return
	case g.state == CompletingRebalance:
		setAll(kerr.RebalanceInProgress.Code)
		return
	default:
		if _, err := g.checkMember(memberID, instanceID, generation); err != nil {
			setAll(err.Code)
			return
		}
		if m := g.members[memberID]; m != nil {
			m.heartbeatDeadline = now.Add(m.sessionTimeout)
		}
	}
	var recs []Record
	var idx []int
	for i := range parts {
		p := &parts[i]
		md := ""
		if p.Metadata != nil {
			md = *p.Metadata
		}
		switch {
		case c.cfg.MaxMetadataBytes > 0 && len(md) > c.cfg.MaxMetadataBytes:
			p.Err = kerr.OffsetMetadataTooLarge.Code
			continue
		case c.cfg.PartitionExists != nil && !c.cfg.PartitionExists(p.Topic, p.Partition):
			p.Err = kerr.UnknownTopicOrPartition.Code
			continue
		}
		o := Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: md, CommitTimestamp: now.UnixMilli()}
		recs = append(recs, Record{Key: offsetKey(group, p.Topic, p.Partition), Value: offsetValue(o)})
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		c.dropIfGone(g)
		return
	}
	if err := c.store.Persist(PartitionFor(group, c.cfg.Partitions), recs); err != nil {
		code := persistErrCode(err)
		for _, i := range idx {
			parts[i].Err = code
		}
		c.dropIfGone(g)
		return
	}
	for _, i := range idx {
		p := &parts[i]
		md := ""
		if p.Metadata != nil {
			md = *p.Metadata
		}
		g.setOffset(p.Topic, p.Partition, Offset{Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: md, CommitTimestamp: now.UnixMilli()})
	}
}

// FetchedOffset is one partition's committed offset (Offset -1 if none).
type FetchedOffset struct {
	Topic     string
	Partition int32
	Offset
}

// FetchOffsets returns a group's committed offsets: for the given topics and partitions, or all of
// them when topics is nil.
func (c *Coordinator) FetchOffsets(group string, topics []kmsg.OffsetFetchRequestTopic) []FetchedOffset {
	g := c.groups[group]
	var out []FetchedOffset
	if topics == nil {
		if g == nil {
			return nil
		}
		for topic, ps := range g.offsets {
			for p, o := range ps {
				out = append(out, FetchedOffset{Topic: topic, Partition: p, Offset: o})
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Topic != out[j].Topic {
				return out[i].Topic < out[j].Topic
			}
			return out[i].Partition < out[j].Partition
		})
		return out
	}
	for _, t := range topics {
		for _, p := range t.Partitions {
			fo := FetchedOffset{Topic: t.Topic, Partition: p, Offset: Offset{Offset: -1, LeaderEpoch: -1}}
			if g != nil {
				if o, ok := g.offsets[t.Topic][p]; ok {
					fo.Offset = o
				}
			}
			out = append(out, fo)
		}
	}
	return out
}

// ListedGroup is a ListGroups entry.
type ListedGroup struct {
	Group, ProtocolType string
	State               State
}

// List returns the groups, filtered by state and protocol type when the filters are non-empty.
func (c *Coordinator) List(states []State, types []string) []ListedGroup {
	var out []ListedGroup
	for _, g := range c.groups {
		if g.state == Dead {
			continue
		}
		if len(states) > 0 && !containsState(states, g.state) {
			continue
		}
		if len(types) > 0 {
			ok := false
			for _, t := range types {
				if equalFold(t, "classic") || equalFold(t, g.protocolType) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		out = append(out, ListedGroup{Group: g.id, ProtocolType: g.protocolType, State: g.state})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

func containsState(ss []State, s State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// DescribedMember is a DescribeGroups member.
type DescribedMember struct {
	MemberID, ClientID, ClientHost string
	InstanceID                     *string
	Metadata, Assignment           []byte
}

// DescribedGroup is a DescribeGroups entry; Found is false for an unknown group.
type DescribedGroup struct {
	Found                  bool
	State                  State
	ProtocolType, Protocol string
	Members                []DescribedMember
}

// Describe returns a group's state and members.
func (c *Coordinator) Describe(group string) DescribedGroup {
	g := c.groups[group]
	if g == nil {
		return DescribedGroup{State: Dead}
	}
	d := DescribedGroup{Found: true, State: g.state, ProtocolType: g.protocolType, Protocol: g.protocol}
	for _, id := range g.order {
		m := g.members[id]
		dm := DescribedMember{MemberID: m.id, ClientID: m.clientID, ClientHost: m.clientHost, InstanceID: m.instanceID}
		if g.state == Stable || g.state == CompletingRebalance {
			dm.Metadata = m.metadataFor(g.protocol)
		}
		if g.state == Stable {
			dm.Assignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// DeleteGroup removes an empty group and its offsets; it returns the error code.
func (c *Coordinator) DeleteGroup(now time.Time, group string) int16 {
	if group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[group]
	switch {
	case g == nil || g.state == Dead:
		return kerr.GroupIDNotFound.Code
	case g.state != Empty || len(g.members) > 0:
		return kerr.NonEmptyGroup.Code
	}
	if err := c.deleteGroup(now, g); err != nil {
		return persistErrCode(err)
	}
	return 0
}

// DeletePartition is one partition of an OffsetDelete; Err is filled in.
type DeletePartition struct {
	Topic     string
	Partition int32
	Err       int16
}

// DeleteOffsets handles OffsetDelete: offsets of topics the group's members are subscribed to
// cannot be deleted.
func (c *Coordinator) DeleteOffsets(now time.Time, group string, parts []DeletePartition) int16 {
	if group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[group]
	if g == nil || g.state == Dead {
		return kerr.GroupIDNotFound.Code
	}
	if g.protocolType != "" && g.protocolType != "consumer" && len(g.members) > 0 {
		return kerr.NonEmptyGroup.Code
	}
	subscribed := g.subscribedTopics()
	var recs []Record
	var idx []int
	for i := range parts {
		p := &parts[i]
		if subscribed[p.Topic] {
			p.Err = kerr.GroupSubscribedToTopic.Code
			continue
		}
		if _, ok := g.offsets[p.Topic][p.Partition]; ok {
			recs = append(recs, Record{Key: offsetKey(group, p.Topic, p.Partition)})
			idx = append(idx, i)
		}
	}
	if len(recs) > 0 {
		if err := c.store.Persist(PartitionFor(group, c.cfg.Partitions), recs); err != nil {
			return persistErrCode(err)
		}
		for _, i := range idx {
			g.deleteOffset(parts[i].Topic, parts[i].Partition)
		}
	}
	c.dropIfGone(g)
	return 0
}

// DeleteTopicOffsets removes every group's committed offsets of a deleted topic, writing their
// tombstones, as Kafka's coordinator does when partitions are deleted: a topic re-created under
// the same name starts without stale offsets. It returns how many offsets it removed.
func (c *Coordinator) DeleteTopicOffsets(topic string) int {
	removed := 0
	for _, g := range c.groups {
		ps := g.offsets[topic]
		if len(ps) == 0 {
			continue
		}
		recs := make([]Record, 0, len(ps))
		for p := range ps {
			recs = append(recs, Record{Key: offsetKey(g.id, topic, p)})
		}
		// NB: if the tombstones cannot be written the offsets stay, in memory and on disk alike.
		if err := c.store.Persist(PartitionFor(g.id, c.cfg.Partitions), recs); err != nil {
			continue
		}
		removed += len(ps)
		delete(g.offsets, topic)
		c.dropIfGone(g)
	}
	return removed
}

// decodeSubscription reads the topics of a consumer protocol subscription (nil if it does not parse).
func decodeSubscription(b []byte) []string {
	var m kmsg.ConsumerMemberMetadata
	if len(b) == 0 || m.ReadFrom(b) != nil {
		return nil
	}
	return m.Topics
}

// SessionCheckInterval is how often the driver should call Tick.
const SessionCheckInterval = 50 * time.Millisecond
