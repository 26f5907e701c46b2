package metadata

import (
	"encoding/base64"
	"fmt"
)

// Uuid is a Kafka UUID (topic IDs, incarnation IDs, cluster IDs): 16 bytes, the same type as kmsg's
// [16]byte fields.
type Uuid [16]byte

// String renders the UUID the way Kafka prints it: URL-safe base64 without padding.
func (u Uuid) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// IsZero reports whether u is the zero UUID (Kafka's Uuid.ZERO_UUID, "no ID").
func (u Uuid) IsZero() bool { return u == Uuid{} }

// Record API keys, Kafka's metadata record numbering (metadata/src/main/resources/common/metadata).
const (
	KeyRegisterBroker           int16 = 0
	KeyTopic                    int16 = 2
	KeyPartition                int16 = 3
	KeyConfig                   int16 = 4
	KeyPartitionChange          int16 = 5
	KeyFenceBroker              int16 = 7
	KeyUnfenceBroker            int16 = 8
	KeyRemoveTopic              int16 = 9
	KeyFeatureLevel             int16 = 12
	KeyProducerIDs              int16 = 15
	KeyBrokerRegistrationChange int16 = 17
	KeyNoOp                     int16 = 20
)

// Special values carried in records, as Kafka defines them.
const (
	// NoLeader is the Leader of a partition with no leader (offline).
	NoLeader int32 = -1
	// NoLeaderChange in PartitionChangeRecord.Leader leaves the leader (and leader epoch) unchanged.
	NoLeaderChange int32 = -2
	// LeaderRecoveryRecovered is the normal LeaderRecoveryState.
	LeaderRecoveryRecovered int8 = 0
	// LeaderRecoveryRecovering marks a partition whose leader came from an unclean election and has not
	// yet reported (AlterPartition) that it recovered.
	LeaderRecoveryRecovering int8 = 1
	// NoLeaderRecoveryChange in PartitionChangeRecord.LeaderRecoveryState leaves it unchanged.
	NoLeaderRecoveryChange int8 = -1
)

// Config resource types, Kafka's (kmsg.ConfigResourceType values).
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
)

// Record is one metadata record. The concrete types are the pointer types defined in this package
// (*TopicRecord, ...); a type switch over them is how readers dispatch.
type Record interface {
	// APIKey is the record's type number (Key* constants), written in the frame.
	APIKey() int16
	// String is a short human-readable rendering used by tests and logs.
	String() string
}

// EndPoint is a listener a broker registered: name (e.g. PLAINTEXT), host, port, security protocol.
type EndPoint struct {
	Name             string
	Host             string
	Port             uint16
	SecurityProtocol int16
}

// RegisterBrokerRecord registers (or re-registers, with a new incarnation) a broker.
type RegisterBrokerRecord struct {
	BrokerID             int32
	IncarnationID        Uuid
	BrokerEpoch          int64
	EndPoints            []EndPoint
	Rack                 *string
	Fenced               bool
	InControlledShutdown bool
}

// FenceBrokerRecord fences a broker (it may lead nothing and is not in any ISR afterwards).
type FenceBrokerRecord struct {
	BrokerID    int32
	BrokerEpoch int64
}

// UnfenceBrokerRecord unfences a broker that caught up with the metadata log.
type UnfenceBrokerRecord struct {
	BrokerID    int32
	BrokerEpoch int64
}

// BrokerRegistrationChangeRecord changes a registered broker's state. Fenced: 1 fenced, -1 unfenced, 0 no
// change. InControlledShutdown: 1 entered controlled shutdown, 0 no change.
type BrokerRegistrationChangeRecord struct {
	BrokerID             int32
	BrokerEpoch          int64
	Fenced               int8
	InControlledShutdown int8
}

// TopicRecord creates a topic. Its partitions follow as PartitionRecords.
type TopicRecord struct {
	Name    string
	TopicID Uuid
}

// PartitionRecord creates (or replaces, whole) a partition's registration.
type PartitionRecord struct {
	PartitionID         int32
	TopicID             Uuid
	Replicas            []int32
	Isr                 []int32
	RemovingReplicas    []int32
	AddingReplicas      []int32
	Leader              int32
	LeaderRecoveryState int8
	LeaderEpoch         int32
	PartitionEpoch      int32
}

// PartitionChangeRecord changes a partition. Nil slices and the NoLeaderChange / NoLeaderRecoveryChange
// values mean "unchanged". Applying it always bumps the partition epoch; a Leader other than
// NoLeaderChange (even the same broker) also bumps the leader epoch, which is how the controller fences
// a leader without moving leadership.
type PartitionChangeRecord struct {
	PartitionID         int32
	TopicID             Uuid
	Isr                 []int32
	Leader              int32
	Replicas            []int32
	RemovingReplicas    []int32
	AddingReplicas      []int32
	LeaderRecoveryState int8
}

// ConfigRecord sets (Value non-nil) or deletes (Value nil) one config key of a resource. A topic
// resource's name is the topic name; a broker's is its ID in decimal, "" for the cluster default.
type ConfigRecord struct {
	ResourceType int8
	ResourceName string
	Name         string
	Value        *string
}

// RemoveTopicRecord deletes a topic, its partitions and its configs.
type RemoveTopicRecord struct {
	TopicID Uuid
}

// ProducerIdsRecord hands the block ending before NextProducerID to BrokerID.
type ProducerIdsRecord struct {
	BrokerID       int32
	BrokerEpoch    int64
	NextProducerID int64
}

