package log

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// decompressionRatio bounds how far a produced compressed batch may expand while it is validated:
// its records may decompress to at most decompressionRatio × max.message.bytes (at least
// decompressionRatio MiB).
//
// NB: Kafka walks compressed batches as a stream and sets no bound; a batch of a few KiB can then
// cost seconds of CPU (a decompression bomb). Real producers fill batches by their uncompressed
// size (batch.size, max.request.size), so a legitimate batch expands far less than 64×.
const decompressionRatio = 64

// decompressedLimit is the most bytes the records of one compressed batch may decompress to.
func decompressedLimit(cfg *Config) int64 {
	return decompressionRatio * max(int64(cfg.MaxMessageBytes), 1<<20)
}

// errDecompress marks a failure of the codec itself (the payload is not what its codec claims).
var errDecompress = errors.New("cannot decompress")

// walkCompressed checks, as walkRecords does for uncompressed batches, that a compressed batch's
// records decompress to exactly n well-formed records with offset deltas 0..n-1 and timestamps
// that fit the batch (and with a key on each if requireKey). It decompresses as a stream and
// never holds a whole record in memory, so its memory does not grow with the batch; it stops
// with ErrMessageTooLarge once more than limit bytes came out. A payload its codec cannot decode
// is ErrCorruptMessage, a malformed record ErrInvalidRecord.
func walkCompressed(h *BatchHeader, data []byte, requireKey bool, limit int64) error {
	src, release, err := openDecompressor(h.Compression(), data, limit)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptMessage, codecName(h.Compression()), err)
	}
	defer release()
	rr := recordReaderPool.Get().(*recordReader)
	defer recordReaderPool.Put(rr)
	rr.reset(src, limit)
	err = rr.walk(h, requireKey)
	switch {
	case rr.over():
		return fmt.Errorf("%w: %s batch decompresses to more than %d bytes", ErrMessageTooLarge, codecName(h.Compression()), limit)
	case rr.codecErr != nil:
		return fmt.Errorf("%w: %s: %v", ErrCorruptMessage, codecName(h.Compression()), rr.codecErr)
	}
	return err
}

func codecName(codec int) string {
	switch codec {
	case 1:
		return "gzip"
	case 2:
		return "snappy"
	case 3:
		return "lz4"
	case 4:
		return "zstd"
	}
	return fmt.Sprintf("codec %d", codec)
}

// recordReader reads records field by field from a decompressing stream, counting the bytes.
type recordReader struct {
	br       *bufio.Reader
	src      io.Reader
	read     int64 // bytes taken from src
	limit    int64
	codecErr error // the first error src returned other than io.EOF
}

var recordReaderPool = sync.Pool{New: func() any {
	rr := &recordReader{}
	rr.br = bufio.NewReaderSize(readerFunc(rr.fill), 32<<10)
	return rr
}}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (rr *recordReader) reset(src io.Reader, limit int64) {
	rr.src, rr.read, rr.limit, rr.codecErr = src, 0, limit, nil
	rr.br.Reset(readerFunc(rr.fill))
}

// fill reads from the decompressor, stopping one byte past the limit.
func (rr *recordReader) fill(p []byte) (int, error) {
	if rr.over() {
		return 0, io.EOF
	}
	if room := rr.limit + 1 - rr.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := rr.src.Read(p)
	rr.read += int64(n)
	if err != nil && err != io.EOF && rr.codecErr == nil {
		rr.codecErr = err
	}
	return n, err
}

func (rr *recordReader) over() bool { return rr.read > rr.limit }

// walk reads n records and then expects the end of the stream (which also makes gzip and lz4
// verify their checksums).
func (rr *recordReader) walk(h *BatchHeader, requireKey bool) error {
	logAppendTime := h.Attributes&attrLogAppendTime != 0
	for i := int32(0); i < h.NumRecords; i++ {
		tsDelta, offDelta, hasKey, err := rr.record()
		if err != nil || offDelta != int64(i) || requireKey && !hasKey {
			return recordError(i, offDelta, err)
		}
		if !logAppendTime {
			if err := checkTimestamp(h, tsDelta); err != nil {
				return fmt.Errorf("%w: record %d: %v", ErrInvalidRecord, i, err)
			}
		}
	}
	if _, err := rr.br.ReadByte(); err == nil {
		return fmt.Errorf("%w: bytes after the last of %d records", ErrInvalidRecord, h.NumRecords)
	}
	return nil
}

