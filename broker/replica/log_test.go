package replica

import (
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
