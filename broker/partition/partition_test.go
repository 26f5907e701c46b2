package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/gregor-streams/gregor/broker/log"
)

// testBatch returns a v2 record batch of n records with values "value".
func testBatch(n int, value string) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(value)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: 1000,
		MaxTimestamp: 1000 + int64(n-1), ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestLog(t *testing.T) *plog.Log {
	t.Helper()
	l, err := plog.Open(t.TempDir(), plog.DefaultConfig(), plog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// testClock is a settable clock for the driver.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

func newLeader(t *testing.T, l *plog.Log, minISR int, isr []int32, proposals *[]Proposal) (*Partition, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(1_000_000)
	p := New("t", 0, 1, l, l.HighWatermark(), Config{MinInsyncReplicas: minISR, ReplicaLagTimeMaxMs: 30000}, Options{
		Now: clk.now, Logger: quiet(),
		Propose: func(_ string, _ int32, pr Proposal) {
			if proposals != nil {
				*proposals = append(*proposals, pr)
			}
		},
	})
	if _, err := p.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: isr}); err != nil {
		t.Fatal(err)
	}
	return p, clk
}

func appendTo(l *plog.Log, n int) func(int32) (int64, error) {
	return func(epoch int32) (int64, error) {
		res, err := l.Append(testBatch(n, "v"), epoch)
		return res.LastOffset + 1, err
	}
}

func TestAcksAllCompletesWhenEveryISRMemberHasTheBatch(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 2, []int32{1, 2, 3}, nil)
	ack, err := p.AppendAsLeader(-1, appendTo(l, 4))
	if err != nil {
		t.Fatal(err)
	}
	if l.LatestEpoch() != 3 {
		t.Fatalf("batches stamped with epoch %d, want the leader epoch 3", l.LatestEpoch())
	}
	if _, err := p.FollowerFetch(2, 4, 3); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ack.Done():
		t.Fatalf("acks=all completed with replica 3 at an unknown offset (err %v)", ack.Err())
	default:
	}
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("log high watermark %d before replica 3 fetched, want 0", hw)
	}
	v, err := p.FollowerFetch(3, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if v.HighWatermark != 4 || l.HighWatermark() != 4 {
		t.Fatalf("high watermark answered %d, log %d, want 4", v.HighWatermark, l.HighWatermark())
	}
	if err := ack.Wait(time.Second, nil); err != nil {
		t.Fatalf("acks=all: %v", err)
	}
}

func TestAcksAllTimesOutWithRequestTimedOut(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 1, []int32{1, 2}, nil)
	ack, err := p.AppendAsLeader(-1, appendTo(l, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := ack.Wait(time.Millisecond, nil); !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("got %v, want REQUEST_TIMED_OUT", err)
	}
	if n := p.Snapshot().AckWaiters; n != 0 {
		t.Fatalf("%d waiters left after the timeout", n)
	}
}

func TestAcksAllRefusedBeforeAppendWhenISRBelowMinInsync(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 2, []int32{1}, nil)
	called := false
	_, err := p.AppendAsLeader(-1, func(int32) (int64, error) { called = true; return 0, nil })
	if !errors.Is(err, kerr.NotEnoughReplicas) || called {
		t.Fatalf("got %v (appended %v), want NOT_ENOUGH_REPLICAS before the append", err, called)
	}
	if _, err := p.AppendAsLeader(1, appendTo(l, 1)); err != nil {
		t.Fatalf("acks=1 with a short ISR: %v", err)
	}
	if l.HighWatermark() != 0 {
		t.Fatalf("high watermark %d advanced with the ISR below min.insync.replicas", l.HighWatermark())
	}
}

func TestAcksAllFailsAfterAppendWhenISRShrinksBelowMinInsync(t *testing.T) {
	l := openTestLog(t)
	var props []Proposal
	p, clk := newLeader(t, l, 2, []int32{1, 2}, &props)
	ack, err := p.AppendAsLeader(-1, appendTo(l, 2))
	if err != nil {
		t.Fatal(err)
	}
	clk.ms.Add(30001)
	p.MaybeShrinkISR()
	if len(props) != 1 || len(props[0].NewISR) != 1 {
		t.Fatalf("proposals %+v, want one shrinking the ISR to the leader", props)
	}
	if _, err := p.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: props[0].NewISR}); err != nil {
		t.Fatal(err)
	}
	if err := ack.Wait(time.Second, nil); !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
		t.Fatalf("got %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", err)
	}
}

