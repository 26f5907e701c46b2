package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Store persists coordinator records. Persist appends records (key, value; a nil value is a
// tombstone) to partition p of __consumer_offsets and returns once they are durable as the log
// defines it. It is called from the goroutine that drives the Coordinator.
type Store interface {
	Persist(partition int32, records []Record) error
}

// ErrNotCoordinator is what a Store's error wraps when this broker no longer leads the offsets
// partition (or leads it in a newer leader epoch than the coordinator was loaded in): the
// coordinator answers NOT_COORDINATOR, and the client looks for the new coordinator.
var ErrNotCoordinator = errors.New("group: not the coordinator of this group's offsets partition")

// persistErrCode is Kafka's answer to a failed group write (GroupMetadataManager's mapping):
// NOT_COORDINATOR once leadership moved, COORDINATOR_NOT_AVAILABLE otherwise (too few in-sync
// replicas, a timeout, a disk error).
func persistErrCode(err error) int16 {
	if errors.Is(err, ErrNotCoordinator) {
		return kerr.NotCoordinator.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// Record is one __consumer_offsets record.
type Record struct {
	Key, Value []byte
}

// PartitionFor is Kafka's mapping of a group to its __consumer_offsets partition:
// abs(javaStringHashCode(group)) % partitions.
func PartitionFor(group string, partitions int32) int32 {
	var h int32
	for _, r := range group { // Java hashes UTF-16 code units
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3ff))
			continue
		}
		h = 31*h + int32(r)
	}
	return int32(uint32(h)&0x7fffffff) % partitions
}

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = 1
	k.Group, k.Topic, k.Partition = group, topic, partition
	return k.AppendTo(nil)
}

func offsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTimestamp
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = 2
	k.Group = group
	return k.AppendTo(nil)
}

func (g *Group) metadataValue(now int64) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = &g.protocol
	}
	if g.leader != "" {
		v.Leader = &g.leader
	}
	v.CurrentStateTimestamp = now
	for _, id := range g.order {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// Replay applies one record read back from __consumer_offsets (in log order) when loading.
func (c *Coordinator) Replay(key, value []byte) error {
	if len(key) < 2 {
		return fmt.Errorf("group: record key of %d bytes", len(key))
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("group: offset key: %w", err)
		}
		g := c.groups[k.Group]
		if value == nil {
			if g != nil {
				g.deleteOffset(k.Topic, k.Partition)
				c.dropIfGone(g)
			}
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("group: offset value: %w", err)
		}
		if g == nil {
			g = c.newGroup(k.Group)
		}
		g.setOffset(k.Topic, k.Partition, Offset{Offset: v.Offset, LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata, CommitTimestamp: v.CommitTimestamp})
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return fmt.Errorf("group: group key: %w", err)
		}
		g := c.groups[k.Group]
		if value == nil {
			if g != nil {
				g.clearMembers()
				g.protocolType, g.protocol, g.generation = "", "", 0
				g.hasMetadata = false
				c.dropIfGone(g)
			}
			return nil
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("group: group value: %w", err)
		}
		if g == nil {
			g = c.newGroup(k.Group)
		}
		g.clearMembers()
		g.hasMetadata = true
		g.protocolType, g.generation = v.ProtocolType, v.Generation
		g.protocol, g.leader = "", ""
		if v.Protocol != nil {
			g.protocol = *v.Protocol
		}
		if v.Leader != nil {
			g.leader = *v.Leader
		}
		for _, vm := range v.Members {
			m := &member{
				id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
				sessionTimeout:   msDuration(vm.SessionTimeoutMillis),
				rebalanceTimeout: msDuration(vm.RebalanceTimeoutMillis),
				protocolType:     v.ProtocolType,
				protocols:        []protocol{{name: g.protocol, metadata: vm.Subscription}},
				assignment:       vm.Assignment,
			}
			g.addMember(m)
		}
		if len(g.order) == 0 {
			g.state = Empty
		} else {
			g.state = Stable
		}
		g.loaded = true
	default:
		// Newer record types (transactions, KIP-848 consumer groups) are not ours: skip.
	}
	return nil
}

// FinishLoad starts the session timers of members loaded from the log: they must heartbeat (or
// rejoin) within their session timeout, as after a coordinator failover in Kafka.
func (c *Coordinator) FinishLoad(now time.Time) {
	for _, g := range c.groups {
		if g.loaded {
			for _, m := range g.members {
				m.heartbeatDeadline = now.Add(m.sessionTimeout)
			}
			if g.state == Empty {
				g.emptySince = now
			}
			g.loaded = false
		}
	}
}
