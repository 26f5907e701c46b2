package log

// Log compaction (cleanup.policy=compact), Kafka's log cleaner for one partition.
//
// A Clean pass works on the cleanable section: the closed segments from the start of the log up to
// the first segment that is active, reaches beyond the high watermark, or holds a record newer
// than min.compaction.lag.ms. It builds a map key → latest offset over that whole section, then
// rewrites it group by group (consecutive segments whose sizes add up to at most segment.bytes
// become one segment, named by the group's first base offset), keeping a record only if it is
// the latest of its key in the section. Records keep their offsets: each original batch with at
// least one retained record becomes one batch holding exactly those records, with its base
// offset moved to the first retained record and the other header fields kept (producer id,
// epoch, leader epoch, first timestamp, with the base sequence moved along with the base
// offset). A batch that keeps all its records is copied byte for byte; a compressed batch that
// loses records is re-compressed with its own codec. Control batches and keyless records are
// dropped.
//
// Tombstones (null values) survive the pass that first sees them; the cleaner remembers when it
// first wrote each segment holding tombstones and drops them in the first pass after
// delete.retention.ms has passed since then. A log whose tombstones are due is cleanable even if
// its dirty ratio is low.
//
// Crash safety follows Kafka: a group is written to <base>.log.cleaned and fsynced, renamed to
// <base>.log.swap (its indexes to <base>.index.cleaned and .timeindex.cleaned), then, under
// appendMu, the old segments' files are removed, the .swap file is renamed to <base>.log and the
// indexes to their names; the lock is held for renames only, never for a write or an fsync. On Open, .cleaned files are deleted and a .swap file is completed: the
// segments within its offset range are deleted and it is renamed into place. The cleaner
// checkpoint (the first dirty offset and the tombstone clock of each segment) lives in
// cleaner-offset-checkpoint.
//
// Concurrency (lock order Log.cleanMu → Log.appendMu → Log.mu → segment.idx): the pass holds Log.cleanMu (one pass per log at a time) and takes appendMu only to
// swap a group in, after checking that its segments are still in the log (retention may have
// deleted them meanwhile). Readers holding a replaced segment keep reading its old, complete file:
// its handle is only closed fileDeleteDelay later (or on Close).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

const (
	cleanerCheckpointFile = "cleaner-offset-checkpoint"
	cleanedSuffix         = ".cleaned"
	swapSuffix            = ".swap"

	// fileDeleteDelay is how long the file of a segment replaced by the cleaner stays open for
	// readers that still hold it (Kafka's file.delete.delay.ms default).
	fileDeleteDelay = 60 * time.Second
)

// CleanStats describes one Clean pass.
type CleanStats struct {
	Cleaned           bool  // false if the log was not due for cleaning
	FirstDirtyOffset  int64 // the cleaner checkpoint before the pass
	EndOffset         int64 // the end of the cleaned section: the checkpoint after the pass
	SegmentsRead      int
	SegmentsWritten   int
	RecordsRead       int64
	RecordsRetained   int64
	TombstonesDropped int64 // tombstones removed because delete.retention.ms had passed
	BytesRead         int64
	BytesWritten      int64
	Duration          time.Duration
}

// retiredFile is the file of a segment the cleaner replaced, kept open for readers until closeAt.
type retiredFile struct {
	f       File
	closeAt time.Time
}

// cleanPlan is the cleanable section of a log at one moment.
type cleanPlan struct {
	segs       []*segment // closed segments, ascending
	end        int64      // offset after the section: base offset of the first segment not in segs
	firstDirty int64
	dirtyBytes int64
	totalBytes int64
	due        bool
}

// DirtyRatio is the share of bytes of the cleanable section (closed segments below the high
// watermark and older than min.compaction.lag.ms) written since the last Clean: Kafka's
// cleanable ratio, compared with min.cleanable.dirty.ratio. 0 for an empty section.
func (l *Log) DirtyRatio() float64 {
	cfg := l.Config()
	p := l.planClean(l.now().UnixMilli(), &cfg, nil)
	if p.totalBytes == 0 {
		return 0
	}
	return float64(p.dirtyBytes) / float64(p.totalBytes)
}

