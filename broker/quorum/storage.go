package quorum

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const (
	// stateFileName is Kafka's name for the file holding the current epoch and vote.
	stateFileName      = "quorum-state"
	checkpointSuffix   = ".checkpoint"
	checkpointMagic    = "GQCP"
	checkpointHeader   = 16 // magic, version uint32... see writeCheckpoint
	commitPersistEvery = 100 * time.Millisecond
)

// storage is the node's durable state in its metadata directory: the entry log, the quorum-state
// file (raft's HardState) and snapshots. It serves raft through a MemoryStorage mirror that holds
// only the entries after the last compaction, so its memory is bounded by snapshots.
//
// storage is owned by the node's Ready loop.
type storage struct {
	fs  FS
	dir string
	log *entryLog
	mem *raft.MemoryStorage

	hardState    *pb.HardState // as last written to quorum-state
	hardStateAt  time.Time
	snapshotMeta *pb.SnapshotMetadata // of the newest checkpoint on disk, nil if none
	snapshotData []byte               // its data, for delivery to the applier at start
	fresh        bool                 // nothing on disk at open: the node bootstraps
}

type stateFile struct {
	Version     int    `json:"version"`
	LeaderEpoch uint64 `json:"leaderEpoch"`
	VotedID     int32  `json:"votedId"`
	CommitIndex uint64 `json:"commitIndex"`
}

