package metadata

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// frameVersion is the version of the frame around every record (Kafka's metadata records start with the
// same unsigned-varint frame version, then api key, then record version).
const frameVersion = 1

// recordVersion is the body version written for every record type; decoders accept 0..recordVersion.
const recordVersion = 0

// ErrCorruptRecord is returned (wrapped) by DecodeRecord for bytes that are not a valid record.
var ErrCorruptRecord = errors.New("metadata: corrupt record")

// AppendRecord appends rec's encoding to dst and returns the extended slice. The encoding is a frame
// (uvarint frame version, uvarint api key, uvarint record version) followed by the body in Kafka's
// compact (flexible-version) primitives.
func AppendRecord(dst []byte, rec Record) []byte {
	dst = kbin.AppendUvarint(dst, frameVersion)
	dst = kbin.AppendUvarint(dst, uint32(rec.APIKey()))
	dst = kbin.AppendUvarint(dst, recordVersion)
	switch r := rec.(type) {
	case *RegisterBrokerRecord:
		dst = kbin.AppendInt32(dst, r.BrokerID)
		dst = kbin.AppendUuid(dst, r.IncarnationID)
		dst = kbin.AppendInt64(dst, r.BrokerEpoch)
		dst = kbin.AppendCompactArrayLen(dst, len(r.EndPoints))
		for _, e := range r.EndPoints {
			dst = kbin.AppendCompactString(dst, e.Name)
			dst = kbin.AppendCompactString(dst, e.Host)
			dst = kbin.AppendUint16(dst, e.Port)
			dst = kbin.AppendInt16(dst, e.SecurityProtocol)
		}
		dst = kbin.AppendCompactNullableString(dst, r.Rack)
		dst = kbin.AppendBool(dst, r.Fenced)
		dst = kbin.AppendBool(dst, r.InControlledShutdown)
	case *FenceBrokerRecord:
		dst = kbin.AppendInt32(dst, r.BrokerID)
		dst = kbin.AppendInt64(dst, r.BrokerEpoch)
	case *UnfenceBrokerRecord:
		dst = kbin.AppendInt32(dst, r.BrokerID)
		dst = kbin.AppendInt64(dst, r.BrokerEpoch)
	case *BrokerRegistrationChangeRecord:
		dst = kbin.AppendInt32(dst, r.BrokerID)
		dst = kbin.AppendInt64(dst, r.BrokerEpoch)
		dst = kbin.AppendInt8(dst, r.Fenced)
		dst = kbin.AppendInt8(dst, r.InControlledShutdown)
	case *TopicRecord:
		dst = kbin.AppendCompactString(dst, r.Name)
		dst = kbin.AppendUuid(dst, r.TopicID)
	case *PartitionRecord:
		dst = kbin.AppendInt32(dst, r.PartitionID)
		dst = kbin.AppendUuid(dst, r.TopicID)
		dst = appendInt32s(dst, r.Replicas)
		dst = appendInt32s(dst, r.Isr)
		dst = appendInt32s(dst, r.RemovingReplicas)
		dst = appendInt32s(dst, r.AddingReplicas)
		dst = kbin.AppendInt32(dst, r.Leader)
		dst = kbin.AppendInt8(dst, r.LeaderRecoveryState)
		dst = kbin.AppendInt32(dst, r.LeaderEpoch)
		dst = kbin.AppendInt32(dst, r.PartitionEpoch)
	case *PartitionChangeRecord:
		dst = kbin.AppendInt32(dst, r.PartitionID)
		dst = kbin.AppendUuid(dst, r.TopicID)
		dst = appendInt32s(dst, r.Isr)
		dst = kbin.AppendInt32(dst, r.Leader)
		dst = appendInt32s(dst, r.Replicas)
		dst = appendInt32s(dst, r.RemovingReplicas)
		dst = appendInt32s(dst, r.AddingReplicas)
		dst = kbin.AppendInt8(dst, r.LeaderRecoveryState)
	case *ConfigRecord:
		dst = kbin.AppendInt8(dst, r.ResourceType)
		dst = kbin.AppendCompactString(dst, r.ResourceName)
		dst = kbin.AppendCompactString(dst, r.Name)
		dst = kbin.AppendCompactNullableString(dst, r.Value)
	case *RemoveTopicRecord:
		dst = kbin.AppendUuid(dst, r.TopicID)
	case *ProducerIdsRecord:
		dst = kbin.AppendInt32(dst, r.BrokerID)
		dst = kbin.AppendInt64(dst, r.BrokerEpoch)
		dst = kbin.AppendInt64(dst, r.NextProducerID)
	case *FeatureLevelRecord:
		dst = kbin.AppendCompactString(dst, r.Name)
		dst = kbin.AppendInt16(dst, r.FeatureLevel)
	case *NoOpRecord:
	}
	return dst
}

// EncodeRecord returns rec's encoding in a new slice (see AppendRecord).
func EncodeRecord(rec Record) []byte { return AppendRecord(nil, rec) }

// appendInt32s writes a compact nullable array: nil stays distinguishable from empty, which
// PartitionChangeRecord needs ("unchanged" vs "now empty").
func appendInt32s(dst []byte, vs []int32) []byte {
	dst = kbin.AppendCompactNullableArrayLen(dst, len(vs), vs == nil)
	for _, v := range vs {
		dst = kbin.AppendInt32(dst, v)
	}
	return dst
}

