package group

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A coordinator that resigns its partition (leadership moved) answers every member waiting in a
// join or sync phase NOT_COORDINATOR, so the clients look for the new coordinator, and keeps no
// group: the next leader loads them from the log.
func TestUnloadAnswersWaitingMembersNotCoordinator(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("syncing")
	answered(t, "a joins", a.Err)
	b := h.newMember("joining") // alone: its join completes at once
	answered(t, "b joins", b.Err)
	follower := h.newMember("syncing") // a second member: a rebalance that waits for a to rejoin
	if follower.Err != -999 {
		t.Fatalf("second member answered before the rebalance completed: %+v", follower)
	}
	rejoin := h.join("syncing", a.MemberID)
	answered(t, "a rejoins", rejoin.Err)
	waiting := h.sync("syncing", follower.MemberID, rejoin.Generation, nil) // waits for the leader's assignment
	if waiting.Err != -999 {
		t.Fatalf("follower's sync answered before the leader's: %+v", waiting)
	}

	h.c.Unload()
	if waiting.Err != kerr.NotCoordinator.Code {
		t.Fatalf("waiting sync after unload: %v, want NOT_COORDINATOR", kerr.ErrorForCode(waiting.Err))
	}
	if h.c.Groups() != 0 {
		t.Fatalf("%d groups kept after unload", h.c.Groups())
	}
}

// A write the store refuses because leadership moved (ErrNotCoordinator) is answered
// NOT_COORDINATOR; any other refused write COORDINATOR_NOT_AVAILABLE, as Kafka maps them.
func TestCommitRefusedByTheStoreMapsToKafkasCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("__consumer_offsets-3: %w", ErrNotCoordinator), kerr.NotCoordinator.Code},
		{errDiskFull, kerr.CoordinatorNotAvailable.Code},
	} {
		h := newHarness(t, Config{})
		store := &failingStore{err: tc.err}
		h.c.store = store
		parts := []CommitPartition{{Topic: "t", Partition: 0, Offset: 5}}
		h.c.Commit(h.now, "g", "", nil, -1, parts)
		if parts[0].Err != tc.want {
			t.Fatalf("commit refused with %v: %v, want %v", tc.err, kerr.ErrorForCode(parts[0].Err), kerr.ErrorForCode(tc.want))
		}
		if got := h.c.FetchOffsets("g", nil); len(got) != 0 {
			t.Fatalf("refused commit kept: %+v", got)
		}
	}
}

// failingStore refuses every write with err.
type failingStore struct{ err error }

func (s *failingStore) Persist(int32, []Record) error { return s.err }
