package quorum

import (
	"errors"
	"fmt"
)

// NoLeader is the leader ID when no leader is known (Kafka's -1).
const NoLeader int32 = -1

var (
	// ErrClosed is returned by calls on a closed node.
	ErrClosed = errors.New("quorum: node closed")
	// ErrNotLeader is matched (errors.Is) by every *NotLeaderError.
	ErrNotLeader = errors.New("quorum: not the leader")
	// ErrSnapshotStale is returned by Snapshot for an index at or below the newest snapshot.
	ErrSnapshotStale = errors.New("quorum: snapshot not newer than the last one")
	// ErrBatchTooLarge is returned by Propose for records over Config.MaxBatchBytes.
	ErrBatchTooLarge = errors.New("quorum: batch too large")
	// ErrProposalDropped is returned by Propose when the leader refused the proposal for now (a
	// leadership transfer in progress, or too many uncommitted bytes); it did not commit: retry.
	ErrProposalDropped = errors.New("quorum: proposal dropped by the leader (leadership transfer in progress, or too much uncommitted data)")
	// ErrTransferFailed is returned when leadership did not move in time.
	ErrTransferFailed = errors.New("quorum: leadership transfer did not complete")
)

// NotLeaderError is returned by Propose on a node that is not (or stopped being) the leader; the
// caller retries on LeaderID (Kafka's NOT_CONTROLLER with the active controller as a hint).
type NotLeaderError struct {
	// LeaderID is the leader this node knows of, or NoLeader.
	LeaderID int32
	// Unknown is set when leadership was lost while the proposal was in flight: it may still
	// commit under the new leader, and the applier will see it if it does.
	Unknown bool
}

func (e *NotLeaderError) Error() string {
	leader := "no leader is known"
	if e.LeaderID != NoLeader {
		leader = fmt.Sprintf("the leader is node %d", e.LeaderID)
	}
	if e.Unknown {
		return fmt.Sprintf("quorum: leadership lost while the proposal was in flight (it may still commit); %s", leader)
	}
	return fmt.Sprintf("quorum: not the leader; %s", leader)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
