package metadata

import (
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/twmb/franz-go/pkg/kbin"
)

// Records returns records that rebuild img from Empty: features, brokers, topics with their partitions,
// configs, the producer-ID counter. This is the content of a metadata snapshot (KIP-630's checkpoint);
// NewDelta(Empty()) replaying them and Apply(img.Offset(), img.Epoch()) yields an image equal to img.
func (img *Image) Records() []Record {
	var recs []Record
	names := make([]string, 0, len(img.features))
	for n := range img.features {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		recs = append(recs, &FeatureLevelRecord{Name: n, FeatureLevel: img.features[n]})
	}
	for _, b := range img.Brokers() {
		recs = append(recs, &RegisterBrokerRecord{
			BrokerID: b.ID, IncarnationID: b.IncarnationID, BrokerEpoch: b.Epoch, EndPoints: b.EndPoints,
			Rack: b.Rack, Fenced: b.Fenced, InControlledShutdown: b.InControlledShutdown,
		})
	}
	for _, t := range img.Topics() {
		recs = append(recs, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for _, p := range t.Partitions() {
			recs = append(recs, &PartitionRecord{
				PartitionID: p.ID, TopicID: t.ID, Replicas: p.Replicas, Isr: p.Isr,
				RemovingReplicas: p.RemovingReplicas, AddingReplicas: p.AddingReplicas, Leader: p.Leader,
				LeaderRecoveryState: p.LeaderRecoveryState, LeaderEpoch: p.LeaderEpoch,
				PartitionEpoch: p.PartitionEpoch,
			})
		}
	}
	for _, res := range img.ConfigResources() {
		m := img.configs[res]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := m[k]
			recs = append(recs, &ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: k, Value: &v})
		}
	}
	if img.nextProducerID > 0 {
		recs = append(recs, &ProducerIdsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: img.nextProducerID})
	}
	return recs
}

// snapshotVersion is the version of the snapshot encoding written by AppendSnapshot.
const snapshotVersion = 0

// ErrCorruptSnapshot is returned (wrapped) by ReadSnapshot for bytes that are not a valid snapshot.
var ErrCorruptSnapshot = errors.New("metadata: corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendSnapshot appends the snapshot of img to dst: uvarint version, int64 offset, int32 epoch, uvarint
// record count, each record as uvarint length + AppendRecord bytes, then a CRC-32C of all that.
func AppendSnapshot(dst []byte, img *Image) []byte {
	start := len(dst)
	recs := img.Records()
	dst = kbin.AppendUvarint(dst, snapshotVersion)
	dst = kbin.AppendInt64(dst, img.offset)
	dst = kbin.AppendInt32(dst, img.epoch)
	dst = kbin.AppendUvarint(dst, uint32(len(recs)))
	var buf []byte
	for _, r := range recs {
		buf = AppendRecord(buf[:0], r)
		dst = kbin.AppendUvarint(dst, uint32(len(buf)))
		dst = append(dst, buf...)
	}
	return kbin.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// ReadSnapshot rebuilds the image a snapshot written by AppendSnapshot describes.
func ReadSnapshot(b []byte) (*Image, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(b))
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	want := (&kbin.Reader{Src: sum}).Uint32()
	if got := crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("%w: CRC %08x, want %08x", ErrCorruptSnapshot, got, want)
	}
	r := &kbin.Reader{Src: body}
	ver := r.Uvarint()
	offset := r.Int64()
	epoch := r.Int32()
	n := r.Uvarint()
	if !r.Ok() {
		return nil, fmt.Errorf("%w: truncated header", ErrCorruptSnapshot)
	}
	if ver != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorruptSnapshot, ver, snapshotVersion)
	}
	d := NewDelta(Empty())
	for i := uint32(0); i < n; i++ {
		l := r.Uvarint()
		raw := r.Span(int(l))
		if !r.Ok() {
			return nil, fmt.Errorf("%w: record %d of %d truncated", ErrCorruptSnapshot, i, n)
		}
		rec, err := DecodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrCorruptSnapshot, i, err)
		}
		if err := d.Replay(rec); err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrCorruptSnapshot, i, err)
		}
	}
	if len(r.Src) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptSnapshot, len(r.Src))
	}
	img, _ := d.Apply(offset, epoch)
	return img, nil
}
