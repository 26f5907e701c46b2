package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch.
type batchSpec struct {
	records       int
	valueSize     int
	firstTs       int64 // timestamp of the first record; record i has firstTs+i
	producerID    int64 // 0 means -1 (not idempotent)
	producerEpoch int16
	firstSeq      int32
	nullKeys      bool
	tag           string // prefix of every value, to tell batches apart
	attributes    int16
}

func encodeRecords(s batchSpec) []byte {
	var out []byte
	for i := 0; i < s.records; i++ {
		val := []byte(fmt.Sprintf("%s-%d", s.tag, i))
		if len(val) < s.valueSize {
			val = append(val, bytes.Repeat([]byte{'x'}, s.valueSize-len(val))...)
		}
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: val}
		if !s.nullKeys {
			r.Key = []byte(fmt.Sprintf("k%d", i))
		}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // the zero length encodes in one byte
		out = r.AppendTo(out)
	}
	return out
}

func makeBatchFromRecords(s batchSpec, records []byte) []byte {
	pid, seq := int64(-1), int32(-1)
	if s.producerID != 0 {
		pid, seq = s.producerID, s.firstSeq
	}
	ts := s.firstTs
	if ts == 0 {
		ts = 1_000
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attributes,
		LastOffsetDelta:      int32(s.records - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts + int64(s.records-1),
		ProducerID:           pid,
		ProducerEpoch:        s.producerEpoch,
		FirstSequence:        seq,
		NumRecords:           int32(s.records),
		Records:              records,
	}
	if pid < 0 {
		rb.ProducerEpoch = -1
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	fixCRC(b)
	return b
}

func makeBatch(s batchSpec) []byte {
	if s.records == 0 {
		s.records = 1
	}
	return makeBatchFromRecords(s, encodeRecords(s))
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

type testRecord struct {
	offset    int64
	timestamp int64
	value     string
}

// decodeBatches decodes stored batches (uncompressed) into records, checking each CRC.
func decodeBatches(t testing.TB, b []byte) []testRecord {
	t.Helper()
	var out []testRecord
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		size := int(rb.Length) + 12
		if uint32(rb.CRC) != crc32.Checksum(b[21:size], crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatalf("batch at offset %d has a bad CRC", rb.FirstOffset)
		}
		recs := rb.Records
		for i := 0; i < int(rb.NumRecords); i++ {
			l, k := binary.Varint(recs)
			var r kmsg.Record
			if err := r.ReadFrom(recs[:k+int(l)]); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			recs = recs[k+int(l):]
			ts := rb.FirstTimestamp + r.TimestampDelta64
			if rb.Attributes&0x08 != 0 {
				ts = rb.MaxTimestamp
			}
			out = append(out, testRecord{rb.FirstOffset + int64(r.OffsetDelta), ts, string(bytes.TrimRight(r.Value, "x"))})
		}
		b = b[size:]
	}
	return out
}

func testConfig() Config {
	c := DefaultConfig()
	c.RetentionMs = -1
	c.RetentionBytes = -1
	return c
}

func quietOptions() Options {
	return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func openLog(t testing.TB, dir string, cfg Config, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietOptions().Logger
	}
	l, err := Open(dir, cfg, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, epoch int32) AppendResult {
	t.Helper()
	res, err := l.Append(b, epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// readAll reads every record from offset to maxOffset, following segments.
func readAll(t testing.TB, l *Log, offset, maxOffset int64) []testRecord {
	t.Helper()
	var out []testRecord
	for offset < maxOffset {
		c, err := l.Read(offset, 1<<20, maxOffset)
		if err != nil {
			t.Fatalf("Read(%d): %v", offset, err)
		}
		if c.Size == 0 {
			t.Fatalf("Read(%d) returned nothing before %d", offset, maxOffset)
		}
		b, err := c.ReadInto(nil)
		if err != nil {
			t.Fatalf("ReadInto: %v", err)
		}
		for _, r := range decodeBatches(t, b) {
			if r.offset >= offset {
				out = append(out, r)
			}
		}
		offset = c.NextOffset()
	}
	return out
}

// crash abandons a Log as a process crash would: files closed, nothing written.
func crash(l *Log) {
	l.closed.Store(true)
	l.closeFiles()
}

// faultFS wraps the OS filesystem and fails writes of segment data on demand.
type faultFS struct {
	FS
	failWrites atomic.Bool // the next writes to .log files write half and fail
	failSyncs  atomic.Bool
	mu         sync.Mutex
	writes     int
}

var errInjected = errors.New("injected I/O error")

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, data: filepath.Ext(name) == ".log"}, nil
}

type faultFile struct {
	File
	fs   *faultFS
	data bool
}

func (f *faultFile) Write(b []byte) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes++
	f.fs.mu.Unlock()
	if f.data && f.fs.failWrites.Load() {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, errInjected
	}
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	if f.fs.failSyncs.Load() {
		return errInjected
	}
	return f.File.Sync()
}

// fakeClock is a settable Options.Now.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }
