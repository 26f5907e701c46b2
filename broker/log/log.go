package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Log is one partition's log: a directory of segments. All methods are safe for concurrent use.
// See the package doc for the locking order.
type Log struct {
	dir    string
	fs     FS
	logger *slog.Logger
	now    func() time.Time
	cfg    atomic.Pointer[Config]

	logEndOffset   atomic.Int64
	highWatermark  atomic.Int64
	logStartOffset atomic.Int64
	closed         atomic.Bool

	// appendMu serializes every writer: Append, roll, retention, DeleteRecordsBefore, Flush and
	// Close. Readers never take it.
	appendMu sync.Mutex
	// Guarded by appendMu.
	producers    *producerState
	snapshots    []int64 // offsets of the producer snapshots on disk, ascending
	unflushed    int64   // records appended since the last fsync
	lastFlush    time.Time
	failed       error // sticky: a write could not be undone, appends are refused
	epochsOnDisk []byte

	// cleanMu serializes Clean passes on this log; a pass holds it throughout (see compact.go).
	cleanMu sync.Mutex
	// tombstoneSince maps the base offset of a segment written by the cleaner with tombstones to
	// when the cleaner first kept them (ms). Guarded by cleanMu.
	tombstoneSince map[int64]int64
	// firstDirtyOffset is the cleaner checkpoint: offsets below it were compacted; -1 if unknown.
	firstDirtyOffset atomic.Int64

	// mu guards the segment list and the state readers share with writers. Writers hold appendMu
	// too and take mu only to publish changes.
	mu struct {
		sync.RWMutex
		segments             []*segment // ascending base offset; the last is the active segment
		epochs               epochCache
		maxTimestamp         int64
		offsetOfMaxTimestamp int64         // base offset of the batch holding maxTimestamp; -1 if empty
		retired              []retiredFile // files of segments the cleaner replaced, still open for readers
	}
}

func normalizeConfig(cfg Config) Config {
	d := DefaultConfig()
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = d.SegmentBytes
	}
	if cfg.IndexIntervalBytes <= 0 {
		cfg.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = d.MaxMessageBytes
	}
	return cfg
}

