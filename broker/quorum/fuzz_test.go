package quorum

import (
	"os"
	"path/filepath"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(proposalID{1, 2}, [][]byte{[]byte("a"), nil, []byte("ccc")}))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, records, err := decodeBatch(b)
		if err != nil {
			return
		}
		_, again, err := decodeBatch(encodeBatch(id, records))
		if err != nil || len(again) != len(records) {
			t.Fatalf("re-encoded batch: %v, %d records, want %d", err, len(again), len(records))
		}
	})
}

// FuzzEntryLogReplay opens a log whose only segment holds arbitrary bytes: it recovers (truncating
// at the first bad frame) and never panics.
func FuzzEntryLogReplay(f *testing.F) {
	good := appendFrame(nil, &pb.Entry{Index: new(uint64(1)), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: []byte("x")})
	f.Add(good)
	f.Add(append(good, 0, 0, 0, 40, 1, 2))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.log"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		var n int
		l, err := openEntryLog(OSFS(), dir, 1<<20, func(*pb.Entry) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer l.close()
		if l.activeSize > int64(len(b)) {
			t.Fatalf("recovered %d bytes of %d", l.activeSize, len(b))
		}
	})
}
