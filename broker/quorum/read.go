package quorum

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// ErrOffsetCompacted is returned by ReadCommitted for an index the log no longer holds: the reader
// starts again from LatestSnapshot (KRaft's Fetch answering with a snapshot id to fetch).
var ErrOffsetCompacted = errors.New("quorum: offset below the log start; read the snapshot first")

// ReadCommitted returns the committed batches at index from or later, in order, up to about
// maxBytes of entries (at least one batch if any is committed past from), and nothing once from is
// past the high watermark. It serves readers that follow the metadata log without being voters
// (brokers and observers, KRaft's Fetch on __cluster_metadata-0). Record slices are shared with the
// log: read them, never modify them. Safe for concurrent use with everything else.
func (n *Node) ReadCommitted(from, maxBytes uint64) ([]Committed, error) {
	from = max(from, 1)
	for {
		commit := n.commitIndex.Load()
		if from > commit {
			return nil, nil
		}
		ents, err := n.storage.mem.Entries(from, commit+1, maxBytes)
		if errors.Is(err, raft.ErrCompacted) {
			return nil, ErrOffsetCompacted
		}
		if err != nil {
			return nil, err
		}
		var out []Committed
		for _, e := range ents {
			if e.GetType() != pb.EntryNormal || len(e.GetData()) == 0 {
				continue
			}
			_, records, err := decodeBatch(e.GetData())
			if err != nil {
				return out, err
			}
			out = append(out, Committed{Index: e.GetIndex(), Term: e.GetTerm(), Records: records})
		}
		if len(out) > 0 || len(ents) == 0 {
			return out, nil
		}
		// Only conf changes or a leader's empty entries in this range: look further.
		from = ents[len(ents)-1].GetIndex() + 1
	}
}

// WaitCommitted waits until index is committed (the high watermark is past it), for a reader
// long-polling the log (a Fetch with MaxWaitMs). It returns ctx's error if ctx ends first, and
// ErrClosed (or the storage failure) if the node stops.
func (n *Node) WaitCommitted(ctx context.Context, index uint64) error {
	for {
		n.mu.Lock()
		advanced := n.mu.commitAdvanced
		n.mu.Unlock()
		// NB: the channel is taken before the check; the loop stores the index before closing it.
		if n.commitIndex.Load() >= index {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.loopDone:
			return n.stoppedOr(ErrClosed)
		}
	}
}

// LatestSnapshot returns the newest snapshot (IsSnapshot set, Image the applier's image as of
// Index), or false if none was taken yet. The image is shared: read it, never modify it.
func (n *Node) LatestSnapshot() (Committed, bool) {
	snap, err := n.storage.mem.Snapshot()
	if err != nil || raft.IsEmptySnap(snap) {
		return Committed{}, false
	}
	md := snap.GetMetadata()
	return Committed{Index: md.GetIndex(), Term: md.GetTerm(), IsSnapshot: true, Image: snap.GetData()}, true
}

// CommitIndex is the highest committed index (the high watermark - 1). A reader that loaded it
// before a ReadCommitted that returned nothing knows no batch lies at or below it past its position
// (the indexes between hold only raft's own entries) and may continue after it.
func (n *Node) CommitIndex() uint64 { return n.commitIndex.Load() }

// LeaderCommit returns the quorum leader's commit index, confirmed by a majority (raft's
// ReadIndex): what a node that just (re)started must apply before it knows the current metadata.
// Its own CommitIndex may still be an old one, as entries committed while it was away reach it
// only with the leader's appends. It fails with ctx when no leader answers in time (none is known,
// or the request was dropped: raft drops a ReadIndex without a leader); callers retry.
func (n *Node) LeaderCommit(ctx context.Context) (uint64, error) {
	var rctx [8]byte
	binary.BigEndian.PutUint64(rctx[:], n.readSeq.Add(1))
	c := make(chan uint64, 1)
	n.mu.Lock()
	if n.mu.reads == nil {
		n.mu.reads = map[string]chan uint64{}
	}
	n.mu.reads[string(rctx[:])] = c
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.mu.reads, string(rctx[:]))
		n.mu.Unlock()
	}()
	if err := n.rn.ReadIndex(ctx, rctx[:]); err != nil {
		if errors.Is(err, raft.ErrStopped) {
			return 0, n.stoppedOr(ErrClosed)
		}
		return 0, fmt.Errorf("quorum: read index: %w", err)
	}
	select {
	case index := <-c:
		return index, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("quorum: no leader answered the read index: %w", ctx.Err())
	case <-n.stop:
		return 0, n.stoppedOr(ErrClosed)
	}
}

// answerReads hands each ReadIndex answer of a Ready to its LeaderCommit call.
func (n *Node) answerReads(states []raft.ReadState) {
	if len(states) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, rs := range states {
		if c, ok := n.mu.reads[string(rs.RequestCtx)]; ok {
			select {
			case c <- rs.Index:
			default:
			}
		}
	}
}