// Open opens the partition log in dir, creating the directory if missing, and recovers it: index
// files that are missing or inconsistent are rebuilt, and after an unclean shutdown the active
// segment is scanned and truncated at the first torn or corrupt batch.
func Open(dir string, cfg Config, opts Options) (*Log, error) {
	l := &Log{dir: dir, fs: opts.FS, logger: opts.Logger, now: opts.Now}
	if l.fs == nil {
		l.fs = OSFS()
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	l.logger = l.logger.With("component", "log", "dir", dir)
	if l.now == nil {
		l.now = time.Now
	}
	cfg = normalizeConfig(cfg)
	l.cfg.Store(&cfg)
	l.producers = newProducerState()
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	if err := l.load(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

// load recovers the log from its directory. It runs before the Log is shared.
func (l *Log) load() error {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return err
	}
	if changed, err := l.recoverCleaning(entries); err != nil {
		return fmt.Errorf("recover log cleaning: %w", err)
	} else if changed {
		if entries, err = l.fs.ReadDir(l.dir); err != nil {
			return err
		}
	}
	var names []string
	var bases []int64
	clean := false
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == cleanShutdownFile:
			clean = true
		case strings.HasSuffix(name, ".tmp"):
			_ = l.fs.Remove(l.path(name))
			continue
		case strings.HasSuffix(name, logSuffix):
			if base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64); err == nil && base >= 0 {
				bases = append(bases, base)
			}
		}
		names = append(names, name)
	}
	slices.Sort(bases)
	cfg := l.Config()

	var segs []*segment
	for _, base := range bases {
		s := newSegment(l.dir, base)
		f, err := l.fs.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_APPEND, 0o644)
		if err != nil {
			l.mu.segments = segs
			return fmt.Errorf("segment %s: %w", s.name(), err)
		}
		s.log = f
		segs = append(segs, s)
		fi, err := f.Stat()
		if err != nil {
			l.mu.segments = segs
			return fmt.Errorf("segment %s: %w", s.name(), err)
		}
		s.size.Store(fi.Size())
	}
	l.mu.segments = segs

	for i := 0; i < len(segs); i++ {
		s := segs[i]
		active := i == len(segs)-1
		if !active {
			err := s.loadIndexes(l.fs, segs[i+1].baseOffset)
			if err == nil {
				continue
			}
			l.logger.Info("rebuilding segment index", "segment", s.name(), "reason", err)
		}
		valid, err := s.scan(cfg.IndexIntervalBytes, active && !clean, nil)
		if err != nil && !errors.Is(err, errTornBatch) {
			return fmt.Errorf("segment %s: %w", s.name(), err)
		}
		if dropped := s.size.Load() - valid; dropped > 0 {
			l.logger.Warn("truncating torn or corrupt log tail", "segment", s.name(), "offset", s.nextOffset,
				"position", valid, "droppedBytes", dropped, "reason", err)
			if err := s.log.Truncate(valid); err != nil {
				return fmt.Errorf("segment %s: truncate: %w", s.name(), err)
			}
			// Durable now: Close syncs a segment only after appends.
			if err := s.log.Sync(); err != nil {
				return fmt.Errorf("segment %s: fsync after truncate: %w", s.name(), err)
			}
			s.size.Store(valid)
			for _, later := range segs[i+1:] {
				l.logger.Warn("deleting segment after a truncated one", "segment", later.name())
				l.removeSegmentFiles(later)
			}
			segs = segs[:i+1]
			l.mu.segments = segs
			active = true
		}
		if !active {
			if err := s.writeIndexes(l.fs); err != nil {
				l.logger.Warn("cannot write rebuilt index", "segment", s.name(), "err", err)
			}
		}
	}

	var logStart int64
	if b, err := readFile(l.fs, l.path(logStartOffsetFile)); err == nil {
		logStart, err = parseLogStartOffset(b)
		if err != nil {
			l.logger.Warn("ignoring malformed log start offset checkpoint", "err", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if len(segs) == 0 {
		s, err := createSegment(l.fs, l.dir, logStart)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		l.mu.segments = segs
	}
	logStart = max(logStart, segs[0].baseOffset)
	leo := segs[len(segs)-1].nextOffset
	if logStart > leo {
		// The log was truncated below records already deleted (Kafka's truncateFullyAndStartAt).
		l.logger.Warn("log start offset beyond log end; starting empty at log start", "logStartOffset", logStart, "logEndOffset", leo)
		for _, s := range segs {
			l.removeSegmentFiles(s)
		}
		l.mu.segments = nil
		s, err := createSegment(l.fs, l.dir, logStart)
		if err != nil {
			return err
		}
		segs = []*segment{s}
		l.mu.segments = segs
		leo = logStart
	}
	l.logStartOffset.Store(logStart)
	l.logEndOffset.Store(leo)
	l.highWatermark.Store(leo)

	// Leader epochs.
	es, err := readCheckpoint(l.fs, l.path(leaderEpochCheckpointFile))
	if err == nil {
		l.mu.epochs.entries, err = decodeEpochs(es)
	}
	if err == nil && len(es) == 0 {
		// NB: a missing checkpoint means no epochs, as an empty one does: a new partition needs
		// no file (creating 10,000 partitions wrote and fsynced 10,000 of them).
		l.epochsOnDisk = l.mu.epochs.encode()
	}
	if err != nil {
		l.logger.Warn("ignoring malformed leader epoch checkpoint", "err", err)
		l.mu.epochs.entries = nil
	}
	l.mu.epochs.truncateFromEnd(leo)
	l.mu.epochs.truncateFromStart(logStart)
	l.writeEpochsLocked()

	if err := l.loadProducerState(names, segs, leo); err != nil {
		return err
	}
	l.recomputeMaxTimestampLocked()
	l.lastFlush = l.now()
	l.loadCleanerCheckpoint()

	if clean {
		if err := l.fs.Remove(l.path(cleanShutdownFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove clean shutdown marker: %w", err)
		}
	}
	return nil
}

// loadProducerState loads the newest usable snapshot at or below leo and replays the batch
// headers after it.
func (l *Log) loadProducerState(names []string, segs []*segment, leo int64) error {
	from := segs[0].baseOffset
	state := newProducerState()
	offs := snapshotOffsets(names)
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		p := snapshotPath(l.dir, off)
		if off > leo {
			_ = l.fs.Remove(p)
			offs = offs[:i]
			continue
		}
		b, err := readFile(l.fs, p)
		var st *producerState
		if err == nil {
			st, err = decodeProducerSnapshot(b)
		}
		if err != nil {
			l.logger.Warn("ignoring producer snapshot", "file", filepath.Base(p), "err", err)
			_ = l.fs.Remove(p)
			offs = slices.Delete(offs, i, i+1)
			continue
		}
		state, from = st, max(off, from)
		break
	}
	l.snapshots = offs
	for _, s := range segs {
		if s.nextOffset <= from {
			continue
		}
		err := s.forEachBatch(s.lookup(from), func(h BatchHeader, _ int64) bool {
			if h.BaseOffset >= from {
				state.replay(h)
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("segment %s: rebuild producer state: %w", s.name(), err)
		}
	}
	l.producers = state
	return nil
}

// forEachBatch calls fn with each batch header from position pos to the segment's size.
func (s *segment) forEachBatch(pos int64, fn func(h BatchHeader, pos int64) bool) error {
	size := s.size.Load()
	r := newBatchReader(s.log, size, 64<<10)
	for pos < size {
		h, err := r.header(pos)
		if err != nil {
			return err
		}
		if !fn(h, pos) {
			return nil
		}
		pos += h.Size()
	}
	return nil
}

func parseLogStartOffset(b []byte) (int64, error) {
	es, err := parseCheckpoint(logStartOffsetFile, b)
	if err != nil || len(es) != 1 || es[0][1] < 0 {
		return 0, errors.New("malformed log start offset checkpoint")
	}
	return es[0][1], nil
}

func (l *Log) writeLogStartOffset(offset int64) error {
	return writeFileAtomic(l.fs, l.path(logStartOffsetFile), encodeCheckpoint([][2]int64{{0, offset}}))
}

// writeEpochsLocked persists the leader epoch cache if it changed. Caller holds appendMu (or owns
// the Log) and mu.
func (l *Log) writeEpochsLocked() {
	b := l.mu.epochs.encode()
	if string(b) == string(l.epochsOnDisk) {
		return
	}
	if err := writeFileAtomic(l.fs, l.path(leaderEpochCheckpointFile), b); err != nil {
		// NB: the cache in memory is right; the next change or Close retries.
		l.logger.Warn("cannot write leader epoch checkpoint", "err", err)
		return
	}
	l.epochsOnDisk = b
}

// recomputeMaxTimestampLocked sets the log's maximum timestamp from its segments. Caller holds mu
// (or owns the Log).
func (l *Log) recomputeMaxTimestampLocked() {
	l.mu.maxTimestamp, l.mu.offsetOfMaxTimestamp = -1, -1
	for _, s := range l.mu.segments {
		ts, off := s.maxTimestamp()
		if off >= 0 && (l.mu.offsetOfMaxTimestamp < 0 || ts > l.mu.maxTimestamp) {
			l.mu.maxTimestamp, l.mu.offsetOfMaxTimestamp = ts, off
		}
	}
}

// removeSegmentFiles closes a segment and deletes its files.
func (l *Log) removeSegmentFiles(s *segment) {
	if s.log != nil {
		_ = s.log.Close()
	}
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("cannot remove segment file", "file", filepath.Base(s.path(suffix)), "err", err)
		}
	}
}

func (l *Log) closeFiles() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.mu.segments {
		if s.log != nil {
			_ = s.log.Close()
		}
	}
	for _, r := range l.mu.retired {
		_ = r.f.Close()
	}
	l.mu.retired = nil
}

func (l *Log) active() *segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.segments[len(l.mu.segments)-1]
}