// FirstDirtyOffset is the cleaner checkpoint: offsets below it have been compacted; -1 before
// the first Clean.
func (l *Log) FirstDirtyOffset() int64 { return l.firstDirtyOffset.Load() }

// planClean finds the cleanable section and whether it is due. tombstoneSince, if not nil (the
// caller holds cleanMu), lets expired tombstones make the log due.
func (l *Log) planClean(nowMs int64, cfg *Config, tombstoneSince map[int64]int64) cleanPlan {
	segs := l.segmentsSnapshot()
	hw := l.highWatermark.Load()
	var p cleanPlan
	for i := 0; i < len(segs)-1; i++ {
		s, next := segs[i], segs[i+1].baseOffset
		if next > hw {
			break
		}
		if ts, _ := s.maxTimestamp(); cfg.MinCompactionLagMs > 0 && ts > nowMs-cfg.MinCompactionLagMs {
			break
		}
		p.segs = append(p.segs, s)
		p.end = next
	}
	if len(p.segs) == 0 {
		return p
	}
	p.firstDirty = l.firstDirtyOffset.Load()
	if p.firstDirty < p.segs[0].baseOffset || p.firstDirty > l.logEndOffset.Load() {
		// NB: an unknown, stale or out-of-range checkpoint makes the whole log dirty (Kafka resets
		// it to the log start offset).
		p.firstDirty = p.segs[0].baseOffset
	}
	var firstDirtySeg *segment
	tombstonesDue := false
	for i, s := range p.segs {
		size := s.size.Load()
		p.totalBytes += size
		next := p.end
		if i+1 < len(p.segs) {
			next = p.segs[i+1].baseOffset
		}
		if next > p.firstDirty {
			p.dirtyBytes += size
			if firstDirtySeg == nil && size > 0 {
				firstDirtySeg = s
			}
		}
		if since, ok := tombstoneSince[s.baseOffset]; ok && nowMs-since >= cfg.DeleteRetentionMs {
			tombstonesDue = true
		}
	}
	switch {
	case !cfg.Compact:
	case tombstonesDue:
		p.due = true
	case p.dirtyBytes == 0:
	case float64(p.dirtyBytes) >= cfg.MinCleanableDirtyRatio*float64(p.totalBytes):
		p.due = true
	case !never(cfg.MaxCompactionLagMs) && firstDirtySeg != nil:
		// KIP-354: a record may stay uncompacted at most max.compaction.lag.ms.
		var hdr [BatchHeaderSize]byte
		if _, err := firstDirtySeg.log.ReadAt(hdr[:], 0); err == nil {
			if h, err := ParseBatchHeader(hdr[:]); err == nil && h.FirstTimestamp >= 0 && h.FirstTimestamp < nowMs-cfg.MaxCompactionLagMs {
				p.due = true
			}
		}
	}
	return p
}

