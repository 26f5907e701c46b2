package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"

	offsetIndexEntrySize = 8  // relative offset uint32, position uint32
	timeIndexEntrySize   = 12 // timestamp int64, relative offset uint32
)

// segmentName is the 20-digit zero-padded base offset that names a segment's files.
func segmentName(baseOffset int64) string { return fmt.Sprintf("%020d", baseOffset) }

type offsetIndexEntry struct {
	relOffset uint32
	position  uint32
}

type timeIndexEntry struct {
	timestamp int64
	relOffset uint32
}

// segment is one .log file with its sparse indexes, which are held in memory and written to
// .index/.timeindex when the segment is rolled (the active segment's are rebuilt by Open).
type segment struct {
	baseOffset int64
	dir        string
	log        File

	// size is the number of bytes of whole batches in log, visible to readers. Published after
	// the bytes are written, before the log end offset moves.
	size atomic.Int64

	// idx guards the indexes and the timestamp summary, read by readers and grown by Append.
	idx struct {
		sync.RWMutex
		offsets              []offsetIndexEntry
		times                []timeIndexEntry
		maxTimestamp         int64 // -1 if no batch has a timestamp
		offsetOfMaxTimestamp int64 // base offset of the batch holding maxTimestamp
	}

	// Guarded by Log.appendMu.
	nextOffset      int64     // offset after the last batch
	bytesSinceIndex int64     // bytes appended since the last offset index entry
	rollTime        time.Time // when the first batch was appended; zero while empty
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentName(s.baseOffset)+suffix)
}

func (s *segment) name() string { return segmentName(s.baseOffset) + logSuffix }

func newSegment(dir string, baseOffset int64) *segment {
	s := &segment{baseOffset: baseOffset, dir: dir, nextOffset: baseOffset}
	s.idx.maxTimestamp = -1
	s.idx.offsetOfMaxTimestamp = -1
	return s
}

// createSegment creates an empty segment file at baseOffset, truncating any leftover.
func createSegment(fsys FS, dir string, baseOffset int64) (*segment, error) {
	s := newSegment(dir, baseOffset)
	f, err := fsys.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %s: %w", s.name(), err)
	}
	s.log = f
	return s, nil
}