// openStorage recovers the durable state in dir: newest valid checkpoint, quorum-state, then the log
// replayed on top of the checkpoint (torn tail truncated).
func openStorage(fsys FS, dir string, segmentBytes int64) (*storage, error) {
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata dir %s: %w", dir, err)
	}
	s := &storage{fs: fsys, dir: dir, mem: raft.NewMemoryStorage()}
	snap, err := s.loadNewestCheckpoint()
	if err != nil {
		return nil, err
	}
	hs, err := s.loadState()
	if err != nil {
		return nil, err
	}
	var snapIndex uint64
	if snap != nil {
		snapIndex = snap.GetMetadata().GetIndex()
		s.snapshotMeta = snap.GetMetadata()
		s.snapshotData = snap.GetData()
	}
	var entries []*pb.Entry
	sawEntries, onlyBootstrap := false, true
	s.log, err = openEntryLog(fsys, dir, segmentBytes, func(e *pb.Entry) error {
		sawEntries = true
		onlyBootstrap = onlyBootstrap && e.GetTerm() == 1 && e.GetType() == pb.EntryConfChange
		i := e.GetIndex()
		if i <= snapIndex {
			return nil
		}
		last := snapIndex + uint64(len(entries))
		if i > last+1 {
			return fmt.Errorf("entry %d follows entry %d: a gap in the log", i, last)
		}
		entries = append(entries[:i-snapIndex-1], e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if snap == nil && hs == nil && sawEntries {
		// The first Ready writes the bootstrap conf changes, then quorum-state, then sends. With
		// only those entries and no quorum-state, the node stopped inside that first Ready, before
		// anything left it: bootstrap again. Anything else without quorum-state is lost state.
		if !onlyBootstrap {
			return nil, fmt.Errorf("metadata log %s holds entries but %s is missing: the vote and epoch are lost, refusing to start", dir, stateFileName)
		}
		if err := s.log.reset(); err != nil {
			return nil, err
		}
		entries, sawEntries = nil, false
	}
	s.fresh = snap == nil && hs == nil && !sawEntries
	if snap != nil {
		if err := s.mem.ApplySnapshot(snap); err != nil {
			return nil, fmt.Errorf("metadata snapshot: %w", err)
		}
	}
	if len(entries) > 0 {
		if err := s.mem.Append(entries); err != nil {
			return nil, fmt.Errorf("metadata log: %w", err)
		}
	}
	if hs != nil {
		last, _ := s.mem.LastIndex()
		if hs.GetCommit() > last {
			// NB: entries are synced before quorum-state names them committed, so this is lost data,
			// not a torn write; raft would panic on it, and voting on a shortened log is unsafe.
			return nil, fmt.Errorf("metadata log %s: %s says index %d is committed but the log ends at %d", dir, stateFileName, hs.GetCommit(), last)
		}
		if hs.GetCommit() < snapIndex {
			hs.Commit = new(snapIndex)
		}
		if err := s.mem.SetHardState(hs); err != nil {
			return nil, err
		}
		s.hardState = hs
	}
	return s, nil
}

func (s *storage) loadState() (*pb.HardState, error) {
	b, err := readFile(s.fs, filepath.Join(s.dir, stateFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", stateFileName, err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", stateFileName, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("metadata %s: unknown version %d", stateFileName, st.Version)
	}
	vote := uint64(0)
	if st.VotedID >= 0 {
		vote = raftID(st.VotedID)
	}
	return &pb.HardState{Term: new(st.LeaderEpoch), Vote: new(vote), Commit: new(st.CommitIndex)}, nil
}

// saveState writes quorum-state atomically when the term or vote changed (they must be durable
// before any message leaves), or when only the commit index moved and commitPersistEvery has passed.
//
// NB: a stale commit index on disk is safe: raft learns the real one from the leader (or, for a
// single voter, by committing its next entry); it only bounds what is re-applied at start.
func (s *storage) saveState(hs *pb.HardState, force bool) error {
	if hs == nil || raft.IsEmptyHardState(hs) {
		return nil
	}
	old := s.hardState
	if old != nil && old.GetTerm() == hs.GetTerm() && old.GetVote() == hs.GetVote() {
		if old.GetCommit() == hs.GetCommit() || !force && time.Since(s.hardStateAt) < commitPersistEvery {
			return nil
		}
	}
	voted := int32(-1)
	if hs.GetVote() != 0 {
		voted = nodeID(hs.GetVote())
	}
	b, _ := json.Marshal(stateFile{Version: 1, LeaderEpoch: hs.GetTerm(), VotedID: voted, CommitIndex: hs.GetCommit()})
	if err := writeFileAtomic(s.fs, s.dir, filepath.Join(s.dir, stateFileName), b); err != nil {
		return fmt.Errorf("metadata %s: %w", stateFileName, err)
	}
	s.hardState = proto.Clone(hs).(*pb.HardState)
	s.hardStateAt = time.Now()
	return nil
}

// checkpointName is KIP-630's `<20-digit end offset>-<10-digit epoch>.checkpoint`, the end offset
// being exclusive (the snapshot holds every entry up to index end-1).
func checkpointName(index, term uint64) string {
	return fmt.Sprintf("%020d-%010d%s", index+1, term, checkpointSuffix)
}

// A checkpoint file is: magic "GQCP", CRC-32C of the rest (uint32), length (uint64), then the raft
// Snapshot (metadata and the applier's image) as protobuf.
func (s *storage) writeCheckpoint(snap *pb.Snapshot) error {
	body, err := proto.Marshal(snap)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, checkpointHeader+len(body))
	buf = append(buf, checkpointMagic...)
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(body, castagnoli))
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(body)))
	buf = append(buf, body...)
	md := snap.GetMetadata()
	name := filepath.Join(s.dir, checkpointName(md.GetIndex(), md.GetTerm()))
	if err := writeFileAtomic(s.fs, s.dir, name, buf); err != nil {
		return fmt.Errorf("metadata snapshot %s: %w", name, err)
	}
	return nil
}

func decodeCheckpoint(b []byte) (*pb.Snapshot, error) {
	if len(b) < checkpointHeader || string(b[:4]) != checkpointMagic {
		return nil, errors.New("not a checkpoint file")
	}
	n := binary.BigEndian.Uint64(b[8:16])
	if n != uint64(len(b)-checkpointHeader) {
		return nil, fmt.Errorf("length %d, file holds %d", n, len(b)-checkpointHeader)
	}
	body := b[checkpointHeader:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:8]) {
		return nil, errors.New("CRC mismatch")
	}
	snap := &pb.Snapshot{}
	if err := proto.Unmarshal(body, snap); err != nil {
		return nil, err
	}
	if snap.GetMetadata().GetIndex() == 0 {
		return nil, errors.New("snapshot at index 0")
	}
	return snap, nil
}

