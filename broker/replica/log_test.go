package replica

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	plog "github.com/gregor-streams/gregor/broker/log"
)

// The follower's log operations (broker/log/follower.go) as the fetcher uses them, on real files.

// followerCopy appends every batch of src to dst as a follower would receive them.
func followerCopy(t *testing.T, src, dst *plog.Log) {
	t.Helper()
	for off := dst.LogEndOffset(); off < src.LogEndOffset(); {
		c, err := src.Read(off, 1, src.LogEndOffset()) // one batch at a time
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.ReadInto(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.AppendAsFollower(b); err != nil {
			t.Fatalf("append as follower at %d: %v", off, err)
		}
		off = c.NextOffset()
	}
}

func smallSegments(t *testing.T, dir string) *plog.Log {
	t.Helper()
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 300 // a few batches per segment
	l, err := plog.Open(dir, cfg, plog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestFollowerLogKeepsLeaderOffsetsAndTruncatesAcrossSegmentsDurably(t *testing.T) {
	leader := openLog(t, "")
	for i := range 20 {
		appendAt(t, leader, int32(1+i/5), "v"+string(rune('a'+i)))
	}
	dir := t.TempDir()
	f := smallSegments(t, dir)
	followerCopy(t, leader, f)
	if got, want := readLog(t, f), readLog(t, leader); !slices.Equal(got, want) {
		t.Fatalf("follower %v, leader %v", got, want)
	}
	if f.NumSegments() < 3 {
		t.Fatalf("%d segments, want several to truncate across", f.NumSegments())
	}
	if _, err := f.AppendAsFollower(batch("again")); !errors.Is(err, plog.ErrUnexpectedAppendOffset) {
		t.Fatalf("appending at offset 0 again: %v, want ErrUnexpectedAppendOffset", err)
	}

	if err := f.TruncateTo(7); err != nil {
		t.Fatal(err)
	}
	want := readLog(t, leader)[:7]
	if got := readLog(t, f); !slices.Equal(got, want) || f.LogEndOffset() != 7 {
		t.Fatalf("after TruncateTo(7): end %d, %v", f.LogEndOffset(), got)
	}
	if e, end := f.EndOffsetForEpoch(2); e != 2 || end != 7 || f.LatestEpoch() != 2 {
		t.Fatalf("epoch 2 ends at %d (epoch %d), latest %d; want 7, 2, 2", end, e, f.LatestEpoch())
	}
	// Appending after the truncation continues at 7; reopening keeps all of it.
	followerCopy(t, leader, f)
	if err := f.TruncateTo(12); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f = smallSegments(t, dir)
	defer f.Close()
	if got, want := readLog(t, f), readLog(t, leader)[:12]; !slices.Equal(got, want) {
		t.Fatalf("after reopening: %v, want %v", got, want)
	}
	if f.LatestEpoch() != 3 {
		t.Fatalf("latest epoch after reopening %d, want 3", f.LatestEpoch())
	}
	if err := f.TruncateFullyAndStartAt(30); err != nil {
		t.Fatal(err)
	}
	if f.LogStartOffset() != 30 || f.LogEndOffset() != 30 || f.LatestEpoch() != -1 || f.NumSegments() != 1 {
		t.Fatalf("after TruncateFullyAndStartAt(30): start %d end %d epoch %d segments %d",
			f.LogStartOffset(), f.LogEndOffset(), f.LatestEpoch(), f.NumSegments())
	}
}

// Idempotent-producer state travels with the log: a follower that replicated a producer's batches
// (and truncated the ones the leader never had) de-duplicates that producer's retry once it leads,
// and accepts its next sequence.
func TestFollowerLogCarriesProducerStateAcrossTruncation(t *testing.T) {
	const pid = 42
	leader := openLog(t, "")
	if _, err := leader.Append(idempotentBatch(pid, 0, 0, "s0", "s1"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Append(idempotentBatch(pid, 0, 2, "s2"), 1); err != nil {
		t.Fatal(err)
	}
	f := openLog(t, "")
	followerCopy(t, leader, f)
	// A stale tail the follower had, from the same producer (sequence 3), later truncated away.
	if _, err := f.AppendAsFollower(func() []byte {
		b := idempotentBatch(pid, 0, 3, "stale")
		return rebase(b, 3, 1)
	}()); err != nil {
		t.Fatal(err)
	}
	if err := f.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	// Leading now: the retry of sequence 2 is a duplicate at its original offset; sequence 3 is new.
	res, err := f.Append(idempotentBatch(pid, 0, 2, "s2"), 2)
	if err != nil || !res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("retry of sequence 2: %+v, %v; want a duplicate at offset 2", res, err)
	}
	res, err = f.Append(idempotentBatch(pid, 0, 3, "s3"), 2)
	if err != nil || res.Duplicate || res.BaseOffset != 3 {
		t.Fatalf("sequence 3 after truncation: %+v, %v; want appended at 3", res, err)
	}
}

// rebase sets a batch's base offset and partition leader epoch, as a leader stores it.
func rebase(b []byte, base int64, epoch int32) []byte {
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
	return b
}