// observeLocked records a batch appended at pos into the in-memory indexes. Kafka's rule: an
// offset index entry once more than interval bytes were appended since the last one, and a time
// index entry alongside it when the maximum timestamp has grown. Caller holds appendMu (or owns s).
func (s *segment) observe(h BatchHeader, pos int64, interval int64) {
	s.idx.Lock()
	defer s.idx.Unlock()
	if h.MaxTimestamp > s.idx.maxTimestamp {
		s.idx.maxTimestamp = h.MaxTimestamp
		s.idx.offsetOfMaxTimestamp = h.BaseOffset
	}
	if s.bytesSinceIndex > interval && pos <= math.MaxUint32 {
		s.idx.offsets = append(s.idx.offsets, offsetIndexEntry{uint32(h.BaseOffset - s.baseOffset), uint32(pos)})
		s.appendTimeEntryLocked()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.nextOffset = h.LastOffset() + 1
}

// appendTimeEntryLocked adds (maxTimestamp, its offset) to the time index if it grew. Caller holds idx.
func (s *segment) appendTimeEntryLocked() {
	if s.idx.maxTimestamp < 0 {
		return
	}
	if n := len(s.idx.times); n > 0 && s.idx.times[n-1].timestamp >= s.idx.maxTimestamp {
		return
	}
	s.idx.times = append(s.idx.times, timeIndexEntry{s.idx.maxTimestamp, uint32(s.idx.offsetOfMaxTimestamp - s.baseOffset)})
}

// lookup returns a byte position at or before the start of the batch holding offset.
func (s *segment) lookup(offset int64) int64 {
	rel := offset - s.baseOffset
	s.idx.RLock()
	defer s.idx.RUnlock()
	e := s.idx.offsets
	i := sort.Search(len(e), func(i int) bool { return int64(e[i].relOffset) > rel })
	if i == 0 {
		return 0
	}
	return int64(e[i-1].position)
}

// lookupTime returns an offset such that every record before it in the segment has a
// timestamp below ts.
func (s *segment) lookupTime(ts int64) int64 {
	s.idx.RLock()
	defer s.idx.RUnlock()
	e := s.idx.times
	i := sort.Search(len(e), func(i int) bool { return e[i].timestamp >= ts })
	if i == 0 {
		return s.baseOffset
	}
	return s.baseOffset + int64(e[i-1].relOffset)
}

func (s *segment) maxTimestamp() (ts, offset int64) {
	s.idx.RLock()
	defer s.idx.RUnlock()
	return s.idx.maxTimestamp, s.idx.offsetOfMaxTimestamp
}

// writeIndexes writes both index files in full and syncs them.
func (s *segment) writeIndexes(fsys FS) error { return s.writeIndexesAs(fsys, "") }

// writeIndexesAs is writeIndexes to the index file names followed by suffix (the cleaner's
// ".cleaned").
func (s *segment) writeIndexesAs(fsys FS, suffix string) error {
	s.idx.Lock()
	s.appendTimeEntryLocked()
	ob := make([]byte, 0, len(s.idx.offsets)*offsetIndexEntrySize)
	for _, e := range s.idx.offsets {
		ob = binary.BigEndian.AppendUint32(ob, e.relOffset)
		ob = binary.BigEndian.AppendUint32(ob, e.position)
	}
	tb := make([]byte, 0, len(s.idx.times)*timeIndexEntrySize)
	for _, e := range s.idx.times {
		tb = binary.BigEndian.AppendUint64(tb, uint64(e.timestamp))
		tb = binary.BigEndian.AppendUint32(tb, e.relOffset)
	}
	s.idx.Unlock()
	if err := writeFileSync(fsys, s.path(indexSuffix)+suffix, ob); err != nil {
		return err
	}
	return writeFileSync(fsys, s.path(timeIndexSuffix)+suffix, tb)
}

// loadIndexes reads and validates the index files of a segment whose data is not rescanned.
// nextOffset is the base offset of the following segment. Any inconsistency is an error, upon
// which the caller rebuilds the indexes by scanning.
func (s *segment) loadIndexes(fsys FS, nextOffset int64) error {
	ob, err := readFile(fsys, s.path(indexSuffix))
	if err != nil {
		return err
	}
	tb, err := readFile(fsys, s.path(timeIndexSuffix))
	if err != nil {
		return err
	}
	if len(ob)%offsetIndexEntrySize != 0 || len(tb)%timeIndexEntrySize != 0 {
		return errors.New("index size is not a multiple of its entry size")
	}
	size := s.size.Load()
	span := nextOffset - s.baseOffset
	var offsets []offsetIndexEntry
	for i := 0; i < len(ob); i += offsetIndexEntrySize {
		e := offsetIndexEntry{binary.BigEndian.Uint32(ob[i:]), binary.BigEndian.Uint32(ob[i+4:])}
		if int64(e.relOffset) >= span || int64(e.position)+BatchHeaderSize > size {
			return errors.New("offset index entry out of the segment")
		}
		if n := len(offsets); n > 0 && (e.relOffset <= offsets[n-1].relOffset || e.position <= offsets[n-1].position) {
			return errors.New("offset index not increasing")
		}
		offsets = append(offsets, e)
	}
	if n := len(offsets); n > 0 {
		// Spot-check that the last entry points at the batch it names.
		var hdr [lengthOverhead]byte
		if _, err := s.log.ReadAt(hdr[:], int64(offsets[n-1].position)); err != nil {
			return err
		}
		if int64(binary.BigEndian.Uint64(hdr[:])) != s.baseOffset+int64(offsets[n-1].relOffset) {
			return errors.New("offset index entry does not point at its batch")
		}
	}
	var times []timeIndexEntry
	for i := 0; i < len(tb); i += timeIndexEntrySize {
		e := timeIndexEntry{int64(binary.BigEndian.Uint64(tb[i:])), binary.BigEndian.Uint32(tb[i+8:])}
		if int64(e.relOffset) >= span || e.timestamp < 0 {
			return errors.New("time index entry out of the segment")
		}
		if n := len(times); n > 0 && (e.timestamp <= times[n-1].timestamp || e.relOffset < times[n-1].relOffset) {
			return errors.New("time index not increasing")
		}
		times = append(times, e)
	}
	if size > 0 && len(times) == 0 {
		// NB: a non-empty segment rolled by us always ends its time index with its maximum
		// timestamp unless no batch had one; rescan rather than guess.
		return errors.New("empty time index")
	}
	s.idx.Lock()
	s.idx.offsets, s.idx.times = offsets, times
	if n := len(times); n > 0 {
		s.idx.maxTimestamp = times[n-1].timestamp
		s.idx.offsetOfMaxTimestamp = s.baseOffset + int64(times[n-1].relOffset)
	}
	s.idx.Unlock()
	s.nextOffset = nextOffset
	return nil
}

// errTornBatch marks the first invalid batch met by scan.
var errTornBatch = errors.New("invalid batch")

// scan walks the batches of the segment from byte 0, rebuilding its indexes. With verifyCRC each
// batch is read whole and its CRC checked; otherwise only headers are read. It returns the byte
// position of the end of the last valid batch; scanErr is errTornBatch (wrapped) if it stopped
// at an invalid batch, or an I/O error.
func (s *segment) scan(interval int64, verifyCRC bool, fn func(h BatchHeader)) (valid int64, scanErr error) {
	size := s.size.Load()
	s.idx.Lock()
	s.idx.offsets, s.idx.times = nil, nil
	s.idx.maxTimestamp, s.idx.offsetOfMaxTimestamp = -1, -1
	s.idx.Unlock()
	s.nextOffset, s.bytesSinceIndex, s.rollTime = s.baseOffset, 0, time.Time{}

	r := newBatchReader(s.log, size, 64<<10)
	var buf []byte
	for pos := int64(0); pos < size; {
		h, err := r.header(pos)
		if err == nil && (h.Length < minLength || pos+h.Size() > size) {
			err = fmt.Errorf("%w: length %d at position %d overruns the segment", errTornBatch, h.Length, pos)
		}
		if err == nil && (h.BaseOffset < s.nextOffset || h.LastOffsetDelta < 0 || h.LastOffset()-s.baseOffset > math.MaxUint32) {
			err = fmt.Errorf("%w: base offset %d at position %d out of order", errTornBatch, h.BaseOffset, pos)
		}
		if err == nil && verifyCRC {
			buf = growTo(buf, int(h.Size()))
			if _, err = s.log.ReadAt(buf, pos); err == nil && batchCRC(buf) != h.CRC {
				err = fmt.Errorf("%w: crc mismatch at position %d", errTornBatch, pos)
			}
		}
		if err != nil {
			return pos, err
		}
		if pos == 0 && h.MaxTimestamp > 0 {
			s.rollTime = time.UnixMilli(h.MaxTimestamp)
		}
		s.observe(h, pos, interval)
		if fn != nil {
			fn(h)
		}
		pos += h.Size()
	}
	return size, nil
}

func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// batchReader reads batch headers from a segment through a window buffer, so walking many small
// batches costs few reads.
type batchReader struct {
	f      File
	size   int64
	buf    []byte
	bufPos int64 // file position of buf[0]
	bufLen int
}

func newBatchReader(f File, size int64, window int) *batchReader {
	return &batchReader{f: f, size: size, buf: make([]byte, window), bufPos: -1}
}

// header reads the batch header at pos. A short or malformed header wraps errTornBatch.
func (r *batchReader) header(pos int64) (BatchHeader, error) {
	if r.size-pos < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes at position %d is less than a header", errTornBatch, r.size-pos, pos)
	}
	if r.bufPos < 0 || pos < r.bufPos || pos+BatchHeaderSize > r.bufPos+int64(r.bufLen) {
		n := int64(len(r.buf))
		if r.size-pos < n {
			n = r.size - pos
		}
		m, err := r.f.ReadAt(r.buf[:n], pos)
		if int64(m) < BatchHeaderSize {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.bufPos = -1
			return BatchHeader{}, err
		}
		r.bufPos, r.bufLen = pos, m
	}
	off := pos - r.bufPos
	h, err := ParseBatchHeader(r.buf[off : off+BatchHeaderSize])
	if err != nil {
		return h, fmt.Errorf("%w: %v at position %d", errTornBatch, err, pos)
	}
	return h, nil
}

// readFile reads a whole small file.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(err == io.EOF && n == len(b)) {
		return nil, err
	}
	return b, nil
}

// createEmpty creates name as an empty file (or empties it), without fsync.
func createEmpty(fsys FS, name string) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// writeFileSync replaces a file's contents in place and syncs it.
func writeFileSync(fsys FS, name string, b []byte) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(name), err)
	}
	return nil
}

// writeFileAtomic writes a file through a temporary file and a rename, so a crash leaves either
// the old or the new contents.
func writeFileAtomic(fsys FS, name string, b []byte) error {
	tmp := name + ".tmp"
	if err := writeFileSync(fsys, tmp, b); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(tmp), err)
	}
	return nil
}