// checkTimestamp checks a record's timestamp (first timestamp + delta) against its batch: it
// must not overflow, and not exceed the batch's max timestamp, which the time index trusts.
func checkTimestamp(h *BatchHeader, tsDelta int64) error {
	ts := h.FirstTimestamp + tsDelta
	if (tsDelta > 0 && ts < h.FirstTimestamp) || (tsDelta < 0 && ts > h.FirstTimestamp) {
		return fmt.Errorf("timestamp delta %d overflows", tsDelta)
	}
	if ts > h.MaxTimestamp {
		return fmt.Errorf("timestamp %d is past the batch's max timestamp %d", ts, h.MaxTimestamp)
	}
	return nil
}

// record reads one record (its length, then the fields parseRecord checks) without buffering
// its key, value or headers.
func (rr *recordReader) record() (tsDelta, offDelta int64, hasKey bool, err error) {
	length, _, err := rr.varint()
	if err != nil || length <= 0 {
		return 0, 0, false, errMalformed
	}
	left := length
	take := func() (int64, error) {
		v, n, err := rr.varint()
		left -= int64(n)
		if err != nil || left < 0 {
			return 0, errMalformed
		}
		return v, nil
	}
	skip := func(n int64) error {
		if n > left {
			return errMalformed
		}
		left -= n
		for n > 0 {
			step := int(min(n, 1<<30))
			if _, err := rr.br.Discard(step); err != nil {
				return errMalformed
			}
			n -= int64(step)
		}
		return nil
	}
	if err := skip(1); err != nil { // attributes
		return 0, 0, false, err
	}
	if tsDelta, err = take(); err != nil {
		return 0, 0, false, err
	}
	if offDelta, err = take(); err != nil {
		return 0, 0, false, err
	}
	l, err := take() // key
	if err != nil || l < -1 {
		return 0, 0, false, errMalformed
	}
	hasKey = l >= 0
	if err := skip(max(l, 0)); err != nil {
		return 0, 0, false, err
	}
	if l, err = take(); err != nil || l < -1 { // value
		return 0, 0, false, errMalformed
	}
	if err := skip(max(l, 0)); err != nil {
		return 0, 0, false, err
	}
	nh, err := take()
	if err != nil || nh < 0 || nh > left {
		return 0, 0, false, errMalformed
	}
	for j := int64(0); j < nh; j++ {
		if l, err = take(); err != nil || l < 0 { // header key
			return 0, 0, false, errMalformed
		}
		if err := skip(l); err != nil {
			return 0, 0, false, err
		}
		if l, err = take(); err != nil || l < -1 { // header value
			return 0, 0, false, errMalformed
		}
		if err := skip(max(l, 0)); err != nil {
			return 0, 0, false, err
		}
	}
	if left != 0 {
		return 0, 0, false, errMalformed
	}
	return tsDelta, offDelta, hasKey, nil
}

// varint reads a zigzag varint and reports how many bytes it took.
func (rr *recordReader) varint() (int64, int, error) {
	var u uint64
	for n := 0; n < binary.MaxVarintLen64; n++ {
		c, err := rr.br.ReadByte()
		if err != nil {
			return 0, n, err
		}
		if n == binary.MaxVarintLen64-1 && c > 1 {
			return 0, n + 1, errMalformed
		}
		u |= uint64(c&0x7f) << (7 * n)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), n + 1, nil
		}
	}
	return 0, binary.MaxVarintLen64, errMalformed
}

// zstdMaxWindow is the largest zstd window a produced batch may use.
const zstdMaxWindow = 16 << 20