// checkpoints lists the checkpoint files in dir, newest (highest end offset) first, and removes
// leftover temporary files.
func (s *storage) checkpoints() ([]string, error) {
	des, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("metadata dir %s: %w", s.dir, err)
	}
	var names []string
	for _, de := range des {
		switch name := de.Name(); {
		case strings.HasSuffix(name, ".tmp"):
			_ = s.fs.Remove(filepath.Join(s.dir, name))
		case strings.HasSuffix(name, checkpointSuffix):
			names = append(names, name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, nil
}

// loadNewestCheckpoint returns the newest checkpoint that reads back whole, or nil if there is none.
// A damaged newest checkpoint falls back to an older one if one is left (a crash between writing a
// checkpoint and deleting the older ones leaves two).
func (s *storage) loadNewestCheckpoint() (*pb.Snapshot, error) {
	names, err := s.checkpoints()
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, name := range names {
		b, err := readFile(s.fs, filepath.Join(s.dir, name))
		if err == nil {
			var snap *pb.Snapshot
			if snap, err = decodeCheckpoint(b); err == nil {
				return snap, nil
			}
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("metadata snapshot %s: %w", name, err)
		}
	}
	if firstErr != nil {
		// NB: every checkpoint is damaged: starting from the log alone could skip what the deleted
		// segments held, so refuse rather than serve a log with a hole.
		return nil, firstErr
	}
	return nil, nil
}

// removeCheckpointsBefore deletes checkpoint files older than the one at index.
func (s *storage) removeCheckpointsBefore(index uint64) error {
	names, err := s.checkpoints()
	if err != nil {
		return err
	}
	keep := fmt.Sprintf("%020d", index+1)
	for _, name := range names {
		if name[:min(20, len(name))] < keep {
			if err := s.fs.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("metadata snapshot: remove %s: %w", name, err)
			}
		}
	}
	return nil
}

// saveReady persists what a Ready asks for, in the order recovery needs: a received snapshot (which
// replaces the log), then the entries, then quorum-state. Only after it returns may the Ready's
// messages be sent.
func (s *storage) saveReady(rd *raft.Ready) error {
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.writeCheckpoint(rd.Snapshot); err != nil {
			return err
		}
		if err := s.log.reset(); err != nil {
			return err
		}
		s.snapshotMeta = rd.Snapshot.GetMetadata()
	}
	if err := s.log.append(rd.Entries); err != nil {
		return err
	}
	return s.saveState(rd.HardState, false)
}

// mirror updates the MemoryStorage that raft reads, once saveReady succeeded.
func (s *storage) mirror(rd *raft.Ready) error {
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.mem.ApplySnapshot(rd.Snapshot); err != nil {
			return err
		}
		_ = s.removeCheckpointsBefore(rd.Snapshot.GetMetadata().GetIndex())
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		if err := s.mem.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	return s.mem.Append(rd.Entries)
}

// snapshot records the applier's image at index: the checkpoint is written and synced, then the
// in-memory log is compacted keeping catchUp entries for slow followers, and segments and older
// checkpoints wholly below the compaction point are deleted.
func (s *storage) snapshot(index uint64, cs *pb.ConfState, data []byte, catchUp uint64) (*pb.SnapshotMetadata, error) {
	term, err := s.mem.Term(index)
	if err != nil {
		return nil, fmt.Errorf("metadata snapshot at %d: %w", index, err)
	}
	// NB: the checkpoint is durable before raft's storage knows the snapshot: a failed write (a
	// full disk) leaves nothing behind, and the same snapshot can be retried.
	md := &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: cs}
	if err := s.writeCheckpoint(&pb.Snapshot{Metadata: md, Data: data}); err != nil {
		return nil, err
	}
	snap, err := s.mem.CreateSnapshot(index, cs, data)
	if err != nil {
		return nil, err
	}
	s.snapshotMeta = snap.GetMetadata()
	if err := s.removeCheckpointsBefore(index); err != nil {
		return s.snapshotMeta, err
	}
	if index > catchUp {
		compactTo := index - catchUp
		first, _ := s.mem.FirstIndex()
		if compactTo > first {
			if err := s.mem.Compact(compactTo); err != nil && !errors.Is(err, raft.ErrCompacted) {
				return s.snapshotMeta, err
			}
		}
		// NB: a segment may go once the snapshot covers it, even though the catch-up entries stay in
		// memory: after a restart the log resumes at the snapshot, and raft sends a lagging
		// follower the snapshot instead.
	}
	return s.snapshotMeta, s.log.deleteThrough(index)
}

func (s *storage) close() error { return s.log.close() }