func TestLosingLeadershipFailsWaitersAndFencesFollowerFetches(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 1, []int32{1, 2}, nil)
	ack, err := p.AppendAsLeader(-1, appendTo(l, 1))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.ApplyAssignment(Assignment{Leader: 2, LeaderEpoch: 4, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{2}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.From != RoleLeader || tr.To != RoleFollower || !tr.NewEpoch || tr.Leader != 2 {
		t.Fatalf("transition %+v", tr)
	}
	if err := ack.Wait(time.Second, nil); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("got %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if _, err := p.FollowerFetch(3, 0, 3); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("fetch at the old epoch: %v, want FENCED_LEADER_EPOCH", err)
	}
	if _, err := p.FollowerFetch(3, 0, 5); !errors.Is(err, kerr.UnknownLeaderEpoch) {
		t.Fatalf("fetch at a newer epoch: %v, want UNKNOWN_LEADER_EPOCH", err)
	}
	id, epoch, err := p.CheckEpoch(4, true)
	if !errors.Is(err, kerr.NotLeaderForPartition) || id != 2 || epoch != 4 {
		t.Fatalf("CheckEpoch: leader %d epoch %d err %v, want leader 2 epoch 4 NOT_LEADER_OR_FOLLOWER", id, epoch, err)
	}
	if _, err := p.AppendAsLeader(1, appendTo(l, 1)); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append as follower: %v", err)
	}
}

func TestBecomingLeaderCheckpointsTheEpochStartOffset(t *testing.T) {
	l := openTestLog(t)
	if _, err := l.Append(testBatch(5, "old"), 1); err != nil {
		t.Fatal(err)
	}
	newLeader(t, l, 1, []int32{1}, nil) // epoch 3 at log end offset 5
	if e := l.LatestEpoch(); e != 3 {
		t.Fatalf("latest epoch %d, want 3", e)
	}
	// A follower asking for epoch 1 learns it ended at 5, before the new leader appended anything.
	if e, end := l.EndOffsetForEpoch(1); e != 1 || end != 5 {
		t.Fatalf("end of epoch 1: %d/%d, want 1/5", e, end)
	}
}

func TestNewPartitionRestoresTheRecoveredHighWatermarkToTheLog(t *testing.T) {
	l := openTestLog(t)
	if _, err := l.Append(testBatch(5, "v"), 1); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(5) // as Open leaves it: at the log end
	New("t", 0, 1, l, 2, Config{}, Options{Logger: quiet()})
	if hw := l.HighWatermark(); hw != 2 {
		t.Fatalf("log high watermark %d, want the recovered 2: consumers would read records no quorum has", hw)
	}
}

func TestFetchWaiterIsWokenOnlyByItsOwnPartitions(t *testing.T) {
	la, lb := openTestLog(t), openTestLog(t)
	a, _ := newLeader(t, la, 1, []int32{1}, nil)
	b, _ := newLeader(t, lb, 1, []int32{1}, nil)
	w := NewFetchWaiter()
	hw, leo := a.Offsets()
	a.Watch(w, hw, leo)
	defer a.Unwatch(w)
	if _, err := b.AppendAsLeader(1, appendTo(lb, 1)); err != nil {
		t.Fatal(err)
	}
	// NB: wake-ups are sent before AppendAsLeader returns, so an empty channel here is final.
	if len(w.C()) != 0 {
		t.Fatal("woken by an append to a partition it does not read")
	}
	if _, err := a.AppendAsLeader(1, appendTo(la, 1)); err != nil {
		t.Fatal(err)
	}
	if len(w.C()) != 1 {
		t.Fatal("not woken by an append to its partition")
	}
	<-w.C()
	// Registering with stale offsets wakes at once: an append between the read and Watch is not lost.
	w2 := NewFetchWaiter()
	b.Watch(w2, 0, 0)
	defer b.Unwatch(w2)
	if len(w2.C()) != 1 {
		t.Fatal("a waiter registered after an append it did not see was not woken")
	}
}