func (l *Log) segmentsSnapshot() []*segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.mu.segments)
}

// Append validates batches (one or more v2 RecordBatches, as in a Produce request), assigns them
// offsets from the log end offset and appends them to the active segment. The caller hands over
// batches: they are rewritten in place (base offset, partition leader epoch and, with
// LogAppendTime, timestamp type, max timestamp and CRC). Either every batch is appended or none.
// Errors: ErrCorruptMessage, ErrUnsupportedMessageFormat, ErrMessageTooLarge, ErrInvalidRecord,
// ErrOutOfOrderSequence, ErrInvalidProducerEpoch, ErrClosed, or a wrapped I/O error.
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendResult, error) {
	return l.AppendChecked(batches, leaderEpoch, nil)
}

// Checksum returns the CRC-32C of p if it can compute it faster than hashing p (ok=false: hash p).
type Checksum func(p []byte) (sum uint32, ok bool)

// AppendChecked is Append with a faster source of batch CRCs (nil: compute them).
func (l *Log) AppendChecked(batches []byte, leaderEpoch int32, sum Checksum) (AppendResult, error) {
	cfg := l.Config()
	vbs, err := validateBatches(batches, &cfg, sum)
	if err != nil {
		return AppendResult{LogAppendTime: -1}, err
	}

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return AppendResult{LogAppendTime: -1}, ErrClosed
	}
	if l.failed != nil {
		return AppendResult{LogAppendTime: -1}, fmt.Errorf("log: refusing appends after a failed write: %w", l.failed)
	}

	leo := l.logEndOffset.Load()
	next := leo
	var records int64
	pc := l.producers.begin()
	for i := range vbs {
		h := &vbs[i].h
		h.BaseOffset = next
		orig, dup, err := pc.check(*h)
		if err != nil {
			return AppendResult{LogAppendTime: -1}, err
		}
		if dup {
			if len(vbs) != 1 {
				return AppendResult{LogAppendTime: -1}, fmt.Errorf("%w: duplicate batch of producer %d in a multi-batch append", ErrOutOfOrderSequence, h.ProducerID)
			}
			return AppendResult{
				BaseOffset: orig.firstOffset, LastOffset: orig.lastOffset, LogAppendTime: -1,
				LogStartOffset: l.logStartOffset.Load(), Duplicate: true, Records: int64(h.NumRecords),
			}, nil
		}
		pc.stage(*h)
		next += int64(h.LastOffsetDelta) + 1
		records += int64(h.NumRecords)
	}

	now := l.now()
	active := l.active()
	if l.shouldRoll(active, &cfg, int64(len(batches)), next-1, now) {
		if active, err = l.rollLocked(); err != nil {
			return AppendResult{LogAppendTime: -1}, err
		}
	}

	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now.UnixMilli()
	}
	for i := range vbs {
		vb := &vbs[i]
		b := batches[vb.pos : vb.pos+int(vb.h.Size())]
		binary.BigEndian.PutUint64(b, uint64(vb.h.BaseOffset))
		binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(leaderEpoch))
		vb.h.PartitionLeaderEpoch = leaderEpoch
		if cfg.LogAppendTime {
			vb.h.Attributes |= attrLogAppendTime
			vb.h.MaxTimestamp = appendTime
			binary.BigEndian.PutUint16(b[offAttributes:], uint16(vb.h.Attributes))
			binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(appendTime))
			vb.h.CRC = batchCRC(b)
			binary.BigEndian.PutUint32(b[offCRC:], vb.h.CRC)
		}
	}

	pos := active.size.Load()
	if _, err := active.log.Write(batches); err != nil {
		// Undo a partial write so the file holds whole batches only.
		if terr := active.log.Truncate(pos); terr != nil {
			l.failed = fmt.Errorf("segment %s: truncate after failed write: %w", active.name(), terr)
			l.logger.Error("cannot undo a failed append", "segment", active.name(), "err", terr)
		}
		return AppendResult{LogAppendTime: -1}, fmt.Errorf("segment %s: append: %w", active.name(), err)
	}
	for _, vb := range vbs {
		active.observe(vb.h, pos+int64(vb.pos), cfg.IndexIntervalBytes)
	}
	if active.rollTime.IsZero() {
		active.rollTime = now
	}
	active.size.Store(pos + int64(len(batches)))
	pc.commit()

	l.mu.Lock()
	if l.mu.epochs.assign(leaderEpoch, leo) {
		l.writeEpochsLocked()
	}
	for _, vb := range vbs {
		if l.mu.offsetOfMaxTimestamp < 0 || vb.h.MaxTimestamp > l.mu.maxTimestamp {
			l.mu.maxTimestamp, l.mu.offsetOfMaxTimestamp = vb.h.MaxTimestamp, vb.h.BaseOffset
		}
	}
	l.mu.Unlock()
	l.logEndOffset.Store(next)

	res := AppendResult{
		BaseOffset: leo, LastOffset: next - 1, LogAppendTime: appendTime,
		LogStartOffset: l.logStartOffset.Load(), Records: records,
	}
	l.unflushed += records
	if l.flushDue(&cfg, now) {
		if err := active.log.Sync(); err != nil {
			l.failed = err
			return res, fmt.Errorf("segment %s: fsync: %w", active.name(), err)
		}
		l.unflushed, l.lastFlush = 0, now
	}
	return res, nil
}