// FeatureLevelRecord sets a feature's finalized level (metadata.version and friends); 0 removes it.
type FeatureLevelRecord struct {
	Name         string
	FeatureLevel int16
}

// NoOpRecord changes nothing; the controller writes it to show liveness and to advance the log.
type NoOpRecord struct{}

// APIKey implements Record.
func (*RegisterBrokerRecord) APIKey() int16 { return KeyRegisterBroker }

// APIKey implements Record.
func (*FenceBrokerRecord) APIKey() int16 { return KeyFenceBroker }

// APIKey implements Record.
func (*UnfenceBrokerRecord) APIKey() int16 { return KeyUnfenceBroker }

// APIKey implements Record.
func (*BrokerRegistrationChangeRecord) APIKey() int16 { return KeyBrokerRegistrationChange }

// APIKey implements Record.
func (*TopicRecord) APIKey() int16 { return KeyTopic }

// APIKey implements Record.
func (*PartitionRecord) APIKey() int16 { return KeyPartition }

// APIKey implements Record.
func (*PartitionChangeRecord) APIKey() int16 { return KeyPartitionChange }

// APIKey implements Record.
func (*ConfigRecord) APIKey() int16 { return KeyConfig }

// APIKey implements Record.
func (*RemoveTopicRecord) APIKey() int16 { return KeyRemoveTopic }

// APIKey implements Record.
func (*ProducerIdsRecord) APIKey() int16 { return KeyProducerIDs }

// APIKey implements Record.
func (*FeatureLevelRecord) APIKey() int16 { return KeyFeatureLevel }

// APIKey implements Record.
func (*NoOpRecord) APIKey() int16 { return KeyNoOp }

func (r *RegisterBrokerRecord) String() string {
	rack := "<nil>"
	if r.Rack != nil {
		rack = *r.Rack
	}
	eps := ""
	for i, e := range r.EndPoints {
		if i > 0 {
			eps += ","
		}
		eps += fmt.Sprintf("%s://%s:%d", e.Name, e.Host, e.Port)
	}
	return fmt.Sprintf("RegisterBroker id=%d incarnation=%s epoch=%d endpoints=[%s] rack=%s fenced=%t shutdown=%t",
		r.BrokerID, r.IncarnationID, r.BrokerEpoch, eps, rack, r.Fenced, r.InControlledShutdown)
}

func (r *FenceBrokerRecord) String() string {
	return fmt.Sprintf("FenceBroker id=%d epoch=%d", r.BrokerID, r.BrokerEpoch)
}

func (r *UnfenceBrokerRecord) String() string {
	return fmt.Sprintf("UnfenceBroker id=%d epoch=%d", r.BrokerID, r.BrokerEpoch)
}

func (r *BrokerRegistrationChangeRecord) String() string {
	return fmt.Sprintf("BrokerRegistrationChange id=%d epoch=%d fenced=%d shutdown=%d",
		r.BrokerID, r.BrokerEpoch, r.Fenced, r.InControlledShutdown)
}

func (r *TopicRecord) String() string { return fmt.Sprintf("Topic name=%s id=%s", r.Name, r.TopicID) }

func (r *PartitionRecord) String() string {
	return fmt.Sprintf("Partition topic=%s p=%d replicas=%v isr=%v adding=%v removing=%v leader=%d epoch=%d partitionEpoch=%d recovery=%d",
		r.TopicID, r.PartitionID, r.Replicas, r.Isr, r.AddingReplicas, r.RemovingReplicas, r.Leader,
		r.LeaderEpoch, r.PartitionEpoch, r.LeaderRecoveryState)
}

func (r *PartitionChangeRecord) String() string {
	s := fmt.Sprintf("PartitionChange topic=%s p=%d", r.TopicID, r.PartitionID)
	if r.Leader != NoLeaderChange {
		s += fmt.Sprintf(" leader=%d", r.Leader)
	}
	if r.Isr != nil {
		s += fmt.Sprintf(" isr=%v", r.Isr)
	}
	if r.Replicas != nil {
		s += fmt.Sprintf(" replicas=%v", r.Replicas)
	}
	if r.AddingReplicas != nil {
		s += fmt.Sprintf(" adding=%v", r.AddingReplicas)
	}
	if r.RemovingReplicas != nil {
		s += fmt.Sprintf(" removing=%v", r.RemovingReplicas)
	}
	if r.LeaderRecoveryState != NoLeaderRecoveryChange {
		s += fmt.Sprintf(" recovery=%d", r.LeaderRecoveryState)
	}
	return s
}

func (r *ConfigRecord) String() string {
	v := "<delete>"
	if r.Value != nil {
		v = *r.Value
	}
	return fmt.Sprintf("Config type=%d name=%q %s=%s", r.ResourceType, r.ResourceName, r.Name, v)
}

func (r *RemoveTopicRecord) String() string { return fmt.Sprintf("RemoveTopic id=%s", r.TopicID) }

func (r *ProducerIdsRecord) String() string {
	return fmt.Sprintf("ProducerIds broker=%d epoch=%d next=%d", r.BrokerID, r.BrokerEpoch, r.NextProducerID)
}

func (r *FeatureLevelRecord) String() string {
	return fmt.Sprintf("FeatureLevel %s=%d", r.Name, r.FeatureLevel)
}

func (*NoOpRecord) String() string { return "NoOp" }
