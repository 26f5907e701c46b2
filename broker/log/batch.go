package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// BatchHeaderSize is the size of a v2 RecordBatch header, up to and including NumRecords.
const BatchHeaderSize = 61

// Byte offsets of the v2 RecordBatch header fields.
const (
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offFirstSequence   = 53
	offNumRecords      = 57

	// lengthOverhead is the bytes of a batch not counted by its length field (base offset, length).
	lengthOverhead = 12
	// minLength is the smallest valid length field: the header after the length field.
	minLength = BatchHeaderSize - lengthOverhead
)

// Attribute bits of a v2 RecordBatch.
const (
	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a v2 RecordBatch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field; the batch is Length+12 bytes
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32 // CRC-32C of the bytes from Attributes to the end of the batch
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	FirstSequence        int32
	NumRecords           int32
}

// ParseBatchHeader decodes the header at the start of b. It checks only that b holds a header
// and that the magic byte is 2 (ErrCorruptMessage, ErrUnsupportedMessageFormat); it does not
// check the length field against len(b) nor the CRC.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) <= offMagic {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptMessage, len(b))
	}
	if m := int8(b[offMagic]); m != 2 {
		return BatchHeader{}, fmt.Errorf("%w: magic %d", ErrUnsupportedMessageFormat, m)
	}
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptMessage, len(b))
	}
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b)),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		FirstSequence:        int32(be.Uint32(b[offFirstSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

// Size is the batch's total size in bytes.
func (h BatchHeader) Size() int64 { return int64(h.Length) + lengthOverhead }

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the batch's compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (h BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsControl reports whether the batch holds transaction markers.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsTransactional reports whether the batch is part of a transaction.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// LastSequence is the sequence number of the batch's last record (wrapping past MaxInt32 to 0).
func (h BatchHeader) LastSequence() int32 {
	return incrementSequence(h.FirstSequence, h.LastOffsetDelta)
}

// incrementSequence adds inc to seq the way Kafka does: sequences wrap from MaxInt32 to 0.
func incrementSequence(seq, inc int32) int32 {
	if seq > (1<<31-1)-inc {
		return inc - ((1<<31 - 1) - seq) - 1
	}
	return seq + inc
}

// batchCRC computes the CRC-32C of a whole batch as stored in its header.
func batchCRC(batch []byte) uint32 { return crc32.Checksum(batch[offAttributes:], castagnoli) }

// validBatch is one batch of an Append call that passed validation.
type validBatch struct {
	h   BatchHeader
	pos int // position in the Append buffer
}

// validateBatches checks every batch of a Produce records field. It returns the batches or the
// first error; no byte of b is modified.
func validateBatches(b []byte, cfg *Config, sum Checksum) ([]validBatch, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: no record batch", ErrCorruptMessage)
	}
	var out []validBatch
	for pos := 0; pos < len(b); {
		h, err := validateBatch(b[pos:], cfg, sum)
		if err != nil {
			return nil, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		out = append(out, validBatch{h: h, pos: pos})
		pos += int(h.Size())
	}
	return out, nil
}

// validateBatch validates the batch at the start of b (b may hold more batches after it).
func validateBatch(b []byte, cfg *Config, sum Checksum) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.Length < minLength || int64(len(b)) < h.Size() {
		return h, fmt.Errorf("%w: length %d does not fit %d bytes", ErrCorruptMessage, h.Length, len(b))
	}
	if cfg.MaxMessageBytes > 0 && h.Size() > int64(cfg.MaxMessageBytes) {
		return h, fmt.Errorf("%w: batch of %d bytes, max.message.bytes %d", ErrMessageTooLarge, h.Size(), cfg.MaxMessageBytes)
	}
	batch := b[:h.Size()]
	crc, ok := uint32(0), false
	if sum != nil {
		crc, ok = sum(batch[offAttributes:])
	}
	if !ok {
		crc = batchCRC(batch)
	}
	if crc != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptMessage, h.CRC, crc)
	}
	if h.NumRecords <= 0 || h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("%w: %d records with last offset delta %d", ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	}
	records := batch[BatchHeaderSize:]
	switch {
	case h.Compression() == 0:
		return h, walkRecords(records, h.NumRecords, cfg.Compact, nil)
	case h.Compression() > 4:
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidRecord, h.Compression())
	}
	// NB: as Kafka does, a compressed batch is decompressed and walked on every topic: a payload
	// that does not decompress to exactly its records would otherwise be stored, and every
	// consumer reaching it would be stuck there.
	return h, walkCompressed(&h, records, cfg.Compact, decompressedLimit(cfg))
}

// walkRecords checks that records holds exactly n well-formed v2 records with offset deltas
// 0..n-1, and with a key on each if requireKey. fn, if not nil, is called with each record's
// offset delta and timestamp delta; returning false stops the walk.
func walkRecords(records []byte, n int32, requireKey bool, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	r := records
	for i := int32(0); i < n; i++ {
		length, k, ok := readVarintAt(r, 0)
		if !ok || length <= 0 || length > int64(len(r)-k) {
			return fmt.Errorf("%w: record %d: bad length", ErrInvalidRecord, i)
		}
		rec := r[k : k+int(length)]
		r = r[k+int(length):]
		tsDelta, offDelta, hasKey, err := parseRecord(rec)
		if err != nil || offDelta != int64(i) || requireKey && !hasKey {
			return recordError(i, offDelta, err)
		}
		if fn != nil && !fn(int32(offDelta), tsDelta) {
			return nil
		}
	}
	if len(r) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrInvalidRecord, len(r))
	}
	return nil
}