// Clean compacts the log if it is due (cleanup.policy has compact and the dirty ratio reaches
// min.cleanable.dirty.ratio, or the oldest dirty record is older than max.compaction.lag.ms, or
// tombstones are past delete.retention.ms); otherwise it returns CleanStats{Cleaned: false}.
// now is the cleaner's clock for the lag and tombstone rules. It never holds the append lock
// except to swap a rewritten group of segments in, so Append and Read proceed meanwhile. Errors:
// ErrClosed, ErrCorruptMessage for a segment that does not read back, or a wrapped I/O error.
func (l *Log) Clean(now time.Time) (CleanStats, error) {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	if l.closed.Load() {
		return CleanStats{}, ErrClosed
	}
	l.closeRetiredFiles(time.Now(), false)
	cfg := l.Config()
	nowMs := now.UnixMilli()
	p := l.planClean(nowMs, &cfg, l.tombstoneSince)
	st := CleanStats{FirstDirtyOffset: p.firstDirty, EndOffset: p.firstDirty}
	if !p.due {
		return st, nil
	}
	started := time.Now()
	st.Cleaned = true
	logStart := l.logStartOffset.Load()

	latest := newOffsetMap()
	var scratch cleanScratch
	for _, s := range p.segs {
		err := forEachSegmentBatch(s, &scratch, func(h BatchHeader, batch []byte) error {
			st.BytesRead += h.Size()
			if h.IsControl() || h.LastOffset() < logStart {
				return nil
			}
			records, err := scratch.records(h, batch)
			if err != nil {
				return err
			}
			return forEachCleanerRecord(records, h.NumRecords, func(r *cleanerRecord) error {
				st.RecordsRead++
				if off := h.BaseOffset + r.offsetDelta; off >= logStart && r.hasKey {
					latest.put(r.key, off)
				}
				return nil
			})
		})
		if err != nil {
			return st, l.cleanFailed(p.segs, fmt.Errorf("clean: segment %s: %w", s.name(), err))
		}
	}
	st.SegmentsRead = len(p.segs)

	maxBytes := min(cfg.SegmentBytes, math.MaxInt32)
	allSwapped := true
	for _, g := range groupSegments(p.segs, p.end, maxBytes) {
		if l.closed.Load() {
			return st, ErrClosed
		}
		swapped, err := l.cleanGroup(g, &cfg, nowMs, logStart, latest, &scratch, &st)
		if err != nil {
			return st, l.cleanFailed(g.segs, err)
		}
		allSwapped = allSwapped && swapped
	}
	if !allSwapped {
		// NB: retention removed part of a group under the pass, so the rest of that group was
		// not rewritten; it must stay dirty, or its duplicates would never be cleaned.
		st.Duration = time.Since(started)
		return st, nil
	}

	l.firstDirtyOffset.Store(p.end)
	st.EndOffset = p.end
	if err := l.writeCleanerCheckpoint(); err != nil {
		l.logger.Warn("cannot write cleaner checkpoint", "err", err)
	}
	st.Duration = time.Since(started)
	return st, nil
}

// cleanFailed maps an error of a pass over segs: ErrClosed if the log was closed meanwhile, nil
// (the next pass retries) if retention deleted some of segs under the pass.
func (l *Log) cleanFailed(segs []*segment, err error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	current := l.segmentsSnapshot()
	for _, s := range segs {
		if !slices.Contains(current, s) {
			l.logger.Info("segments deleted during cleaning; the next pass retries", "segment", s.name(), "err", err)
			return nil
		}
	}
	return err
}

// segmentGroup is a run of consecutive segments the cleaner rewrites into one.
type segmentGroup struct {
	segs []*segment
	end  int64 // base offset of the segment after the group
}

// groupSegments splits segs into runs of consecutive segments whose sizes add up to at most
// maxBytes and whose offsets fit a segment's relative-offset index (Kafka's groupSegmentsBySize).
func groupSegments(segs []*segment, end int64, maxBytes int64) []segmentGroup {
	var out []segmentGroup
	for i := 0; i < len(segs); {
		j, size := i+1, segs[i].size.Load()
		for ; j < len(segs); j++ {
			next := end
			if j+1 < len(segs) {
				next = segs[j+1].baseOffset
			}
			if size+segs[j].size.Load() > maxBytes || next-1-segs[i].baseOffset > math.MaxUint32 {
				break
			}
			size += segs[j].size.Load()
		}
		ge := end
		if j < len(segs) {
			ge = segs[j].baseOffset
		}
		out = append(out, segmentGroup{segs: segs[i:j], end: ge})
		i = j
	}
	return out
}

// testHookBeforeSwap, if set (by tests only), runs after a group is rewritten and before it is
// swapped in: the window in which retention can change the log under the cleaner.
var testHookBeforeSwap func(g segmentGroup)

