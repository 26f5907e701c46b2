package lifecycle

import (
	"testing"

	"github.com/gregor-streams/gregor/broker/quorum"
)

// TestAHintNamingAnUnreachableLeaderInItsEpochIsStale: a voter that has not noticed the quorum
// leader's death names it still; the search skips that hint, follows one naming another node in a
// newer epoch, and follows the dead node again only once a newer epoch names it (it restarted
// and won an election).
func TestAHintNamingAnUnreachableLeaderInItsEpochIsStale(t *testing.T) {
	c := newControllers([]quorum.Voter{{ID: 1}, {ID: 2}, {ID: 3}}, "test")
	c.found(leaderAnswer{leader: 3, epoch: 5, self: true})
	steps := []struct {
		name string
		do   func()
		want int32
	}{
		{"the active controller 3 cannot be reached", func() { c.unreachableVoter(3) }, quorum.NoLeader},
		{"voter 1 still names 3 in epoch 5", func() { c.notActive(quorum.NoLeader, 3, 5) }, quorum.NoLeader},
		{"voter 1 names 3 in an older epoch", func() { c.notActive(quorum.NoLeader, 3, 4) }, quorum.NoLeader},
		{"voter 2 names 1 in an older epoch than known", func() { c.notActive(quorum.NoLeader, 1, 4) }, quorum.NoLeader},
		{"voter 2 names itself in epoch 6", func() { c.notActive(quorum.NoLeader, 2, 6) }, 2},
		{"a NOT_CONTROLLER from 1 does not unseat 2", func() { c.notActive(1, quorum.NoLeader, -1) }, 2},
		{"2 answers NOT_CONTROLLER", func() { c.notActive(2, quorum.NoLeader, -1) }, quorum.NoLeader},
		{"3, restarted, leads epoch 7", func() { c.notActive(quorum.NoLeader, 3, 7) }, 3},
	}
	for _, s := range steps {
		s.do()
		if got := c.known(); got != s.want {
			t.Fatalf("%s: active %d, want %d", s.name, got, s.want)
		}
	}
}