func never(v int64) bool { return v <= 0 || v == math.MaxInt64 }

func (l *Log) flushDue(cfg *Config, now time.Time) bool {
	if !never(cfg.FlushMessages) && l.unflushed >= cfg.FlushMessages {
		return true
	}
	return !never(cfg.FlushMs) && now.Sub(l.lastFlush) >= time.Duration(cfg.FlushMs)*time.Millisecond
}

// shouldRoll reports whether appending size bytes ending at lastOffset needs a new segment.
func (l *Log) shouldRoll(s *segment, cfg *Config, size, lastOffset int64, now time.Time) bool {
	cur := s.size.Load()
	if cur == 0 {
		return false
	}
	switch {
	case cur+size > cfg.SegmentBytes:
		return true
	case cur+size > math.MaxUint32: // index positions are uint32
		return true
	case lastOffset-s.baseOffset > math.MaxUint32:
		return true
	case !never(cfg.SegmentMs) && !s.rollTime.IsZero() && now.Sub(s.rollTime) >= time.Duration(cfg.SegmentMs)*time.Millisecond:
		return true
	case cfg.Compact && !never(cfg.MaxCompactionLagMs) && !s.rollTime.IsZero() && now.Sub(s.rollTime) >= time.Duration(cfg.MaxCompactionLagMs)*time.Millisecond:
		// KIP-354: the active segment is never cleaned, so it rolls within max.compaction.lag.ms.
		return true
	}
	return false
}