// cleanGroup rewrites one group of segments into a .cleaned file and swaps it in; it reports
// false if the group changed under it (retention) and was left alone. Caller holds cleanMu.
func (l *Log) cleanGroup(g segmentGroup, cfg *Config, nowMs, logStart int64, latest *offsetMap, scratch *cleanScratch, st *CleanStats) (swapped bool, err error) {
	base := g.segs[0].baseOffset
	out := newSegment(l.dir, base)
	cleanedPath := out.path(logSuffix) + cleanedSuffix
	swapPath := out.path(logSuffix) + swapSuffix
	f, err := l.fs.OpenFile(cleanedPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return false, fmt.Errorf("clean: create %s: %w", filepath.Base(cleanedPath), err)
	}
	fileHandedOver := false
	defer func() {
		if !fileHandedOver {
			_ = f.Close()
			_ = l.fs.Remove(cleanedPath)
		}
		// The index files are installed by swapIn or useless.
		_ = l.fs.Remove(out.path(indexSuffix) + cleanedSuffix)
		_ = l.fs.Remove(out.path(timeIndexSuffix) + cleanedSuffix)
	}()

	w := bufio.NewWriterSize(f, 256<<10)
	var pos int64
	outSince := int64(-1) // tombstone clock of the output; -1 if it holds none
	for _, s := range g.segs {
		since, cleanedBefore := l.tombstoneSince[s.baseOffset]
		dropTombstones := cleanedBefore && nowMs-since >= cfg.DeleteRetentionMs
		keptTombstones := false
		err := forEachSegmentBatch(s, scratch, func(h BatchHeader, batch []byte) error {
			if h.IsControl() || h.LastOffset() < logStart {
				return nil
			}
			records, err := scratch.records(h, batch)
			if err != nil {
				return err
			}
			kept := scratch.kept[:0]
			all := true
			err = forEachCleanerRecord(records, h.NumRecords, func(r *cleanerRecord) error {
				off := h.BaseOffset + r.offsetDelta
				keep := off >= logStart && r.hasKey && latest.get(r.key) == off
				if keep && r.nullValue {
					if dropTombstones {
						keep = false
						st.TombstonesDropped++
					} else {
						keptTombstones = true
					}
				}
				if keep {
					kept = append(kept, *r)
				} else {
					all = false
				}
				return nil
			})
			scratch.kept = kept
			if err != nil || len(kept) == 0 {
				return err
			}
			st.RecordsRetained += int64(len(kept))
			nb, nh := batch, h
			if !all {
				nb, nh = rebuildBatch(h, kept, &scratch.out)
			}
			if _, err := w.Write(nb); err != nil {
				return err
			}
			out.observe(nh, pos, cfg.IndexIntervalBytes)
			pos += nh.Size()
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("clean: segment %s: %w", s.name(), err)
		}
		if keptTombstones {
			if !cleanedBefore {
				since = nowMs
			}
			outSince = max(outSince, since)
		}
	}
	if err := w.Flush(); err != nil {
		return false, fmt.Errorf("clean: write %s: %w", filepath.Base(cleanedPath), err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("clean: fsync %s: %w", filepath.Base(cleanedPath), err)
	}
	if pos > math.MaxUint32 {
		return false, fmt.Errorf("clean: group at %d rewrote to %d bytes", base, pos)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("clean: close %s: %w", filepath.Base(cleanedPath), err)
	}
	fileHandedOver = true // f is closed; the deferred cleanup must not close it again
	if err := l.fs.Rename(cleanedPath, swapPath); err != nil {
		_ = l.fs.Remove(cleanedPath)
		return false, fmt.Errorf("clean: rename %s: %w", filepath.Base(cleanedPath), err)
	}
	out.size.Store(pos)
	out.nextOffset = g.end
	if err := out.writeIndexesAs(l.fs, cleanedSuffix); err != nil {
		_ = l.fs.Remove(swapPath)
		return false, fmt.Errorf("clean: %w", err)
	}
	if testHookBeforeSwap != nil {
		testHookBeforeSwap(g)
	}
	if ok, err := l.swapIn(g, out, swapPath); err != nil || !ok {
		return false, err
	}
	for _, s := range g.segs {
		delete(l.tombstoneSince, s.baseOffset)
	}
	if outSince >= 0 {
		l.tombstoneSince[base] = outSince
	}
	st.SegmentsWritten++
	st.BytesWritten += pos
	return true, nil
}

// swapIn replaces the group's segments with out, whose data is in swapPath. It reports false
// (deleting swapPath, the log left alone) if the group is no longer in the log. On an error
// after the old files were touched, swapPath stays for Open to complete the swap.
func (l *Log) swapIn(g segmentGroup, out *segment, swapPath string) (bool, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		_ = l.fs.Remove(swapPath)
		return false, ErrClosed
	}
	l.mu.RLock()
	segs := l.mu.segments
	i := slices.Index(segs, g.segs[0])
	same := i >= 0 && i+len(g.segs) < len(segs) && segs[i+len(g.segs)].baseOffset == g.end
	for k := 0; same && k < len(g.segs); k++ {
		same = segs[i+k] == g.segs[k]
	}
	l.mu.RUnlock()
	if !same {
		l.logger.Info("cleaned segments changed meanwhile; dropping the cleaned group", "segment", g.segs[0].name())
		_ = l.fs.Remove(swapPath)
		return false, nil
	}

	// NB: Kafka's order. Once the old files are gone, only the .swap file holds the group, and Open
	// completes the swap; readers keep the old files open until they are retired.
	for k, s := range g.segs {
		for _, suffix := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
			if k == 0 && suffix == logSuffix {
				continue // replaced by the rename below
			}
			if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("clean: swap: %w", err)
			}
		}
	}
	finalPath := out.path(logSuffix)
	if err := l.fs.Rename(swapPath, finalPath); err != nil {
		return false, fmt.Errorf("clean: swap: %w", err)
	}
	f, err := l.fs.OpenFile(finalPath, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		// NB: the renamed file is on disk and complete; readers still use the old handles and the
		// next Open loads the new file.
		return false, fmt.Errorf("clean: swap: %w", err)
	}
	out.log = f
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := l.fs.Rename(out.path(suffix)+cleanedSuffix, out.path(suffix)); err != nil {
			// NB: Open rebuilds a missing index.
			l.logger.Warn("cannot install cleaned segment index", "segment", out.name(), "err", err)
		}
	}

	closeAt := time.Now().Add(fileDeleteDelay)
	l.mu.Lock()
	ns := make([]*segment, 0, len(l.mu.segments)-len(g.segs)+1)
	ns = append(ns, l.mu.segments[:i]...)
	ns = append(ns, out)
	ns = append(ns, l.mu.segments[i+len(g.segs):]...)
	l.mu.segments = ns
	for _, s := range g.segs {
		l.mu.retired = append(l.mu.retired, retiredFile{f: s.log, closeAt: closeAt})
	}
	l.recomputeMaxTimestampLocked()
	l.mu.Unlock()
	return true, nil
}