var (
	gzipReaders   = sync.Pool{}
	snappyBufs    = sync.Pool{} // *[]byte: decoded raw snappy blocks
	xerialReaders = sync.Pool{}
	lz4Readers    = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdReaders   = sync.Pool{}
)

// openDecompressor returns a stream of a compressed batch's records and a function that returns
// the codec's reader to its pool. limit bounds what a codec may allocate up front.
func openDecompressor(codec int, data []byte, limit int64) (io.Reader, func(), error) {
	switch codec {
	case 1:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(data))
		} else {
			err = zr.Reset(bytes.NewReader(data))
		}
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { gzipReaders.Put(zr) }, nil
	case 2:
		if bytes.HasPrefix(data, xerialHeader) {
			if len(data) < 16 {
				return nil, nil, errMalformed
			}
			x, _ := xerialReaders.Get().(*xerialReader)
			if x == nil {
				x = &xerialReader{}
			}
			x.rest, x.buf, x.limit = data[16:], nil, limit
			return x, func() { x.rest, x.buf = nil, nil; xerialReaders.Put(x) }, nil
		}
		n, err := snappy.DecodedLen(data)
		if err != nil {
			return nil, nil, err
		}
		if int64(n) > limit {
			return nil, nil, fmt.Errorf("block decompresses to %d bytes, more than %d", n, limit)
		}
		bp, _ := snappyBufs.Get().(*[]byte)
		if bp == nil {
			bp = new([]byte)
		}
		out, err := snappy.Decode((*bp)[:cap(*bp)], data)
		if err != nil {
			snappyBufs.Put(bp)
			return nil, nil, err
		}
		*bp = out
		return bytes.NewReader(out), func() { snappyBufs.Put(bp) }, nil
	case 3:
		zr := lz4Readers.Get().(*lz4.Reader)
		zr.Reset(bytes.NewReader(data))
		return zr, func() { zr.Reset(nil); lz4Readers.Put(zr) }, nil
	case 4:
		zr, _ := zstdReaders.Get().(*zstd.Decoder)
		var err error
		if zr == nil {
			// NB: one goroutine (synchronous streaming) and a bounded window, so a frame header cannot
			// make the decoder allocate hundreds of MiB. Kafka's clients compress at level 3 (a 2 MiB
			// window at most); only --long or ultra levels go past zstdMaxWindow.
			zr, err = zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(zstdMaxWindow))
		} else {
			err = zr.Reset(bytes.NewReader(data))
		}
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Reset(nil); zstdReaders.Put(zr) }, nil
	}
	return nil, nil, fmt.Errorf("unknown compression codec %d", codec)
}

// xerialReader decodes snappy data framed by the Java client (xerial snappy-java): after the
// 16-byte header, blocks of [int32 length][snappy block].
type xerialReader struct {
	rest  []byte
	block []byte // the decoded block's storage, reused
	buf   []byte // what is left of the current decoded block
	limit int64
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.buf) == 0 {
		if len(x.rest) == 0 {
			return 0, io.EOF
		}
		if len(x.rest) < 4 {
			return 0, fmt.Errorf("%w: truncated xerial block header", errDecompress)
		}
		n := binary.BigEndian.Uint32(x.rest)
		if uint64(n) > uint64(len(x.rest)-4) {
			return 0, fmt.Errorf("%w: xerial block of %d bytes past the end", errDecompress, n)
		}
		blk := x.rest[4 : 4+n]
		x.rest = x.rest[4+n:]
		dn, err := snappy.DecodedLen(blk)
		if err != nil {
			return 0, err
		}
		if int64(dn) > x.limit {
			return 0, fmt.Errorf("%w: xerial block decompresses to %d bytes", errDecompress, dn)
		}
		if x.block, err = snappy.Decode(x.block[:cap(x.block)], blk); err != nil {
			return 0, err
		}
		x.buf = x.block
	}
	n := copy(p, x.buf)
	x.buf = x.buf[n:]
	return n, nil
}
