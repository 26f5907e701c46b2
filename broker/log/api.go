package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// Sentinel errors returned by Append and Read. The broker maps each to a Kafka error code.
var (
	ErrCorruptMessage           = errors.New("log: corrupt message")            // CORRUPT_MESSAGE (2)
	ErrMessageTooLarge          = errors.New("log: message too large")          // MESSAGE_TOO_LARGE (10)
	ErrInvalidRecord            = errors.New("log: invalid record")             // INVALID_RECORD (87)
	ErrOffsetOutOfRange         = errors.New("log: offset out of range")        // OFFSET_OUT_OF_RANGE (1)
	ErrOutOfOrderSequence       = errors.New("log: out of order sequence")      // OUT_OF_ORDER_SEQUENCE_NUMBER (45)
	ErrInvalidProducerEpoch     = errors.New("log: invalid producer epoch")     // INVALID_PRODUCER_EPOCH (47)
	ErrUnsupportedMessageFormat = errors.New("log: unsupported message format") // UNSUPPORTED_FOR_MESSAGE_FORMAT (43)
	ErrClosed                   = errors.New("log: closed")
)

// Config is a partition log's configuration, in Kafka's topic-level terms.
type Config struct {
	SegmentBytes       int64 // segment.bytes
	SegmentMs          int64 // segment.ms
	RetentionMs        int64 // retention.ms; -1 keeps forever
	RetentionBytes     int64 // retention.bytes; -1 means no size limit
	FlushMessages      int64 // flush.messages; <=0 or MaxInt64 never fsyncs by count
	FlushMs            int64 // flush.ms; <=0 or MaxInt64 never fsyncs by time
	IndexIntervalBytes int64 // index.interval.bytes
	MaxMessageBytes    int   // max.message.bytes: the largest batch accepted
	LogAppendTime      bool  // message.timestamp.type=LogAppendTime
	Delete             bool  // cleanup.policy contains "delete": retention applies
	Compact            bool  // cleanup.policy contains "compact": keyless records are rejected, Clean compacts

	DeleteRetentionMs      int64   // delete.retention.ms: how long the cleaner keeps tombstones
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio
	MinCompactionLagMs     int64   // min.compaction.lag.ms: records younger than this are not compacted
	MaxCompactionLagMs     int64   // max.compaction.lag.ms: records older than this are compacted regardless of the dirty ratio
}

// Options are the non-config dependencies of a Log.
type Options struct {
	FS     FS               // nil means the OS filesystem
	Logger *slog.Logger     // nil means slog.Default()
	Now    func() time.Time // nil means time.Now
}

// AppendResult describes where an appended (or de-duplicated) set of batches landed.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record appended
	LastOffset     int64 // offset of the last record appended
	LogAppendTime  int64 // -1 unless the log uses LogAppendTime
	LogStartOffset int64
	Duplicate      bool // the batch was a retry of one already in the log; offsets are the original ones
	Records        int64
}

// Chunk is a byte range of one segment file holding whole record batches.
// It stays readable until the segment is deleted; a read after that fails.
type Chunk struct {
	File File  // the segment's log file
	Pos  int64 // byte position of the first batch
	Size int   // bytes, whole batches only
	// Next is the offset following the last batch in the chunk; for an empty chunk, the offset asked for.
	Next int64
}

// NextOffset returns the offset following the last batch in the chunk: where the next Read continues.
func (c Chunk) NextOffset() int64 { return c.Next }

// ReadInto appends the chunk's bytes to dst and returns the extended slice. It fails if the segment
// has been deleted (closed) since the chunk was returned.
func (c Chunk) ReadInto(dst []byte) ([]byte, error) {
	if c.Size <= 0 {
		return dst, nil
	}
	n := len(dst)
	dst = slices.Grow(dst, c.Size)[:n+c.Size]
	if _, err := c.File.ReadAt(dst[n:], c.Pos); err != nil {
		return dst[:n], fmt.Errorf("log: read chunk of %s at %d: %w", c.File.Name(), c.Pos, err)
	}
	return dst, nil
}

// DefaultConfig returns Kafka's topic defaults (cleanup.policy=delete).
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		RetentionMs:        7 * 24 * 60 * 60 * 1000,
		RetentionBytes:     -1,
		FlushMessages:      math.MaxInt64,
		FlushMs:            math.MaxInt64,
		IndexIntervalBytes: 4096,
		MaxMessageBytes:    1048588,
		Delete:             true,

		DeleteRetentionMs:      24 * 60 * 60 * 1000,
		MinCleanableDirtyRatio: 0.5,
		MinCompactionLagMs:     0,
		MaxCompactionLagMs:     math.MaxInt64,
	}
}