// rollLocked seals the active segment (fsync, index files), starts a new one at the log end
// offset and snapshots producer state there. Caller holds appendMu.
func (l *Log) rollLocked() (*segment, error) {
	old := l.active()
	if err := old.log.Sync(); err != nil {
		return nil, fmt.Errorf("segment %s: fsync on roll: %w", old.name(), err)
	}
	if err := old.writeIndexes(l.fs); err != nil {
		return nil, fmt.Errorf("segment %s: roll: %w", old.name(), err)
	}
	leo := l.logEndOffset.Load()
	s, err := createSegment(l.fs, l.dir, leo)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.mu.segments = append(l.mu.segments, s)
	l.mu.Unlock()
	l.unflushed = 0
	l.writeSnapshotLocked(leo)
	return s, nil
}

// writeSnapshotLocked writes the producer state as of offset and prunes old snapshots. Failure
// only costs a longer rebuild on the next Open. Caller holds appendMu.
func (l *Log) writeSnapshotLocked(offset int64) error {
	if err := writeFileAtomic(l.fs, snapshotPath(l.dir, offset), l.producers.encode()); err != nil {
		l.logger.Warn("cannot write producer snapshot", "offset", offset, "err", err)
		return err
	}
	if n := len(l.snapshots); n == 0 || l.snapshots[n-1] != offset {
		l.snapshots = append(l.snapshots, offset)
	}
	for len(l.snapshots) > snapshotsKept {
		_ = l.fs.Remove(snapshotPath(l.dir, l.snapshots[0]))
		l.snapshots = l.snapshots[1:]
	}
	return nil
}

// Read returns whole batches from one segment starting at the batch containing offset, up to
// maxBytes but always at least one whole batch if one exists below maxOffset (KIP-74), and never
// a batch whose base offset is at or beyond maxOffset (the caller passes the high watermark or
// the log end offset). offset == the log end offset or maxOffset gives an empty Chunk. offset
// below the log start offset or beyond the log end offset is ErrOffsetOutOfRange. If the segment
// ends before maxOffset the chunk stops there and the caller reads again from NextOffset.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (Chunk, error) {
	if l.closed.Load() {
		return Chunk{}, ErrClosed
	}
	leo := l.logEndOffset.Load()
	logStart := l.logStartOffset.Load()
	if offset < logStart || offset > leo {
		return Chunk{}, fmt.Errorf("%w: offset %d, log start %d, log end %d", ErrOffsetOutOfRange, offset, logStart, leo)
	}
	maxOffset = min(maxOffset, leo)
	if offset >= maxOffset {
		return Chunk{Next: offset}, nil
	}
	c, err := l.read(offset, maxBytes, maxOffset)
	if err != nil {
		if ls := l.logStartOffset.Load(); offset < ls {
			// Retention deleted the segment under us.
			return Chunk{}, fmt.Errorf("%w: offset %d, log start %d", ErrOffsetOutOfRange, offset, ls)
		}
		if l.closed.Load() {
			return Chunk{}, ErrClosed
		}
	}
	return c, err
}

