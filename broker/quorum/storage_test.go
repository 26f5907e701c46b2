package quorum

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// faultFS injects disk failures once armed: writes to files whose name ends in suffix (entry log
// segments unless set) write half the buffer and fail with ENOSPC, a full disk in the middle of a
// batch; with failSync, their Sync fails with EIO instead (fsyncgate: the page cache may have
// dropped the data).
type faultFS struct {
	FS
	mu       sync.Mutex
	armed    bool
	suffix   string
	failSync bool
}

func (f *faultFS) arm(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = on
}

func (f *faultFS) hits(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	suffix := f.suffix
	if suffix == "" {
		suffix = segmentSuffix
	}
	return f.armed && strings.HasSuffix(name, suffix)
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	if f.fs.hits(f.Name()) && !f.fs.failSync {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	if f.fs.hits(f.Name()) && f.fs.failSync {
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

func TestENOSPCDuringAppendStopsTheLeaderWithoutApplyingOrReplicating(t *testing.T) {
	faults := map[int32]*faultFS{1: {FS: OSFS()}, 2: {FS: OSFS()}, 3: {FS: OSFS()}}
	c := startCluster(t, 3, false, func(cfg *Config) { cfg.FS = faults[cfg.NodeID] })
	want := []string{"before"}
	c.propose("before")
	c.waitConverged(want)
	leader := c.waitLeader()
	faults[leader].arm(true)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.nodes[leader].node.Propose(ctx, [][]byte{[]byte("doomed")})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("propose with a full disk: %v, want ENOSPC", err)
	}
	if err := c.nodes[leader].node.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("node error %v, want ENOSPC", err)
	}
	if _, err := c.nodes[leader].node.Propose(ctx, [][]byte{[]byte("after-failure")}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("propose on a failed node: %v, want its ENOSPC", err)
	}

	// The others elect a leader and go on without the unpersisted entry.
	newLeader := c.waitLeader(c.othersThan(leader)...)
	if _, err := c.nodes[newLeader].node.Propose(ctx, [][]byte{[]byte("survivors")}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "survivors")
	c.stopNode(leader)
	c.waitConverged(want)

	// With space again, the failed node truncates its torn tail and rejoins without the entry.
	faults[leader].arm(false)
	c.startNode(leader, nil)
	c.propose("rejoined")
	c.waitConverged(append(want, "rejoined"))
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	sort.Strings(names)
	return names[len(names)-1]
}

func appendBytes(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailIsTruncatedAtStart(t *testing.T) {
	badCRC := appendFrame(nil, &pb.Entry{Index: new(uint64(99)), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: []byte("torn")})
	badCRC[len(badCRC)-1] ^= 0xff
	cutShort := appendFrame(nil, &pb.Entry{Index: new(uint64(99)), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: []byte("cut short")})
	cutShort = cutShort[:len(cutShort)-3]
	for name, tail := range map[string][]byte{
		"half a header":     {0, 0},
		"frame cut short":   cutShort,
		"frame failing CRC": badCRC,
		"length past EOF":   binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 1000), 0),
	} {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, 1, false, nil)
			want := []string{"a", "b", "c"}
			for _, r := range want {
				c.propose(r)
			}
			c.waitConverged(want)
			c.stopNode(1)
			seg := lastSegment(t, c.nodes[1].dir)
			before, _ := os.Stat(seg)
			appendBytes(t, seg, tail)

			c.startNode(1, nil)
			c.waitConverged(want)
			// NB: a sole voter elects itself at once and appends its new term's entry, so the
			// segment grows again: the check is that every frame in it decodes, the torn tail gone.
			assertFramesDecode(t, seg, before.Size())
			c.propose("d")
			c.waitConverged(append(want, "d"))
		})
	}
}

func TestCorruptionBeforeTheTailRefusesToStart(t *testing.T) {
	c := startCluster(t, 1, false, func(cfg *Config) { cfg.SegmentBytes = 64 })
	for i := range 10 {
		c.propose(fmt.Sprintf("record-%d", i))
	}
	c.stopNode(1)
	names, _ := filepath.Glob(filepath.Join(c.nodes[1].dir, "*"+segmentSuffix))
	sort.Strings(names)
	if len(names) < 3 {
		t.Fatalf("%d segments, want several", len(names))
	}
	b, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(names[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Start(c.config(c.nodes[1], nil))
	if !errors.Is(err, errCorruptSegment) {
		t.Fatalf("start on a log corrupt before its tail: %v, want errCorruptSegment", err)
	}
}

func TestSecondNodeOnTheSameDirectoryIsRefused(t *testing.T) {
	c := startCluster(t, 1, false, nil)
	_, err := Start(c.config(c.nodes[1], nil))
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Start on one directory: %v", err)
	}
}

func TestQuorumStateIsKafkasFileAndSurvivesRestart(t *testing.T) {
	c := startCluster(t, 1, false, nil)
	c.propose("x")
	term := c.nodes[1].node.Term()
	c.stopNode(1)
	b, err := os.ReadFile(filepath.Join(c.nodes[1].dir, stateFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), fmt.Sprintf(`"leaderEpoch":%d`, term)) || !strings.Contains(string(b), `"votedId":1`) {
		t.Fatalf("%s = %s, want leader epoch %d and the vote for node 1", stateFileName, b, term)
	}
	c.startNode(1, nil)
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		if got := c.nodes[1].node.Term(); got <= term {
			return fmt.Errorf("term %d after restart, want > %d", got, term)
		}
		return nil
	})
}