// closeRetiredFiles closes the files of replaced segments whose delay has passed (all with force).
func (l *Log) closeRetiredFiles(now time.Time, force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.mu.retired[:0]
	for _, r := range l.mu.retired {
		if force || !now.Before(r.closeAt) {
			_ = r.f.Close()
		} else {
			kept = append(kept, r)
		}
	}
	clear(l.mu.retired[len(kept):])
	l.mu.retired = kept
}

// writeCleanerCheckpoint persists the first dirty offset and the tombstone clocks of the
// segments still in the log. Caller holds cleanMu.
//
// NB: one file in Kafka's checkpoint layout: the entry keyed -1 holds the first dirty offset,
// every other entry is (segment base offset, ms when the cleaner first kept its tombstones).
func (l *Log) writeCleanerCheckpoint() error {
	entries := [][2]int64{{-1, l.firstDirtyOffset.Load()}}
	for _, s := range l.segmentsSnapshot() {
		if since, ok := l.tombstoneSince[s.baseOffset]; ok {
			entries = append(entries, [2]int64{s.baseOffset, since})
		}
	}
	present := map[int64]bool{}
	for _, e := range entries[1:] {
		present[e[0]] = true
	}
	for base := range l.tombstoneSince {
		if !present[base] {
			delete(l.tombstoneSince, base)
		}
	}
	return writeFileAtomic(l.fs, l.path(cleanerCheckpointFile), encodeCheckpoint(entries))
}