func TestFollowerAppendsOnlyAtItsLeaderEpoch(t *testing.T) {
	l := openTestLog(t)
	p := New("t", 0, 2, l, 0, Config{}, Options{Logger: quiet()})
	if _, err := p.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 7, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Follow(6, func() (int64, error) { t.Fatal("ran at a stale epoch"); return 0, nil }); !errors.Is(err, ErrNotFollowing) {
		t.Fatalf("got %v, want ErrNotFollowing", err)
	}
	if err := p.Follow(7, func() (int64, error) { return 10, nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.SetFollowerHighWatermark(7, 20); err != nil {
		t.Fatal(err)
	}
	if s := p.Snapshot(); s.LogEndOffset != 10 || s.HighWatermark != 10 {
		t.Fatalf("follower log end %d high watermark %d, want 10/10", s.LogEndOffset, s.HighWatermark)
	}
}

// BenchmarkAppendAndFollowerFetch measures the replica-state cost of one acks=all produce on a
// leader of three replicas: the driver's locking and waiter bookkeeping, with an in-memory log.
func BenchmarkAppendAndFollowerFetch(b *testing.B) {
	l := &memLog{}
	p := New("t", 0, 1, l, 0, Config{MinInsyncReplicas: 2}, Options{Logger: quiet()})
	if _, err := p.ApplyAssignment(Assignment{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ack, err := p.AppendAsLeader(-1, func(int32) (int64, error) { return l.leo.Add(10), nil })
		if err != nil {
			b.Fatal(err)
		}
		end := l.leo.Load()
		if _, err := p.FollowerFetch(2, end, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := p.FollowerFetch(3, end, 1); err != nil {
			b.Fatal(err)
		}
		<-ack.Done()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "produces/s")
}

// memLog is an in-memory stand-in for the log's offsets (benchmarks only).
type memLog struct{ leo, hw atomic.Int64 }

func (m *memLog) LogStartOffset() int64                     { return 0 }
func (m *memLog) LogEndOffset() int64                       { return m.leo.Load() }
func (m *memLog) SetHighWatermark(hw int64)                 { m.hw.Store(hw) }
func (m *memLog) AssignEpochStartOffset(int32, int64) error { return nil }

// Producers and followers at once on one partition (run with -race): every acks=all produce
// completes successfully, never before both followers have its batch, and the high watermark
// ends at the log end.
func TestConcurrentProducersAndFollowers(t *testing.T) {
	l := openTestLog(t)
	p, _ := newLeader(t, l, 3, []int32{1, 2, 3}, nil)
	var fetched [4]atomic.Int64 // by replica id: the offset each follower has fetched up to
	stop := make(chan struct{})
	done := make(chan error, 2)
	for _, id := range []int32{2, 3} {
		go func() {
			// A long-polling follower: fetch up to the log end, then wait for the partition to move.
			w := NewFetchWaiter()
			for {
				_, leo := p.Offsets()
				fetched[id].Store(leo)
				v, err := p.FollowerFetch(id, leo, 3)
				if err != nil {
					done <- err
					return
				}
				// NB: what this follower has read is leo; an append since wakes it at once.
				p.Watch(w, v.HighWatermark, leo)
				select {
				case <-w.C():
					p.Unwatch(w)
				case <-stop:
					p.Unwatch(w)
					done <- nil
					return
				}
			}
		}()
	}
	const producers, each = 4, 100
	errs := make(chan error, producers)
	for range producers {
		go func() {
			for range each {
				var end int64
				ack, err := p.AppendAsLeader(-1, func(epoch int32) (int64, error) {
					var err error
					end, err = appendTo(l, 2)(epoch)
					return end, err
				})
				if err != nil {
					errs <- err
					return
				}
				if err := ack.Wait(10*time.Second, nil); err != nil {
					errs <- err
					return
				}
				if f2, f3 := fetched[2].Load(), fetched[3].Load(); f2 < end || f3 < end {
					errs <- fmt.Errorf("produce ending at %d acknowledged with followers at %d and %d", end, f2, f3)
					return
				}
			}
			errs <- nil
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Every produce was acknowledged only once the high watermark passed it, and the high
	// watermark never passed what both followers had fetched.
	s := p.Snapshot()
	if s.LogEndOffset != producers*each*2 || s.HighWatermark > min(fetched[2].Load(), fetched[3].Load()) {
		t.Fatalf("log end %d, high watermark %d, followers at %d and %d", s.LogEndOffset, s.HighWatermark, fetched[2].Load(), fetched[3].Load())
	}
}