func (l *Log) read(offset int64, maxBytes int, maxOffset int64) (Chunk, error) {
	l.mu.RLock()
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].baseOffset > offset }) - 1
	l.mu.RUnlock()
	if i < 0 {
		i = 0
	}
	for ; i < len(segs); i++ {
		s := segs[i]
		size := s.size.Load()
		r := getReadWindow(s.log, size)
		defer readWindows.Put(r)
		pos := s.lookup(offset)
		// Find the batch holding offset.
		found := false
		for pos < size {
			h, err := r.header(pos)
			if err != nil {
				return Chunk{}, fmt.Errorf("segment %s: %w", s.name(), err)
			}
			if h.LastOffset() >= offset {
				found = true
				break
			}
			pos += h.Size()
		}
		if !found {
			continue // offset falls after this segment's last batch
		}
		start, next := pos, offset
		pos = s.skipAhead(start, maxBytes, maxOffset, &next)
		for pos < size {
			h, err := r.header(pos)
			if err != nil {
				return Chunk{}, fmt.Errorf("segment %s: %w", s.name(), err)
			}
			if h.BaseOffset >= maxOffset || (pos > start && pos+h.Size()-start > int64(maxBytes)) {
				break
			}
			pos += h.Size()
			next = h.LastOffset() + 1
		}
		return Chunk{File: s.log, Pos: start, Size: int(pos - start), Next: next}, nil
	}
	return Chunk{Next: offset}, nil
}

// readWindows recycles the header windows of Read.
var readWindows = sync.Pool{New: func() any { return newBatchReader(nil, 0, 16<<10) }}

func getReadWindow(f File, size int64) *batchReader {
	r := readWindows.Get().(*batchReader)
	r.f, r.size, r.bufPos, r.bufLen = f, size, -1, 0
	return r
}

// skipAhead uses the offset index to jump from start over batches that certainly belong in the
// chunk: those before an indexed batch that starts within maxBytes of start and below maxOffset.
// It sets *next to the jumped-to batch's base offset.
func (s *segment) skipAhead(start int64, maxBytes int, maxOffset int64, next *int64) int64 {
	s.idx.RLock()
	defer s.idx.RUnlock()
	e := s.idx.offsets
	limit := start + int64(maxBytes)
	j := sort.Search(len(e), func(j int) bool {
		return int64(e[j].position) > limit || s.baseOffset+int64(e[j].relOffset) > maxOffset
	}) - 1
	if j < 0 || int64(e[j].position) <= start {
		return start
	}
	*next = s.baseOffset + int64(e[j].relOffset)
	return int64(e[j].position)
}

// LogStartOffset is the first offset that may be read.
func (l *Log) LogStartOffset() int64 { return l.logStartOffset.Load() }

// LogEndOffset is the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return l.logEndOffset.Load() }

// HighWatermark is the offset up to which records are committed. It lives in memory only and
// starts at the log end offset on Open.
func (l *Log) HighWatermark() int64 { return l.highWatermark.Load() }

// SetHighWatermark sets the high watermark, clamped to [LogStartOffset, LogEndOffset].
func (l *Log) SetHighWatermark(hw int64) {
	hw = max(min(hw, l.logEndOffset.Load()), l.logStartOffset.Load())
	// NB: the high watermark only moves forward. Concurrent producers each set it to the log end
	// offset they saw after their append; a late, smaller value must not hide a later append.
	for {
		cur := l.highWatermark.Load()
		if hw <= cur || l.highWatermark.CompareAndSwap(cur, hw) {
			return
		}
	}
}