func readInt32s(r *kbin.Reader) []int32 {
	n := r.CompactArrayLen()
	if n < 0 || !r.Ok() {
		return nil
	}
	if int(n)*4 > len(r.Src) {
		r.Span(len(r.Src) + 1) // invalidates the reader
		return nil
	}
	vs := make([]int32, n)
	for i := range vs {
		vs[i] = r.Int32()
	}
	return vs
}

// DecodeRecord decodes one record encoded by AppendRecord; b must hold exactly one record. The returned
// record does not alias b. Unknown api keys and versions newer than this code knows are errors (wrapping
// ErrCorruptRecord): a broker must not silently skip metadata it cannot understand.
func DecodeRecord(b []byte) (Record, error) {
	r := &kbin.Reader{Src: b}
	fv := r.Uvarint()
	key := r.Uvarint()
	ver := r.Uvarint()
	if !r.Ok() {
		return nil, fmt.Errorf("%w: truncated frame", ErrCorruptRecord)
	}
	if fv != frameVersion {
		return nil, fmt.Errorf("%w: frame version %d, want %d", ErrCorruptRecord, fv, frameVersion)
	}
	if ver > recordVersion {
		return nil, fmt.Errorf("%w: api key %d version %d is newer than %d", ErrCorruptRecord, key, ver, recordVersion)
	}
	var rec Record
	switch int64(key) {
	case int64(KeyRegisterBroker):
		x := &RegisterBrokerRecord{BrokerID: r.Int32(), IncarnationID: r.Uuid(), BrokerEpoch: r.Int64()}
		n := r.CompactArrayLen()
		if n > 0 {
			x.EndPoints = make([]EndPoint, 0, n)
		}
		for i := int32(0); i < n && r.Ok(); i++ {
			x.EndPoints = append(x.EndPoints, EndPoint{
				Name: r.CompactString(), Host: r.CompactString(), Port: r.Uint16(), SecurityProtocol: r.Int16(),
			})
		}
		x.Rack = r.CompactNullableString()
		x.Fenced = r.Bool()
		x.InControlledShutdown = r.Bool()
		rec = x
	case int64(KeyFenceBroker):
		rec = &FenceBrokerRecord{BrokerID: r.Int32(), BrokerEpoch: r.Int64()}
	case int64(KeyUnfenceBroker):
		rec = &UnfenceBrokerRecord{BrokerID: r.Int32(), BrokerEpoch: r.Int64()}
	case int64(KeyBrokerRegistrationChange):
		rec = &BrokerRegistrationChangeRecord{BrokerID: r.Int32(), BrokerEpoch: r.Int64(), Fenced: r.Int8(),
			InControlledShutdown: r.Int8()}
	case int64(KeyTopic):
		rec = &TopicRecord{Name: r.CompactString(), TopicID: r.Uuid()}
	case int64(KeyPartition):
		x := &PartitionRecord{PartitionID: r.Int32(), TopicID: r.Uuid()}
		x.Replicas = readInt32s(r)
		x.Isr = readInt32s(r)
		x.RemovingReplicas = readInt32s(r)
		x.AddingReplicas = readInt32s(r)
		x.Leader = r.Int32()
		x.LeaderRecoveryState = r.Int8()
		x.LeaderEpoch = r.Int32()
		x.PartitionEpoch = r.Int32()
		rec = x
	case int64(KeyPartitionChange):
		x := &PartitionChangeRecord{PartitionID: r.Int32(), TopicID: r.Uuid()}
		x.Isr = readInt32s(r)
		x.Leader = r.Int32()
		x.Replicas = readInt32s(r)
		x.RemovingReplicas = readInt32s(r)
		x.AddingReplicas = readInt32s(r)
		x.LeaderRecoveryState = r.Int8()
		rec = x
	case int64(KeyConfig):
		rec = &ConfigRecord{ResourceType: r.Int8(), ResourceName: r.CompactString(), Name: r.CompactString(),
			Value: r.CompactNullableString()}
	case int64(KeyRemoveTopic):
		rec = &RemoveTopicRecord{TopicID: r.Uuid()}
	case int64(KeyProducerIDs):
		rec = &ProducerIdsRecord{BrokerID: r.Int32(), BrokerEpoch: r.Int64(), NextProducerID: r.Int64()}
	case int64(KeyFeatureLevel):
		rec = &FeatureLevelRecord{Name: r.CompactString(), FeatureLevel: r.Int16()}
	case int64(KeyNoOp):
		rec = &NoOpRecord{}
	default:
		return nil, fmt.Errorf("%w: unknown api key %d", ErrCorruptRecord, key)
	}
	if err := r.Complete(); err != nil {
		return nil, fmt.Errorf("%w: api key %d: truncated body", ErrCorruptRecord, key)
	}
	if len(r.Src) != 0 {
		return nil, fmt.Errorf("%w: api key %d: %d trailing bytes", ErrCorruptRecord, key, len(r.Src))
	}
	return rec, nil
}

// EncodeRecords encodes a batch, one byte slice per record: the shape the quorum proposes and
// delivers (quorum.Node.Propose, quorum.Committed.Records).
func EncodeRecords(recs []Record) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = EncodeRecord(r)
	}
	return out
}

// DecodeRecords decodes a batch encoded by EncodeRecords.
func DecodeRecords(raw [][]byte) ([]Record, error) {
	out := make([]Record, len(raw))
	for i, b := range raw {
		r, err := DecodeRecord(b)
		if err != nil {
			return nil, fmt.Errorf("record %d of %d: %w", i, len(raw), err)
		}
		out[i] = r
	}
	return out, nil
}