var errMalformed = errors.New("malformed record")

// recordError explains why the i-th record of a batch failed the check that walkRecords and
// walkCompressed share: parse error err == nil, offset delta i, a key if requireKey.
// NB: the check itself stays inline in both loops (hot for uncompressed produce); only the
// explanation is out of line.
func recordError(i int32, offDelta int64, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%w: record %d: %v", ErrInvalidRecord, i, err)
	case offDelta != int64(i):
		return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, offDelta)
	}
	return fmt.Errorf("%w: record %d has a null key on a compacted topic", ErrInvalidRecord, i)
}

// parseRecord parses one record body (after its length) and checks it is consumed exactly.
// NB: it runs for every produced record, so it decodes varints inline (one-byte fast path) rather
// than through closures; it was 8% of the broker's produce CPU before.
func parseRecord(rec []byte) (tsDelta, offDelta int64, hasKey bool, err error) {
	if len(rec) < 1 {
		return 0, 0, false, errMalformed
	}
	pos := 1 // attributes
	var ok bool
	if tsDelta, pos, ok = readVarintAt(rec, pos); !ok {
		return 0, 0, false, errMalformed
	}
	if offDelta, pos, ok = readVarintAt(rec, pos); !ok {
		return 0, 0, false, errMalformed
	}
	var l int64
	if l, pos, ok = readVarintAt(rec, pos); !ok || l < -1 || l > int64(len(rec)-pos) { // key
		return 0, 0, false, errMalformed
	}
	hasKey = l >= 0
	pos += int(max(l, 0))
	if l, pos, ok = readVarintAt(rec, pos); !ok || l < -1 || l > int64(len(rec)-pos) { // value
		return 0, 0, false, errMalformed
	}
	pos += int(max(l, 0))
	var nh int64
	if nh, pos, ok = readVarintAt(rec, pos); !ok || nh < 0 || nh > int64(len(rec)-pos) {
		return 0, 0, false, errMalformed
	}
	for j := int64(0); j < nh; j++ {
		if l, pos, ok = readVarintAt(rec, pos); !ok || l < 0 || l > int64(len(rec)-pos) { // header key
			return 0, 0, false, errMalformed
		}
		pos += int(l)
		if l, pos, ok = readVarintAt(rec, pos); !ok || l < -1 || l > int64(len(rec)-pos) { // header value
			return 0, 0, false, errMalformed
		}
		pos += int(max(l, 0))
	}
	if pos != len(rec) {
		return 0, 0, false, errMalformed
	}
	return tsDelta, offDelta, hasKey, nil
}

// readVarint decodes a zigzag varint at b[pos:].
func readVarintAt(b []byte, pos int) (int64, int, bool) {
	if pos < len(b) && b[pos] < 0x80 {
		u := uint64(b[pos])
		return int64(u>>1) ^ -int64(u&1), pos + 1, true
	}
	if pos > len(b) {
		return 0, pos, false
	}
	v, k := binary.Varint(b[pos:])
	if k <= 0 {
		return 0, pos, false
	}
	return v, pos + k, true
}

// maxDecompressed bounds the memory a single compressed batch may expand to during validation.
const maxDecompressed = 256 << 20

var errTooBig = errors.New("decompressed batch too large")

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecompressed))
})

// xerialHeader starts snappy data framed the way Kafka's Java client (xerial snappy-java) frames it.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress returns the records bytes of a compressed batch.
func decompress(codec int, data []byte) ([]byte, error) {
	readAll := func(r io.Reader) ([]byte, error) {
		out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
		if err == nil && len(out) > maxDecompressed {
			err = errTooBig
		}
		return out, err
	}
	switch codec {
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return readAll(zr)
	case 2:
		if !bytes.HasPrefix(data, xerialHeader) {
			return snappyBlock(data)
		}
		// 8 bytes magic, 4 version, 4 compatible version, then [int32 length][snappy block]...
		if len(data) < 16 {
			return nil, errMalformed
		}
		var out []byte
		for r := data[16:]; len(r) > 0; {
			if len(r) < 4 {
				return nil, errMalformed
			}
			n := binary.BigEndian.Uint32(r)
			if uint64(n) > uint64(len(r)-4) {
				return nil, errMalformed
			}
			blk, err := snappyBlock(r[4 : 4+n])
			if err != nil {
				return nil, err
			}
			out = append(out, blk...)
			if len(out) > maxDecompressed {
				return nil, errTooBig
			}
			r = r[4+n:]
		}
		return out, nil
	case 3:
		return readAll(lz4.NewReader(bytes.NewReader(data)))
	case 4:
		d, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		return d.DecodeAll(data, nil)
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

func snappyBlock(b []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, err
	}
	if n > maxDecompressed {
		return nil, errTooBig
	}
	return snappy.Decode(nil, b)
}
