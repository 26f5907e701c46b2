package mirror

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errShort reports an internal-topic record too short for its schema.
var errShort = errors.New("mirror: record too short for its schema")

// OffsetSync maps an offset of a source partition to the offset of the same record on the target.
type OffsetSync struct {
	Topic            string // the source topic
	Partition        int32
	UpstreamOffset   int64
	DownstreamOffset int64
}

// Checkpoint is a consumer group's committed offset translated to the target.
type Checkpoint struct {
	Group            string
	Topic            string // the remote topic on the target
	Partition        int32
	UpstreamOffset   int64
	DownstreamOffset int64
	Metadata         string
}

// Heartbeat is one heartbeat of a flow.
type Heartbeat struct {
	SourceClusterAlias string
	TargetClusterAlias string
	TimestampMs        int64
}

type writer struct{ b []byte }

func (w *writer) str(s string) {
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) i16(v int16) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) i32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) i64(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) str() string {
	b := r.take(2)
	if b == nil {
		return ""
	}
	return string(r.take(int(int16(binary.BigEndian.Uint16(b)))))
}

func (r *reader) i16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) i32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) i64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// Key encodes the offset sync's record key.
func (s OffsetSync) Key() []byte {
	var w writer
	w.str(s.Topic)
	w.i32(s.Partition)
	return w.b
}

// Value encodes the offset sync's record value.
func (s OffsetSync) Value() []byte {
	var w writer
	w.i64(s.UpstreamOffset)
	w.i64(s.DownstreamOffset)
	return w.b
}

// DecodeOffsetSync decodes an offset-syncs record.
func DecodeOffsetSync(key, value []byte) (OffsetSync, error) {
	k, v := reader{b: key}, reader{b: value}
	s := OffsetSync{Topic: k.str(), Partition: k.i32(), UpstreamOffset: v.i64(), DownstreamOffset: v.i64()}
	if err := errors.Join(k.err, v.err); err != nil {
		return OffsetSync{}, fmt.Errorf("offset sync: %w", err)
	}
	return s, nil
}

// Key encodes the checkpoint's record key.
func (c Checkpoint) Key() []byte {
	var w writer
	w.str(c.Group)
	w.str(c.Topic)
	w.i32(c.Partition)
	return w.b
}

// Value encodes the checkpoint's record value (version 0).
func (c Checkpoint) Value() []byte {
	var w writer
	w.i16(0)
	w.i64(c.UpstreamOffset)
	w.i64(c.DownstreamOffset)
	w.str(c.Metadata)
	return w.b
}

// DecodeCheckpoint decodes a checkpoints record.
func DecodeCheckpoint(key, value []byte) (Checkpoint, error) {
	k, v := reader{b: key}, reader{b: value}
	c := Checkpoint{Group: k.str(), Topic: k.str(), Partition: k.i32()}
	if version := v.i16(); v.err == nil && version != 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint: unsupported version %d", version)
	}
	c.UpstreamOffset, c.DownstreamOffset, c.Metadata = v.i64(), v.i64(), v.str()
	if err := errors.Join(k.err, v.err); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return c, nil
}

// Key encodes the heartbeat's record key.
func (h Heartbeat) Key() []byte {
	var w writer
	w.str(h.SourceClusterAlias)
	w.str(h.TargetClusterAlias)
	return w.b
}

// Value encodes the heartbeat's record value (version 0).
func (h Heartbeat) Value() []byte {
	var w writer
	w.i16(0)
	w.i64(h.TimestampMs)
	return w.b
}

// DecodeHeartbeat decodes a heartbeats record.
func DecodeHeartbeat(key, value []byte) (Heartbeat, error) {
	k, v := reader{b: key}, reader{b: value}
	h := Heartbeat{SourceClusterAlias: k.str(), TargetClusterAlias: k.str()}
	if version := v.i16(); v.err == nil && version != 0 {
		return Heartbeat{}, fmt.Errorf("heartbeat: unsupported version %d", version)
	}
	h.TimestampMs = v.i64()
	if err := errors.Join(k.err, v.err); err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat: %w", err)
	}
	return h, nil
}
