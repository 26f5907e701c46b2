package replica

import (
	"encoding/binary"
	"testing"
)

// FuzzBatchesFrom feeds arbitrary fetched bytes to the trimming of a fetch response's records: it
// must never panic, and must return whole batches (by their length fields) from the input.
func FuzzBatchesFrom(f *testing.F) {
	two := append(batch("a", "b"), batch("c")...)
	binary.BigEndian.PutUint64(two[len(batch("a", "b")):], 2)
	f.Add(two, int64(0))
	f.Add(two, int64(2))
	f.Add(two[:len(two)-5], int64(0)) // cut short at the size limit
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, records []byte, offset int64) {
		out := batchesFrom(records, offset)
		if len(out) > len(records) {
			t.Fatalf("returned %d bytes from %d", len(out), len(records))
		}
		for pos := 0; pos < len(out); {
			if len(out)-pos < 61 {
				t.Fatalf("partial batch header at %d of %d", pos, len(out))
			}
			size := int(binary.BigEndian.Uint32(out[pos+8:])) + 12
			if size < 61 || pos+size > len(out) {
				t.Fatalf("partial batch at %d: size %d, %d bytes left", pos, size, len(out)-pos)
			}
			pos += size
		}
	})
}

// FuzzAppendAsFollower feeds arbitrary fetched bytes to a follower's log (broker/log
// AppendAsFollower, which trusts no peer): it must not panic, and what it accepts must read back
// and survive a reopen.
func FuzzAppendAsFollower(f *testing.F) {
	f.Add(batch("a", "b"))
	bad := batch("x")
	bad[30] ^= 1 // CRC mismatch
	f.Add(bad)
	f.Add(batch("a")[:40])
	f.Fuzz(func(t *testing.T, records []byte) {
		dir := t.TempDir()
		l := openLog(t, dir)
		if _, err := l.AppendAsFollower(records); err != nil {
			return
		}
		before := readLog(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir)
		if after := readLog(t, l); len(after) != len(before) {
			t.Fatalf("%d records before reopening, %d after", len(before), len(after))
		}
	})
}