// loadCleanerCheckpoint reads the cleaner checkpoint. A missing or malformed one makes the whole
// log dirty. It runs before the Log is shared.
func (l *Log) loadCleanerCheckpoint() {
	l.tombstoneSince = map[int64]int64{}
	l.firstDirtyOffset.Store(-1)
	es, err := readCheckpoint(l.fs, l.path(cleanerCheckpointFile))
	if err != nil {
		l.logger.Warn("ignoring malformed cleaner checkpoint", "err", err)
		return
	}
	for _, e := range es {
		if e[0] == -1 {
			l.firstDirtyOffset.Store(e[1])
		} else {
			l.tombstoneSince[e[0]] = e[1]
		}
	}
}

// recoverCleaning applies Kafka's recovery rules to the files a crashed Clean left: .cleaned
// files are deleted, and each <base>.log.swap replaces the segments whose base offsets fall in
// its offset range. It reports whether it changed the directory. It runs before the Log is shared.
func (l *Log) recoverCleaning(entries []os.DirEntry) (bool, error) {
	changed := false
	var bases []int64
	var swaps []int64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			l.logger.Warn("deleting an unfinished cleaned segment", "file", name)
			if err := l.fs.Remove(l.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return changed, err
			}
			changed = true
		case strings.HasSuffix(name, logSuffix+swapSuffix):
			if base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix+swapSuffix), 10, 64); err == nil && base >= 0 {
				swaps = append(swaps, base)
			}
		case strings.HasSuffix(name, logSuffix):
			if base, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64); err == nil && base >= 0 {
				bases = append(bases, base)
			}
		}
	}
	for _, base := range swaps {
		s := newSegment(l.dir, base)
		swapPath := s.path(logSuffix) + swapSuffix
		last, err := lastOffsetOf(l.fs, swapPath)
		if err != nil {
			return changed, fmt.Errorf("swap file %s: %w", filepath.Base(swapPath), err)
		}
		last = max(last, base)
		l.logger.Warn("completing an interrupted segment swap", "file", filepath.Base(swapPath), "lastOffset", last)
		for _, b := range bases {
			if b < base || b > last {
				continue
			}
			old := newSegment(l.dir, b)
			for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if b == base && suffix == logSuffix {
					continue
				}
				if err := l.fs.Remove(old.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return changed, err
				}
			}
		}
		for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
			if err := l.fs.Remove(s.path(suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return changed, err
			}
		}
		if err := l.fs.Rename(swapPath, s.path(logSuffix)); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// lastOffsetOf returns the last offset of the valid batches of a segment file, -1 if none.
func lastOffsetOf(fsys FS, name string) (int64, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return -1, err
	}
	size := fi.Size()
	r := newBatchReader(f, size, 64<<10)
	last := int64(-1)
	for pos := int64(0); pos < size; {
		h, err := r.header(pos)
		if err != nil || h.Length < minLength || pos+h.Size() > size {
			break
		}
		last = h.LastOffset()
		pos += h.Size()
	}
	return last, nil
}

// offsetMap maps a key to the latest offset seen for it. NB: exact keys rather than Kafka's
// fixed-size hash map: memory grows with the number of distinct keys in the cleanable section.
type offsetMap struct {
	index   map[string]int32
	offsets []int64
}

func newOffsetMap() *offsetMap { return &offsetMap{index: map[string]int32{}} }

func (m *offsetMap) put(key []byte, offset int64) {
	if i, ok := m.index[string(key)]; ok {
		m.offsets[i] = max(m.offsets[i], offset)
		return
	}
	m.index[string(key)] = int32(len(m.offsets))
	m.offsets = append(m.offsets, offset)
}

// get returns the latest offset of key, -1 if unknown.
func (m *offsetMap) get(key []byte) int64 {
	if i, ok := m.index[string(key)]; ok {
		return m.offsets[i]
	}
	return -1
}

// cleanScratch holds the buffers a Clean pass reuses.
type cleanScratch struct {
	batch []byte
	raw   []byte // decompressed records
	out   []byte // a rebuilt batch
	kept  []cleanerRecord
}

// records returns the records bytes of batch, decompressed if need be (aliasing scratch).
func (c *cleanScratch) records(h BatchHeader, batch []byte) ([]byte, error) {
	records := batch[BatchHeaderSize:]
	if h.Compression() == 0 {
		return records, nil
	}
	raw, err := decompress(h.Compression(), records)
	if err != nil {
		return nil, fmt.Errorf("%w: batch at offset %d: %v", ErrCorruptMessage, h.BaseOffset, err)
	}
	c.raw = raw
	return raw, nil
}

// forEachSegmentBatch reads the segment's batches in order, checking each CRC; batch aliases a
// buffer reused for the next call.
func forEachSegmentBatch(s *segment, scratch *cleanScratch, fn func(h BatchHeader, batch []byte) error) error {
	size := s.size.Load()
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, 0, size), 256<<10)
	for pos := int64(0); pos < size; {
		scratch.batch = growTo(scratch.batch, BatchHeaderSize)
		if _, err := io.ReadFull(r, scratch.batch); err != nil {
			return fmt.Errorf("read at position %d: %w", pos, err)
		}
		h, err := ParseBatchHeader(scratch.batch)
		if err != nil {
			return err
		}
		if h.Length < minLength || pos+h.Size() > size {
			return fmt.Errorf("%w: batch length %d at position %d", ErrCorruptMessage, h.Length, pos)
		}
		n := int(h.Size())
		if cap(scratch.batch) < n {
			nb := make([]byte, n, n+n/4)
			copy(nb, scratch.batch)
			scratch.batch = nb
		}
		scratch.batch = scratch.batch[:n]
		if _, err := io.ReadFull(r, scratch.batch[BatchHeaderSize:]); err != nil {
			return fmt.Errorf("read at position %d: %w", pos, err)
		}
		if batchCRC(scratch.batch) != h.CRC {
			return fmt.Errorf("%w: crc mismatch at position %d", ErrCorruptMessage, pos)
		}
		if err := fn(h, scratch.batch); err != nil {
			return err
		}
		pos += h.Size()
	}
	return nil
}

// cleanerRecord is one record of a batch as the cleaner sees it. key and tail alias the records
// bytes.
type cleanerRecord struct {
	attributes  byte
	tsDelta     int64
	offsetDelta int64
	key         []byte
	hasKey      bool
	nullValue   bool
	tail        []byte // the record from its key length to its end
}