// OffsetForTimestamp returns the first offset at or after the log start offset whose record
// timestamp is >= ts, with that timestamp and the leader epoch of its batch; offset -1 if there is
// none. For a compressed batch (or one with LogAppendTime) the batch's base offset and max
// timestamp are returned. The special ListOffsets timestamps (-1, -2, -3) are the caller's.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, leaderEpoch int32, err error) {
	if l.closed.Load() {
		return -1, -1, -1, ErrClosed
	}
	logStart := l.logStartOffset.Load()
	for _, s := range l.segmentsSnapshot() {
		if maxTs, _ := s.maxTimestamp(); maxTs < ts {
			continue
		}
		from := max(s.lookupTime(ts), logStart)
		var batch []byte
		var readErr error
		found := false
		err := s.forEachBatch(s.lookup(from), func(h BatchHeader, pos int64) bool {
			if h.LastOffset() < from || h.MaxTimestamp < ts {
				return true
			}
			offset, timestamp, leaderEpoch = max(h.BaseOffset, from), h.MaxTimestamp, h.PartitionLeaderEpoch
			if h.Compression() != 0 || h.Attributes&attrLogAppendTime != 0 {
				found = true
				return false
			}
			batch = growTo(batch, int(h.Size()))
			if _, readErr = s.log.ReadAt(batch, pos); readErr != nil {
				return false
			}
			_ = walkRecords(batch[BatchHeaderSize:], h.NumRecords, false, func(delta int32, tsDelta int64) bool {
				o, t := h.BaseOffset+int64(delta), h.FirstTimestamp+tsDelta
				if o >= from && t >= ts {
					offset, timestamp, found = o, t, true
					return false
				}
				return true
			})
			return !found
		})
		if err == nil {
			err = readErr
		}
		if err != nil {
			return -1, -1, -1, fmt.Errorf("segment %s: %w", s.name(), err)
		}
		if found {
			return offset, timestamp, leaderEpoch, nil
		}
	}
	return -1, -1, -1, nil
}

// MaxTimestamp returns the largest record timestamp in the log and the offset of the first
// record carrying it; offset -1 if the log is empty.
func (l *Log) MaxTimestamp() (offset, timestamp int64) {
	l.mu.RLock()
	ts, off := l.mu.maxTimestamp, l.mu.offsetOfMaxTimestamp
	l.mu.RUnlock()
	if off < 0 || ts < 0 {
		return off, ts
	}
	if o, t, _, err := l.OffsetForTimestamp(ts); err == nil && o >= 0 && t == ts {
		return o, ts
	}
	return off, ts
}

// DeleteRecordsBefore moves the log start offset to offset (persisted) and deletes the segments
// wholly below it. offset beyond the high watermark is ErrOffsetOutOfRange. It returns the new
// log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return -1, ErrClosed
	}
	logStart := l.logStartOffset.Load()
	if hw := l.highWatermark.Load(); offset < 0 || offset > hw {
		return logStart, fmt.Errorf("%w: delete before %d, high watermark %d", ErrOffsetOutOfRange, offset, hw)
	}
	if offset <= logStart {
		return logStart, nil
	}
	if err := l.writeLogStartOffset(offset); err != nil {
		return logStart, err
	}
	l.logStartOffset.Store(offset)
	if _, err := l.deleteSegmentsLocked(func(s *segment, next int64, active bool) bool { return next <= offset }); err != nil {
		return offset, err
	}
	return offset, nil
}

// EnforceRetention applies retention.ms and retention.bytes (when cleanup.policy has delete):
// it deletes whole segments, oldest first, below the high watermark, and moves the log start
// offset. An active segment that is entirely expired is rolled first so it can go; the last
// segment always remains.
func (l *Log) EnforceRetention() (int, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return 0, ErrClosed
	}
	cfg := l.Config()
	if !cfg.Delete {
		return 0, nil
	}
	nowMs := l.now().UnixMilli()
	var remaining int64 = l.Size()
	logStart := l.logStartOffset.Load()
	return l.deleteSegmentsLocked(func(s *segment, next int64, active bool) bool {
		size := s.size.Load()
		expired := cfg.RetentionMs >= 0 && nowMs-l.largestTimestamp(s) > cfg.RetentionMs
		tooBig := !active && cfg.RetentionBytes >= 0 && remaining-size >= cfg.RetentionBytes
		if expired || tooBig || next <= logStart {
			remaining -= size
			return true
		}
		return false
	})
}

// largestTimestamp is the segment's max timestamp, or its file's modification time if no batch
// carries a timestamp (as Kafka does).
func (l *Log) largestTimestamp(s *segment) int64 {
	if ts, _ := s.maxTimestamp(); ts >= 0 {
		return ts
	}
	if fi, err := s.log.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return math.MaxInt64
}