func TestMissingQuorumStateRefusesToStartUnlessOnlyBootstrapWasWritten(t *testing.T) {
	c := startCluster(t, 1, false, nil)
	c.propose("x")
	c.stopNode(1)
	state := filepath.Join(c.nodes[1].dir, stateFileName)
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(c.config(c.nodes[1], nil)); err == nil || !strings.Contains(err.Error(), "quorum-state is missing") {
		t.Fatalf("start without quorum-state over a log with data: %v", err)
	}

	// A node stopped inside its first Ready: the bootstrap entries are written, quorum-state not.
	dir := filepath.Join(t.TempDir(), MetadataDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := uint64(1); i <= 3; i++ {
		b = appendFrame(b, &pb.Entry{Index: new(i), Term: new(uint64(1)), Type: pb.EntryConfChange.Enum(), Data: nil})
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.log"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	voters, _ := ParseVoters("1@127.0.0.1:1")
	n, err := Start(Config{NodeID: 1, Voters: voters, Dir: dir, Logger: testLogger(t), TickInterval: testTick})
	if err != nil {
		t.Fatalf("start after a crash inside the first Ready: %v", err)
	}
	a := startApplier(n, false)
	defer func() { n.Close(); <-a.done }()
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		if n.Leader() != 1 {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	if _, err := n.Propose(context.Background(), [][]byte{[]byte("y")}); err != nil {
		t.Fatal(err)
	}
}

func TestFsyncFailureStopsTheNodeForGood(t *testing.T) {
	fault := &faultFS{FS: OSFS(), failSync: true}
	c := startCluster(t, 1, false, func(cfg *Config) { cfg.FS = fault })
	c.propose("a")
	fault.arm(true)
	n := c.nodes[1].node
	if _, err := n.Propose(context.Background(), [][]byte{[]byte("unsynced")}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("propose with a failing fsync: %v, want EIO", err)
	}
	// NB: no retry after a failed fsync (the kernel may have dropped the dirty pages): the node
	// stays stopped even once the disk is healthy again.
	fault.arm(false)
	if _, err := n.Propose(context.Background(), [][]byte{[]byte("later")}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("propose after the failed fsync: %v, want the node's EIO", err)
	}
	c.stopNode(1)
	c.startNode(1, nil)
	c.propose("after-restart")
	// The unsynced entry was written (only its fsync failed): after a restart it may be in the log,
	// uncommitted, and a single voter commits it with its next entry. Either way nothing is lost.
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		got := c.nodes[1].applier.State()
		if len(got) < 2 || got[0] != "a" || got[len(got)-1] != "after-restart" {
			return fmt.Errorf("applied %v", got)
		}
		return nil
	})
}

func TestFullDiskDuringASnapshotFailsTheSnapshotOnly(t *testing.T) {
	fault := &faultFS{FS: OSFS(), suffix: checkpointSuffix + ".tmp"}
	c := startCluster(t, 1, false, func(cfg *Config) { cfg.FS = fault })
	off := c.propose("a")
	fault.arm(true)
	n := c.nodes[1].node
	testutil.CheckFor(t, electionBound, 10*time.Millisecond, func() error {
		if len(c.nodes[1].applier.State()) != 1 {
			return fmt.Errorf("not applied yet")
		}
		return nil
	})
	if err := n.Snapshot(off, []byte("a")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("snapshot on a full disk: %v, want ENOSPC", err)
	}
	if _, cps := countFiles(t, c.nodes[1].dir); cps != 0 {
		t.Fatalf("%d checkpoint files after a failed snapshot", cps)
	}
	fault.arm(false)
	if err := n.Snapshot(off, []byte("a")); err != nil {
		t.Fatalf("the same snapshot once there is space: %v", err)
	}
	c.propose("b")
	c.waitConverged([]string{"a", "b"})
}

// assertFramesDecode reads every frame of the segment name, which must keep at least its first keep
// bytes, and fails on any frame that does not decode.
func assertFramesDecode(t *testing.T, name string, keep int64) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	hdr := make([]byte, frameHeaderBytes)
	var read int64
	for range 1_000_000 {
		_, n, err := readFrame(r, hdr)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("segment after recovery: frame at byte %d: %v", read, err)
		}
		read += n
	}
	if read < keep {
		t.Fatalf("segment is %d bytes after recovery, shorter than the %d before the torn write", read, keep)
	}
}
