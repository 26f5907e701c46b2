package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	snapshotSuffix = ".snapshot"
	// cachedBatches is how many recent batches per producer are kept for duplicate detection (Kafka's 5).
	cachedBatches = 5
	// snapshotsKept is how many producer snapshots stay on disk.
	snapshotsKept = 2
)

// batchMeta is a recent batch of one producer.
type batchMeta struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

// producerEntry is the idempotence state of one producer id.
type producerEntry struct {
	epoch   int16
	batches []batchMeta // oldest first, at most cachedBatches
}

func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.batches = slices.Clone(e.batches)
	return &c
}

func (e *producerEntry) add(b batchMeta) {
	if len(e.batches) == cachedBatches {
		e.batches = append(e.batches[:0], e.batches[1:]...)
	}
	e.batches = append(e.batches, b)
}

// producerState is Kafka's ProducerStateManager without transactions or expiry. Guarded by
// Log.appendMu.
type producerState struct {
	producers map[int64]*producerEntry
}

func newProducerState() *producerState {
	return &producerState{producers: map[int64]*producerEntry{}}
}

// producerCheck validates the idempotent batches of one Append against the state, staging the
// updates in an overlay that commit applies once the batches are in the log.
type producerCheck struct {
	state   *producerState
	overlay map[int64]*producerEntry
}

func (p *producerState) begin() *producerCheck {
	return &producerCheck{state: p}
}

func (c *producerCheck) entry(pid int64) *producerEntry {
	if e, ok := c.overlay[pid]; ok {
		return e
	}
	return c.state.producers[pid]
}

// check validates batch h. If the batch is a retry of one already in the log it returns that
// batch's metadata and dup=true.
func (c *producerCheck) check(h BatchHeader) (orig batchMeta, dup bool, err error) {
	if h.ProducerID < 0 || h.IsControl() {
		return batchMeta{}, false, nil
	}
	first, last := h.FirstSequence, h.LastSequence()
	e := c.entry(h.ProducerID)
	switch {
	case e == nil:
		if first != 0 {
			return batchMeta{}, false, fmt.Errorf("%w: producer %d is unknown and sends sequence %d", ErrOutOfOrderSequence, h.ProducerID, first)
		}
	case h.ProducerEpoch < e.epoch:
		return batchMeta{}, false, fmt.Errorf("%w: producer %d epoch %d is older than %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if first != 0 {
			return batchMeta{}, false, fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first)
		}
	default:
		for _, b := range e.batches {
			if b.firstSeq == first && b.lastSeq == last {
				return b, true, nil
			}
		}
		if n := len(e.batches); n > 0 && first != incrementSequence(e.batches[n-1].lastSeq, 1) {
			return batchMeta{}, false, fmt.Errorf("%w: producer %d sends sequence %d after %d", ErrOutOfOrderSequence, h.ProducerID, first, e.batches[n-1].lastSeq)
		}
	}
	return batchMeta{}, false, nil
}

// stage records batch h, appended at baseOffset, in the overlay.
func (c *producerCheck) stage(h BatchHeader) {
	if h.ProducerID < 0 || h.IsControl() {
		return
	}
	if c.overlay == nil {
		c.overlay = map[int64]*producerEntry{}
	}
	e, ok := c.overlay[h.ProducerID]
	if !ok {
		if cur := c.state.producers[h.ProducerID]; cur != nil {
			e = cur.clone()
		} else {
			e = &producerEntry{epoch: h.ProducerEpoch}
		}
		c.overlay[h.ProducerID] = e
	}
	applyBatch(e, h)
}

func (c *producerCheck) commit() {
	maps.Copy(c.state.producers, c.overlay)
}

// applyBatch updates a producer entry with an appended batch, without validation (recovery).
func applyBatch(e *producerEntry, h BatchHeader) {
	if h.ProducerEpoch > e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	e.add(batchMeta{h.FirstSequence, h.LastSequence(), h.BaseOffset, h.LastOffset()})
}

// replay applies a batch read back from the log.
func (p *producerState) replay(h BatchHeader) {
	if h.ProducerID < 0 || h.IsControl() {
		return
	}
	e := p.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = e
	}
	applyBatch(e, h)
}

// Snapshot layout: "GPS1", count uint32, then per producer: id int64, epoch int16, n uint8,
// n × (firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64); then CRC-32C of
// everything before it.

var snapshotMagic = []byte("GPS1")

func (p *producerState) encode() []byte {
	ids := slices.Sorted(maps.Keys(p.producers))
	b := append([]byte(nil), snapshotMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		e := p.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOffset))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOffset))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadSnapshot = errors.New("malformed producer snapshot")

func decodeProducerSnapshot(b []byte) (*producerState, error) {
	if len(b) < len(snapshotMagic)+8 || string(b[:4]) != string(snapshotMagic) {
		return nil, errBadSnapshot
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, errBadSnapshot
	}
	r := body[4:]
	n := binary.BigEndian.Uint32(r)
	r = r[4:]
	p := newProducerState()
	for i := uint32(0); i < n; i++ {
		if len(r) < 11 {
			return nil, errBadSnapshot
		}
		id := int64(binary.BigEndian.Uint64(r))
		e := &producerEntry{epoch: int16(binary.BigEndian.Uint16(r[8:]))}
		k := int(r[10])
		r = r[11:]
		if k > cachedBatches || len(r) < k*24 {
			return nil, errBadSnapshot
		}
		for j := 0; j < k; j++ {
			e.batches = append(e.batches, batchMeta{
				firstSeq:    int32(binary.BigEndian.Uint32(r)),
				lastSeq:     int32(binary.BigEndian.Uint32(r[4:])),
				firstOffset: int64(binary.BigEndian.Uint64(r[8:])),
				lastOffset:  int64(binary.BigEndian.Uint64(r[16:])),
			})
			r = r[24:]
		}
		p.producers[id] = e
	}
	if len(r) != 0 {
		return nil, errBadSnapshot
	}
	return p, nil
}

// snapshotFiles lists the producer snapshot offsets found in dir's entries, ascending.
func snapshotOffsets(names []string) []int64 {
	var out []int64
	for _, n := range names {
		if !strings.HasSuffix(n, snapshotSuffix) {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(n, snapshotSuffix), 10, 64)
		if err == nil && off >= 0 {
			out = append(out, off)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, segmentName(offset)+snapshotSuffix)
}