// deleteSegmentsLocked deletes segments oldest first while deletable says so, never past the
// high watermark; if that includes the (non-empty) active segment it is rolled first. Caller holds
// appendMu.
func (l *Log) deleteSegmentsLocked(deletable func(s *segment, next int64, active bool) bool) (int, error) {
	segs := l.segmentsSnapshot()
	hw := l.highWatermark.Load()
	n := 0
	for i, s := range segs {
		active := i == len(segs)-1
		next := l.logEndOffset.Load()
		if !active {
			next = segs[i+1].baseOffset
		}
		if next > hw || (active && s.size.Load() == 0) || !deletable(s, next, active) {
			break
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if n == len(segs) {
		if _, err := l.rollLocked(); err != nil {
			return 0, err
		}
	}
	l.mu.Lock()
	gone := slices.Clone(l.mu.segments[:n])
	// NB: a new backing array, since readers may hold the old slice.
	l.mu.segments = slices.Clone(l.mu.segments[n:])
	newStart := l.mu.segments[0].baseOffset
	l.recomputeMaxTimestampLocked()
	l.mu.Unlock()

	if newStart > l.logStartOffset.Load() {
		if err := l.writeLogStartOffset(newStart); err != nil {
			// NB: the segments are already unlinked from the list; reopening derives the start
			// from the first remaining segment, so this is not fatal.
			l.logger.Warn("cannot persist log start offset", "err", err)
		}
		l.logStartOffset.Store(newStart)
	}
	ls := l.logStartOffset.Load()
	l.SetHighWatermark(ls) // only ever raises it

	l.mu.Lock()
	if l.mu.epochs.truncateFromStart(ls) {
		l.writeEpochsLocked()
	}
	l.mu.Unlock()
	for _, s := range gone {
		l.logger.Info("deleting segment", "segment", s.name())
		l.removeSegmentFiles(s)
	}
	return n, nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch with Kafka's semantics: for the latest epoch,
// the log end offset; for an older one, the start offset of the next epoch, with the largest
// known epoch not above the one asked. (-1, -1) when unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.epochs.endOffsetFor(epoch, l.logEndOffset.Load())
}

// LatestEpoch is the newest leader epoch appended, -1 if none.
func (l *Log) LatestEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.epochs.latest()
}

// Config returns the log's configuration.
func (l *Log) Config() Config { return *l.cfg.Load() }

// SetConfig replaces the configuration; it applies from the next Append or retention pass.
func (l *Log) SetConfig(cfg Config) {
	cfg = normalizeConfig(cfg)
	l.cfg.Store(&cfg)
}

// Size is the total bytes of the log's segment files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segments {
		n += s.size.Load()
	}
	return n
}

// NumSegments is the number of segments.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.mu.segments)
}

// Flush fsyncs every segment not yet synced (sealed segments were synced when rolled).
func (l *Log) Flush() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	s := l.active()
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("segment %s: fsync: %w", s.name(), err)
	}
	l.unflushed, l.lastFlush = 0, l.now()
	return nil
}

// Close flushes the log, writes the active segment's indexes, the producer snapshot and the
// checkpoints, marks a clean shutdown and closes the files. It is idempotent; Reads after Close
// return ErrClosed, and so do Chunks' ReadInto.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	// NB: Close writes only what changed: a broker stopping with 20,000 partitions does this for
	// each, and every file written costs an fsync. The active segment's indexes are not written:
	// Open rescans the active segment and rebuilds them, and a roll writes them from memory.
	var errs []error
	// Nor is a segment with nothing appended since its last fsync synced again.
	s := l.active()
	if l.unflushed > 0 {
		if err := s.log.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("segment %s: fsync: %w", s.name(), err))
		}
	}
	leo, n := l.logEndOffset.Load(), len(l.snapshots)
	empty := leo == l.logStartOffset.Load() && len(l.producers.producers) == 0
	if !empty && (n == 0 || l.snapshots[n-1] != leo) {
		if err := l.writeSnapshotLocked(leo); err != nil {
			errs = append(errs, err)
		}
	}
	l.mu.Lock()
	l.writeEpochsLocked()
	if string(l.mu.epochs.encode()) != string(l.epochsOnDisk) {
		errs = append(errs, errors.New("cannot write leader epoch checkpoint"))
	}
	l.mu.Unlock()
	if len(errs) == 0 && l.failed == nil {
		// NB: the marker is not fsynced. Everything it vouches for is durable already; a marker
		// lost in a crash costs only a recovery scan on the next Open.
		if err := createEmpty(l.fs, l.path(cleanShutdownFile)); err != nil {
			errs = append(errs, err)
		}
	}
	l.closeFiles()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close log %s: %w", l.dir, err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	cerr := l.Close()
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("delete log %s: %w", l.dir, err)
	}
	if cerr != nil {
		l.logger.Warn("close before delete", "err", cerr)
	}
	return nil
}
