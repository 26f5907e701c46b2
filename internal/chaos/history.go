//go:build unix

package chaos

import (
	"fmt"
	"strconv"
	"strings"
)

// Value identifies one record the workload wrote: its producer and that producer's sequence
// number. Every value is written at most once by the workload, so a value read twice, or at an
// offset other than the one acknowledged, is an anomaly.
type Value struct {
	Producer int
	Seq      int64
}

// String is the value's record encoding, "p<producer>-s<seq>".
func (v Value) String() string {
	return "p" + strconv.Itoa(v.Producer) + "-s" + strconv.FormatInt(v.Seq, 10)
}

// ParseValue decodes a record value written by the workload (Value.String).
func ParseValue(b []byte) (Value, error) {
	p, s, ok := strings.Cut(string(b), "-s")
	if !ok || !strings.HasPrefix(p, "p") {
		return Value{}, fmt.Errorf("chaos: record value %q is not p<producer>-s<seq>", b)
	}
	producer, err := strconv.Atoi(p[1:])
	if err != nil {
		return Value{}, fmt.Errorf("chaos: record value %q: producer: %w", b, err)
	}
	seq, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Value{}, fmt.Errorf("chaos: record value %q: sequence: %w", b, err)
	}
	return Value{Producer: producer, Seq: seq}, nil
}

// Ack is a write the broker acknowledged (acks=all) at Partition/Offset.
type Ack struct {
	Value     Value
	Partition int32
	Offset    int64
}

// Failure is a write whose produce failed: it is indeterminate (it may or may not be in the log),
// so it is never counted as lost, and reading it is not an anomaly.
type Failure struct {
	Value     Value
	Partition int32
	Err       string
}

// Read is one record a reader saw. Session numbers a reader that starts from the beginning:
// offsets are expected to rise within a session, not across sessions. A reader that restarts its
// client and resumes after its last record stays in its session.
type Read struct {
	Session   int
	Partition int32
	Offset    int64
	Value     Value
}

// History is everything a run observed: every acknowledged and every failed write, every record
// the concurrent reader polled (in poll order), and a final full read of every partition (in
// offset order per partition) taken after the writes stopped.
type History struct {
	Acks     []Ack
	Failures []Failure
	Polls    []Read
	Final    []Read
}
