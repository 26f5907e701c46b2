// Package log is a partition's log: Kafka's storage model for one topic partition.
//
// A partition is a directory of segments. A segment is named by its base offset (20 digits):
// the .log file holds v2 RecordBatches back to back, exactly as produced except for the base
// offset and partition leader epoch (and, with LogAppendTime, the timestamp type, max timestamp
// and CRC), so Fetch can hand stored bytes to the network untouched. Each segment has a sparse
// offset index (.index: relative offset uint32, position uint32, an entry every
// index.interval.bytes) and a sparse time index (.timeindex: max timestamp so far int64, relative
// offset uint32). Indexes live in memory and are written when a segment is rolled (after the
// segment is fsynced); the active segment's are rebuilt by a scan on Open. The directory also holds leader-epoch-checkpoint,
// log-start-offset, producer state snapshots (<offset>.snapshot) and, between a Close and the
// next Open, a clean-shutdown marker.
//
// Three offsets are distinct: the log start offset (first readable; moved by retention and
// DeleteRecordsBefore, persisted), the high watermark (committed; set by the caller, in memory,
// starting at the log end offset on Open) and the log end offset (the next offset to assign).
//
// Recovery: Open loads sealed segments' indexes, rebuilding any that are missing or
// inconsistent. Sealed segments were fsynced when rolled, so after a crash (no clean-shutdown
// marker) only the active segment is scanned batch by batch — length, magic and CRC-32C — and
// truncated at the first torn or corrupt batch. Producer state (for idempotent producers) comes
// from the newest snapshot, replaying batch headers after it.
//
// Concurrency and lock order. Writers (Append, roll, EnforceRetention, DeleteRecordsBefore,
// Flush, Close) are serialized by Log.appendMu; they hold it across file writes and fsyncs.
// Readers never take appendMu: the log end offset, high watermark and log start offset are
// atomics, each segment's visible size is an atomic published after its bytes are written and
// before the log end offset moves, and files are read with ReadAt. Log.mu (an RWMutex) guards
// the segment list, the leader epoch cache and the maximum timestamp; segment.idx guards one
// segment's in-memory indexes. The order is
//
//	Log.cleanMu → Log.appendMu → Log.mu → segment.idx
//
// and no lock is held while waiting on the disk except appendMu (and cleanMu, which only the
// cleaner takes).
//
// Compaction (compact.go, cleanup.policy=compact): Clean rewrites closed segments keeping the latest
// record per key at its original offset, tombstones until delete.retention.ms after they were
// first kept, into <base>.log.cleaned files that are fsynced, renamed to .swap and swapped in under
// appendMu; Open deletes .cleaned files and completes .swap files, so a crash mid-clean loses nothing
// and never serves a half-written segment. Replaced files stay open (readable) for
// file.delete.delay.ms.
//
// Retention deletes whole segments and closes their files: a Chunk from a deleted segment fails
// on ReadInto, and a Read racing with deletion returns ErrOffsetOutOfRange.
package log
