package replica

import "testing"

// epochs is a follower's leader-epoch cache for the table: epoch → start offset, ascending.
type epochs [][2]int64

// endOffsetFor is Kafka's LeaderEpochFileCache.endOffsetFor over e, with log end offset leo.
func (e epochs) endOffsetFor(leo int64) func(int32) (int32, int64) {
	return func(epoch int32) (int32, int64) {
		if len(e) == 0 {
			return -1, -1
		}
		if int64(epoch) == e[len(e)-1][0] {
			return epoch, leo
		}
		for i := len(e) - 1; i >= 0; i-- {
			if e[i][0] <= int64(epoch) {
				if i == len(e)-1 {
					return int32(e[i][0]), leo
				}
				return int32(e[i][0]), e[i+1][1]
			}
		}
		return epoch, e[0][1] // older than anything we know: it ended where our first began
	}
}

func TestTruncationFollowsLeaderEpochsNotTheHighWatermark(t *testing.T) {
	for _, c := range []struct {
		name        string
		leaderEpoch int32
		leaderEnd   int64
		leo, hw     int64
		follower    epochs
		wantOffset  int64
		wantDone    bool
	}{
		// KIP-101 case 1: the follower's HW lags its log; the leader has the same epoch to the same
		// end. Truncating to the HW would lose records 1..; by epoch nothing is lost.
		{"same epoch, same end: nothing cut", 1, 2, 2, 1, epochs{{1, 0}}, 2, true},
		// The follower wrote past where the leader's epoch ended (uncommitted tail of an old leader).
		{"diverged tail of an old epoch", 1, 5, 8, 3, epochs{{1, 0}}, 5, true},
		// The follower was the old leader in epoch 2, which the new leader never saw: the leader
		// answers epoch 1 ended at 4; the follower truncates to where its epoch 2 began (round 1).
		{"epoch the leader never had: first round", 1, 4, 9, 3, epochs{{1, 0}, {2, 4}}, 4, true},
		{"leader's answer ends before ours", 1, 3, 9, 3, epochs{{1, 0}, {2, 6}}, 3, true},
		// The leader answers an epoch the follower does not have (it skipped it): truncate to the end
		// of our largest epoch below and ask again.
		{"leader epoch we skipped: another round", 2, 7, 9, 3, epochs{{1, 0}, {3, 5}}, 5, false},
		{"we have no epoch that old", 0, 3, 9, 2, epochs{{4, 5}}, 3, true},
		{"leader without epochs: high watermark", -1, -1, 9, 6, epochs{{1, 0}}, 6, true},
		{"leader older than epochs", -1, 4, 9, 6, epochs{{1, 0}}, 4, true},
		{"leader ahead of us: nothing cut", 1, 20, 9, 6, epochs{{1, 0}}, 9, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			off, done := truncation(c.leaderEpoch, c.leaderEnd, c.leo, c.hw, c.follower.endOffsetFor(c.leo))
			if off != c.wantOffset || done != c.wantDone {
				t.Fatalf("truncate to %d (done %v), want %d (done %v)", off, done, c.wantOffset, c.wantDone)
			}
		})
	}
}
