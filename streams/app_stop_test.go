package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// An App stops when the context given to Start ends. It used to stop quietly: still RUNNING,
// still a member of the group owning its partitions (kgo heartbeats on without polls), so the
// records that arrived after the context ended were processed by no one until Close. That is
// the "consumer stall" seen in the FK-join reproduction and the failover test, whose Apps were
// started with a context that ended waitTimeout after the start.
func TestAppWhoseStartContextEndsCommitsLeavesTheGroupAndAnotherInstanceTakesOver(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "lines", 3)
	createTopic(t, addr, "word-counts", 3)
	want := map[string]int64{}
	produceLines(t, addr, 0, 60, want)

	// NB: no record cache: with an hour between commits it would hold the counts back.
	cfg := streams.Config{ApplicationID: "handover", BootstrapServers: []string{addr}, CommitInterval: time.Hour,
		CacheMaxBytes: -1, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	first, err := streams.New(wordCount(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	readLatest(t, first, addr, "word-counts", statestore.Int64{}, want)

	cancel() // as a deadline on Start's context passing
	select {
	case <-first.Done():
	case <-time.After(waitTimeout):
		t.Fatalf("the App still runs %v after the context given to Start ended", waitTimeout)
	}
	if s := first.State(); s != streams.PendingShutdown {
		t.Errorf("State() = %v after the context given to Start ended, want %v", s, streams.PendingShutdown)
	}
	if err := first.Err(); err != nil {
		t.Errorf("Err() = %v, want nil: the end of the context is not a failure", err)
	}

	// It committed what it processed (CommitInterval is an hour: only the stop commits) and
	// left the group: no member holds the partitions any more.
	adm := kadm.NewClient(client(t, addr))
	committed, err := adm.FetchOffsets(ctxT(t), "handover")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctxT(t), "lines")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		if c, ok := committed.Lookup(end.Topic, end.Partition); !ok || c.At != end.Offset {
			t.Errorf("%s/%d: committed %v (%v), want the end offset %d", end.Topic, end.Partition, c.At, ok, end.Offset)
		}
	})
	// NB: Done closes once the LeaveGroup is answered; polling only keeps the check bounded.
	waitFor(t, func() error {
		described, err := adm.DescribeGroups(ctxT(t), "handover")
		if err != nil {
			t.Fatal(err)
		}
		if g := described["handover"]; len(g.Members) > 0 {
			return fmt.Errorf("after the context given to Start ended, the %s group still has member %s: its partitions are held by an App that no longer processes them",
				g.State, g.Members[0].MemberID)
		}
		return nil
	})

	// A second instance gets every partition and goes on from the committed offsets and the
	// changelogged counts: the totals are exact.
	cfg.StateDir = t.TempDir()
	second := startApp(t, wordCount(t), cfg)
	produceLines(t, addr, 60, 60, want)
	readLatest(t, second, addr, "word-counts", statestore.Int64{}, want)
}
