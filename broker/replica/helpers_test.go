package replica

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/partition"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// batch returns a v2 record batch with one record per value, at base offset 0.
func batch(values ...string) []byte { return idempotentBatch(-1, -1, -1, values...) }

// idempotentBatch is batch from producer id pid (epoch, first sequence seq); pid -1 for none.
func idempotentBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	n := len(values)
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: 1000,
		MaxTimestamp: 1000 + int64(n-1), ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(n), Records: recs}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// record is one record read back from a log: where it is, which epoch wrote it, what it holds.
type record struct {
	Offset int64
	Epoch  int32
	Value  string
}

func (r record) String() string { return fmt.Sprintf("%d@e%d=%s", r.Offset, r.Epoch, r.Value) }

// readLog returns every record of l from its log start to its log end, checking batch CRCs.
func readLog(t testing.TB, l *plog.Log) []record {
	t.Helper()
	out, err := tryReadLog(t, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryReadLog is readLog for a log being truncated meanwhile (a read may race with it). Records
// below the log start offset, in a batch straddling it, are left out as a consumer would.
func tryReadLog(t testing.TB, l *plog.Log) ([]record, error) {
	t.Helper()
	var out []record
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		c, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil {
			return nil, fmt.Errorf("read at %d: %w", off, err)
		}
		b, err := c.ReadInto(nil)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			break
		}
		for _, r := range decode(t, b) {
			if r.Offset >= l.LogStartOffset() { // a batch may straddle the log start offset
				out = append(out, r)
			}
		}
		off = c.NextOffset()
	}
	return out, nil
}

func decode(t testing.TB, b []byte) []record {
	t.Helper()
	var out []record
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
		for range rb.NumRecords {
			l, k := binary.Varint(recs)
			var r kmsg.Record
			if err := r.ReadFrom(recs[:k+int(l)]); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			recs = recs[k+int(l):]
			out = append(out, record{rb.FirstOffset + int64(r.OffsetDelta), rb.PartitionLeaderEpoch, string(r.Value)})
		}
		b = b[size:]
	}
	return out
}

func openLog(t testing.TB, dir string) *plog.Log {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l, err := plog.Open(dir, plog.DefaultConfig(), plog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendAt appends one batch of values to l as leader of epoch.
func appendAt(t testing.TB, l *plog.Log, epoch int32, values ...string) {
	t.Helper()
	if _, err := l.Append(batch(values...), epoch); err != nil {
		t.Fatal(err)
	}
}

// follower returns a partition on broker id following leader at epoch, over l.
func follower(t testing.TB, id, leader, epoch int32, l *plog.Log, replicas ...int32) *partition.Partition {
	t.Helper()
	p := partition.New("t", 0, id, l, l.HighWatermark(), partition.Config{}, partition.Options{Logger: quiet()})
	if _, err := p.ApplyAssignment(partition.Assignment{Leader: leader, LeaderEpoch: epoch, PartitionEpoch: epoch,
		Replicas: replicas, ISR: replicas}); err != nil {
		t.Fatal(err)
	}
	return p
}