// forEachCleanerRecord parses n v2 records (never panicking on malformed input).
func forEachCleanerRecord(records []byte, n int32, fn func(r *cleanerRecord) error) error {
	var rec cleanerRecord
	b := records
	for i := int32(0); i < n; i++ {
		length, k := binary.Varint(b)
		if k <= 0 || length < 1 || length > int64(len(b)-k) {
			return fmt.Errorf("%w: record %d: bad length", ErrCorruptMessage, i)
		}
		body := b[k : k+int(length)]
		b = b[k+int(length):]
		rec = cleanerRecord{attributes: body[0]}
		r := body[1:]
		var ok bool
		if rec.tsDelta, r, ok = readVarint(r); !ok {
			return fmt.Errorf("%w: record %d: bad timestamp delta", ErrCorruptMessage, i)
		}
		if rec.offsetDelta, r, ok = readVarint(r); !ok || rec.offsetDelta < 0 {
			return fmt.Errorf("%w: record %d: bad offset delta", ErrCorruptMessage, i)
		}
		rec.tail = r
		var kl int64
		if kl, r, ok = readVarint(r); !ok || kl < -1 || kl > int64(len(r)) {
			return fmt.Errorf("%w: record %d: bad key", ErrCorruptMessage, i)
		}
		if kl >= 0 {
			rec.key, rec.hasKey, r = r[:kl], true, r[kl:]
		}
		var vl int64
		if vl, _, ok = readVarint(r); !ok || vl < -1 {
			return fmt.Errorf("%w: record %d: bad value", ErrCorruptMessage, i)
		}
		rec.nullValue = vl == -1
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

func readVarint(b []byte) (int64, []byte, bool) {
	v, k := binary.Varint(b)
	if k <= 0 {
		return 0, b, false
	}
	return v, b[k:], true
}

// rebuildBatch encodes a batch holding only the kept records of h, which keep their offsets and
// timestamps: the base offset moves to the first kept record (the base sequence moves with it),
// the other header fields are h's; a compressed batch is re-compressed with its codec (or stored
// uncompressed if that fails). buf is reused. It returns the batch and its header.
func rebuildBatch(h BatchHeader, kept []cleanerRecord, buf *[]byte) ([]byte, BatchHeader) {
	newBase := kept[0].offsetDelta
	var records []byte
	maxTs := int64(-1)
	for _, r := range kept {
		var body []byte
		body = append(body, r.attributes)
		body = binary.AppendVarint(body, r.tsDelta)
		body = binary.AppendVarint(body, r.offsetDelta-newBase)
		body = append(body, r.tail...)
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
		maxTs = max(maxTs, h.FirstTimestamp+r.tsDelta)
	}
	nh := h
	nh.BaseOffset = h.BaseOffset + newBase
	nh.LastOffsetDelta = int32(kept[len(kept)-1].offsetDelta - newBase)
	nh.NumRecords = int32(len(kept))
	if h.ProducerID >= 0 && h.FirstSequence >= 0 {
		nh.FirstSequence = incrementSequence(h.FirstSequence, int32(newBase))
	}
	if h.Attributes&attrLogAppendTime == 0 {
		nh.MaxTimestamp = maxTs
	}
	if codec := h.Compression(); codec != 0 {
		if c, err := compressRecords(codec, records); err == nil {
			records = c
		} else {
			nh.Attributes &^= attrCompressionMask
		}
	}
	b := (*buf)[:0]
	b = binary.BigEndian.AppendUint64(b, uint64(nh.BaseOffset))
	b = binary.BigEndian.AppendUint32(b, 0) // length, below
	b = binary.BigEndian.AppendUint32(b, uint32(nh.PartitionLeaderEpoch))
	b = append(b, 2)
	b = binary.BigEndian.AppendUint32(b, 0) // crc, below
	b = binary.BigEndian.AppendUint16(b, uint16(nh.Attributes))
	b = binary.BigEndian.AppendUint32(b, uint32(nh.LastOffsetDelta))
	b = binary.BigEndian.AppendUint64(b, uint64(nh.FirstTimestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(nh.MaxTimestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(nh.ProducerID))
	b = binary.BigEndian.AppendUint16(b, uint16(nh.ProducerEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(nh.FirstSequence))
	b = binary.BigEndian.AppendUint32(b, uint32(nh.NumRecords))
	b = append(b, records...)
	nh.Length = int32(len(b) - lengthOverhead)
	binary.BigEndian.PutUint32(b[offLength:], uint32(nh.Length))
	nh.CRC = batchCRC(b)
	binary.BigEndian.PutUint32(b[offCRC:], nh.CRC)
	*buf = b
	return b, nh
}

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
})

// compressRecords encodes records with a batch codec: 1 gzip, 2 snappy (a plain block, which Kafka's
// clients and decompress read), 3 lz4 (frame), 4 zstd.
func compressRecords(codec int, records []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case 1:
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(records); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case 2:
		return snappy.Encode(nil, records), nil
	case 3:
		zw := lz4.NewWriter(&buf)
		if _, err := zw.Write(records); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case 4:
		e, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return e.EncodeAll(records, nil), nil
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}
