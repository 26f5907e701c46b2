package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// readBytes bounds one read of the metadata log.
const readBytes = 1 << 20

// LocalLog is the part of a quorum voter a combined node's metadata follower reads (quorum.Node).
type LocalLog interface {
	ReadCommitted(from, maxBytes uint64) ([]quorum.Committed, error)
	LatestSnapshot() (quorum.Committed, bool)
	WaitCommitted(ctx context.Context, index uint64) error
	CommitIndex() uint64
	LeaderCommit(ctx context.Context) (uint64, error)
}

// Follower feeds the committed metadata log into a metadata.Loader, so the broker's Publisher
// publishes an image for every committed batch, in log order: the snapshot when the log it needs is
// compacted, then the batches, long-polling for the next. It reads the local quorum voter of a
// combined node (FollowLocal) or the quorum leader over the network (FollowRemote). One goroutine.
type Follower struct {
	pub    *metadata.Publisher
	loader *metadata.Loader
	logger *slog.Logger
	// catchUp is the log offset the follower must reach before it publishes anything (-1: not
	// known yet; 0: caught up). Used only by the follower's goroutine.
	catchUp int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu struct {
		sync.Mutex
		err error
	}
}

// FollowLocal starts following log into pub, from pub's current image.
func FollowLocal(log LocalLog, pub *metadata.Publisher, logger *slog.Logger) *Follower {
	f := newFollower(pub, logger)
	f.start(func() error { return f.runLocal(log) })
	return f
}

func newFollower(pub *metadata.Publisher, logger *slog.Logger) *Follower {
	if logger == nil {
		logger = slog.Default()
	}
	f := &Follower{pub: pub, loader: metadata.NewLoader(pub), logger: logger.With("component", "metadata-follower"), catchUp: -1}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	// NB: a (re)started broker publishes nothing until it has applied the metadata log up to the
	// quorum's commit index as the leader reports it once the broker is up: replaying its own
	// old log, a combined node would otherwise act for a moment on a partition leadership it held
	// before it stopped (and write a leader epoch entry for it), as Kafka's loader avoids too.
	f.loader.Hold()
	return f
}

func (f *Follower) start(run func() error) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := run(); err != nil && f.ctx.Err() == nil {
			f.logger.Error("metadata follower stopped: the log cannot be applied", "err", err)
			f.mu.Lock()
			f.mu.err = err
			f.mu.Unlock()
		}
	}()
}

// Err is the failure that stopped the follower (a log it cannot apply, or its quorum stopped), or nil.
func (f *Follower) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.err
}

// Close stops the follower and waits for it. Idempotent.
func (f *Follower) Close() error {
	f.once.Do(func() {
		f.cancel()
		f.wg.Wait()
	})
	return nil
}

// caughtUp releases the loader's hold once next (the offset the follower reads next) is past the
// catch-up offset.
func (f *Follower) caughtUp(next int64) {
	if f.catchUp <= 0 || next < f.catchUp {
		return
	}
	f.catchUp = 0
	f.loader.Release()
	f.logger.Info("caught up with the metadata log", "offset", f.pub.Current().Offset())
}

// leaderCommit asks the quorum leader for its commit index until one answers (or the follower
// closes).
func (f *Follower) leaderCommit(log LocalLog) (uint64, error) {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(f.ctx, leaderCommitTimeout)
		index, err := log.LeaderCommit(ctx)
		cancel()
		if err == nil {
			return index, nil
		}
		if f.ctx.Err() != nil {
			return 0, f.ctx.Err()
		}
		if attempt%20 == 0 {
			f.logger.Info("waiting for the metadata quorum's leader to catch up with", "attempts", attempt, "err", err)
		}
	}
}

// leaderCommitTimeout bounds one LeaderCommit attempt (raft drops the request without a leader).
const leaderCommitTimeout = 500 * time.Millisecond

func (f *Follower) runLocal(log LocalLog) error {
	next := uint64(f.pub.Current().Offset() + 1)
	target, err := f.leaderCommit(log)
	if err != nil {
		return err
	}
	f.catchUp = int64(target) + 1
	for {
		// NB: loaded before the read: if the read finds no batch, none lies at or below commit past
		// next (only raft's own entries), so the follower may move past it.
		commit := log.CommitIndex()
		batches, err := log.ReadCommitted(next, readBytes)
		if errors.Is(err, quorum.ErrOffsetCompacted) {
			snap, ok := log.LatestSnapshot()
			if !ok {
				return fmt.Errorf("metadata log compacted below %d but no snapshot: %w", next, err)
			}
			if err := f.loader.LoadSnapshot(snap.Image); err != nil {
				return fmt.Errorf("metadata snapshot at %d: %w", snap.Index, err)
			}
			next = snap.Index + 1
			f.caughtUp(int64(next))
			continue
		}
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := f.loader.ApplyBatch(int64(b.Index), int32(b.Term), b.Records); err != nil {
				return err
			}
			next = b.Index + 1
		}
		if len(batches) > 0 {
			f.caughtUp(int64(next))
			continue
		}
		next = max(next, commit+1)
		f.caughtUp(int64(next))
		if err := log.WaitCommitted(f.ctx, next); err != nil {
			return err
		}
	}
}
