package log

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// This file holds what a follower replica needs of its log: appending the leader's batches with
// the leader's offsets and epochs, truncating by leader epoch (KIP-101) and starting over at the
// leader's log start offset, and recording a new leader epoch's start offset.

// ErrUnexpectedAppendOffset is returned by AppendAsFollower when the fetched batches start below
// the log end offset (Kafka's UnexpectedAppendOffsetException): the fetcher and the log disagree.
var ErrUnexpectedAppendOffset = errors.New("log: unexpected append offset")

// AppendAsFollower appends batches fetched from the leader exactly as they are: base offsets,
// partition leader epochs, timestamps and CRCs are the leader's. The first batch must start at or
// after the log end offset (a compacted leader may leave gaps) and offsets must ascend. Each
// batch's CRC is checked; producer state follows the batches without sequence validation (the
// leader validated them) and the leader epoch cache records each new epoch at its first batch.
// Either every batch is appended or none. Errors: ErrCorruptMessage, ErrUnexpectedAppendOffset,
// ErrClosed, or a wrapped I/O error.
func (l *Log) AppendAsFollower(batches []byte) (AppendResult, error) {
	res := AppendResult{LogAppendTime: -1}
	var hs []BatchHeader
	for pos := 0; pos < len(batches); {
		h, err := ParseBatchHeader(batches[pos:])
		if err != nil {
			return res, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		if h.Length < minLength || int64(len(batches)-pos) < h.Size() || h.LastOffsetDelta < 0 || h.NumRecords < 0 {
			return res, fmt.Errorf("%w: batch at byte %d: length %d, last offset delta %d", ErrCorruptMessage, pos, h.Length, h.LastOffsetDelta)
		}
		if crc := batchCRC(batches[pos : pos+int(h.Size())]); crc != h.CRC {
			return res, fmt.Errorf("%w: batch at offset %d: crc %08x, computed %08x", ErrCorruptMessage, h.BaseOffset, h.CRC, crc)
		}
		if n := len(hs); n > 0 && h.BaseOffset <= hs[n-1].LastOffset() {
			return res, fmt.Errorf("%w: batch at offset %d after one ending at %d", ErrCorruptMessage, h.BaseOffset, hs[n-1].LastOffset())
		}
		hs = append(hs, h)
		pos += int(h.Size())
	}
	if len(hs) == 0 {
		return res, fmt.Errorf("%w: no record batch", ErrCorruptMessage)
	}

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return res, ErrClosed
	}
	if l.failed != nil {
		return res, fmt.Errorf("log: refusing appends after a failed write: %w", l.failed)
	}
	leo := l.logEndOffset.Load()
	if hs[0].BaseOffset < leo {
		return res, fmt.Errorf("%w: batch at %d, log end offset %d", ErrUnexpectedAppendOffset, hs[0].BaseOffset, leo)
	}
	cfg := l.Config()
	now := l.now()
	last := hs[len(hs)-1].LastOffset()
	active := l.active()
	switch {
	case last-active.baseOffset > math.MaxUint32:
		// NB: a gap in the leader's offsets (compaction) beyond what the active segment's relative
		// offsets hold: start a segment at the first batch, as Kafka rolls at the batch's offset.
		if last-hs[0].BaseOffset > math.MaxUint32 {
			return res, fmt.Errorf("%w: batches at %d..%d span more than a segment can index", ErrCorruptMessage, hs[0].BaseOffset, last)
		}
		var err error
		if active, err = l.rollAtLocked(hs[0].BaseOffset); err != nil {
			return res, err
		}
	case l.shouldRoll(active, &cfg, int64(len(batches)), last, now):
		var err error
		if active, err = l.rollLocked(); err != nil {
			return res, err
		}
	}
	pos := active.size.Load()
	if _, err := active.log.Write(batches); err != nil {
		if terr := active.log.Truncate(pos); terr != nil {
			l.failed = fmt.Errorf("segment %s: truncate after failed write: %w", active.name(), terr)
			l.logger.Error("cannot undo a failed append", "segment", active.name(), "err", terr)
		}
		return res, fmt.Errorf("segment %s: append: %w", active.name(), err)
	}
	p := pos
	for _, h := range hs {
		active.observe(h, p, cfg.IndexIntervalBytes)
		p += h.Size()
		l.producers.replay(h)
		res.Records += int64(h.NumRecords)
	}
	if active.rollTime.IsZero() {
		active.rollTime = now
	}
	active.size.Store(pos + int64(len(batches)))

	l.mu.Lock()
	changed := false
	for _, h := range hs {
		changed = l.mu.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset) || changed
		if l.mu.offsetOfMaxTimestamp < 0 || h.MaxTimestamp > l.mu.maxTimestamp {
			l.mu.maxTimestamp, l.mu.offsetOfMaxTimestamp = h.MaxTimestamp, h.BaseOffset
		}
	}
	if changed {
		l.writeEpochsLocked()
	}
	l.mu.Unlock()
	l.logEndOffset.Store(last + 1)

	res.BaseOffset, res.LastOffset, res.LogStartOffset = hs[0].BaseOffset, last, l.logStartOffset.Load()
	l.unflushed += res.Records
	if l.flushDue(&cfg, now) {
		if err := active.log.Sync(); err != nil {
			l.failed = err
			return res, fmt.Errorf("segment %s: fsync: %w", active.name(), err)
		}
		l.unflushed, l.lastFlush = 0, now
	}
	return res, nil
}

// AssignEpochStartOffset records that leader epoch epoch starts at offset (a new leader calls it
// with its log end offset), if epoch is newer than the latest known. Kafka's
// maybeAssignEpochStartOffset: OffsetForLeaderEpoch answers correctly before the new leader has
// appended anything.
func (l *Log) AssignEpochStartOffset(epoch int32, offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if offset > l.logEndOffset.Load() {
		return fmt.Errorf("log: leader epoch %d start %d beyond the log end offset %d", epoch, offset, l.logEndOffset.Load())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.epochs.assign(epoch, offset) {
		l.writeEpochsLocked()
	}
	return nil
}

// TruncateTo removes every record at or after offset (a follower diverging from its leader,
// KIP-101). A batch holding offset is removed whole, so the log end offset may end below offset;
// the high watermark follows it down. Offsets at or beyond the log end change nothing; an offset
// below the log start offset empties the log and starts it at offset.
func (l *Log) TruncateTo(offset int64) error {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if offset >= l.logEndOffset.Load() {
		// NB: nothing to cut, but an epoch that starts at the log end still goes: this broker led
		// that epoch and wrote nothing in it before another leader took over. Kept, it makes every
		// fetch of the follower diverge at the log end again (its last fetched epoch is one the
		// leader never had), so it would truncate to the same offset forever. Kafka's truncateTo
		// drops it too.
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.mu.epochs.truncateFromEnd(l.logEndOffset.Load()) {
			l.writeEpochsLocked()
		}
		return nil
	}
	if offset < l.logStartOffset.Load() {
		return l.truncateFullyLocked(offset)
	}
	segs := l.segmentsSnapshot()
	keep := sort.Search(len(segs), func(i int) bool { return segs[i].baseOffset >= offset })
	keep = max(keep, 1) // the first segment stays, maybe emptied
	s := segs[keep-1]
	cut := s.size.Load()
	err := s.forEachBatch(s.lookup(offset), func(h BatchHeader, pos int64) bool {
		if h.LastOffset() >= offset {
			cut = pos
			return false
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("segment %s: truncate to %d: %w", s.name(), offset, err)
	}
	// Publish the lower ends first so no new reader goes past them.
	newEnd := s.baseOffset
	if err := s.forEachBatch(0, func(h BatchHeader, pos int64) bool {
		if pos >= cut {
			return false
		}
		newEnd = h.LastOffset() + 1
		return true
	}); err != nil {
		return fmt.Errorf("segment %s: truncate to %d: %w", s.name(), offset, err)
	}
	l.logEndOffset.Store(newEnd)
	if l.highWatermark.Load() > newEnd {
		l.highWatermark.Store(newEnd)
	}
	if err := s.log.Truncate(cut); err != nil {
		l.failed = fmt.Errorf("segment %s: truncate to %d: %w", s.name(), offset, err)
		return l.failed
	}
	s.size.Store(cut)
	if _, err := s.scan(l.Config().IndexIntervalBytes, false, nil); err != nil {
		l.failed = fmt.Errorf("segment %s: rescan after truncation: %w", s.name(), err)
		return l.failed
	}
	l.mu.Lock()
	removed := l.mu.segments[keep:]
	l.mu.segments = l.mu.segments[:keep:keep]
	l.mu.epochs.truncateFromEnd(newEnd)
	l.writeEpochsLocked()
	l.recomputeMaxTimestampLocked()
	l.mu.Unlock()
	for _, r := range removed {
		l.removeSegmentFiles(r)
	}
	if l.firstDirtyOffset.Load() > newEnd {
		l.firstDirtyOffset.Store(newEnd)
	}
	return l.reloadProducerStateLocked(newEnd)
}

// TruncateFullyAndStartAt empties the log and starts it at offset: a follower whose fetch offset
// fell below the leader's log start offset (OFFSET_OUT_OF_RANGE) starts over there.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	return l.truncateFullyLocked(offset)
}

func (l *Log) truncateFullyLocked(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("log: cannot start at negative offset %d", offset)
	}
	l.logEndOffset.Store(min(l.logEndOffset.Load(), offset))
	l.highWatermark.Store(min(l.highWatermark.Load(), offset))
	if err := l.writeLogStartOffset(offset); err != nil {
		return fmt.Errorf("log: start at %d: %w", offset, err)
	}
	s, err := createSegment(l.fs, l.dir, offset)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.mu.segments
	l.mu.segments = []*segment{s}
	l.mu.epochs.entries = nil
	l.writeEpochsLocked()
	l.recomputeMaxTimestampLocked()
	l.mu.Unlock()
	for _, o := range old {
		if o.baseOffset != offset {
			l.removeSegmentFiles(o)
		} else {
			// createSegment truncated and reopened its .log; its indexes are stale.
			if o.log != nil {
				_ = o.log.Close()
			}
			_ = l.fs.Remove(o.path(indexSuffix))
			_ = l.fs.Remove(o.path(timeIndexSuffix))
		}
	}
	l.logStartOffset.Store(offset)
	l.logEndOffset.Store(offset)
	l.highWatermark.Store(offset)
	l.firstDirtyOffset.Store(min(l.firstDirtyOffset.Load(), offset))
	for _, off := range l.snapshots {
		_ = l.fs.Remove(snapshotPath(l.dir, off))
	}
	l.snapshots = nil
	l.producers = newProducerState()
	return nil
}

// reloadProducerStateLocked rebuilds producer state for a log ending at leo from the newest
// snapshot at or below it. Caller holds appendMu.
func (l *Log) reloadProducerStateLocked(leo int64) error {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("log: rebuild producer state: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return l.loadProducerState(names, l.segmentsSnapshot(), leo)
}

// rollAtLocked seals the active segment and starts one at baseOffset (beyond the log end offset:
// the leader's next batch after a gap). Caller holds appendMu.
func (l *Log) rollAtLocked(baseOffset int64) (*segment, error) {
	old := l.active()
	if err := old.log.Sync(); err != nil {
		return nil, fmt.Errorf("segment %s: fsync on roll: %w", old.name(), err)
	}
	if err := old.writeIndexes(l.fs); err != nil {
		return nil, fmt.Errorf("segment %s: roll: %w", old.name(), err)
	}
	s, err := createSegment(l.fs, l.dir, baseOffset)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.mu.segments = append(l.mu.segments, s)
	l.mu.Unlock()
	l.unflushed = 0
	l.writeSnapshotLocked(l.logEndOffset.Load())
	return s, nil
}

// RestoreHighWatermark sets the high watermark to hw, clamped to [LogStartOffset, LogEndOffset],
// even below the current one: Open starts it at the log end offset, which in a cluster may hold
// records no quorum has; the broker restores the checkpointed high watermark before serving.
func (l *Log) RestoreHighWatermark(hw int64) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.highWatermark.Store(max(min(hw, l.logEndOffset.Load()), l.logStartOffset.Load()))
}
