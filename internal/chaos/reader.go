//go:build unix

package chaos

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// reader consumes every partition from the start for the whole run, recording each record in
// poll order. Every w.ReaderRestart it closes its client and opens a new one that resumes after
// the last record it polled (the same session: offsets must keep rising across the restart).
type reader struct {
	w      Workload
	cancel context.CancelFunc
	done   chan struct{}

	polled, errors, restarts atomic.Int64
	mu                       struct {
		sync.Mutex
		polls []Read
		next  map[int32]int64 // the offset after the last record polled, per partition
	}
}

func startReader(w Workload) (*reader, error) {
	cl, err := kgo.NewClient(readerOpts(w, nil)...)
	if err != nil {
		return nil, fmt.Errorf("chaos: reader: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rd := &reader{w: w, cancel: cancel, done: make(chan struct{})}
	rd.mu.next = map[int32]int64{}
	go rd.run(ctx, cl)
	return rd, nil
}

// readerOpts consumes every partition from next (the start where next has no entry).
func readerOpts(w Workload, next map[int32]int64) []kgo.Opt {
	offsets := map[int32]kgo.Offset{}
	for p := range w.Partitions {
		if o, ok := next[p]; ok {
			offsets[p] = kgo.NewOffset().At(o)
		} else {
			offsets[p] = kgo.NewOffset().AtStart()
		}
	}
	return []kgo.Opt{
		kgo.SeedBrokers(w.Bootstrap...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.Topic: offsets}),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
}

func (rd *reader) run(ctx context.Context, cl *kgo.Client) {
	defer close(rd.done)
	for {
		rd.session(ctx, cl)
		cl.Close()
		if ctx.Err() != nil {
			return
		}
		rd.mu.Lock()
		next := maps.Clone(rd.mu.next)
		rd.mu.Unlock()
		var err error
		if cl, err = kgo.NewClient(readerOpts(rd.w, next)...); err != nil {
			rd.errors.Add(1)
			return // options that worked once cannot fail now; stop rather than spin
		}
		rd.restarts.Add(1)
	}
}

// session polls with cl until ctx is done or, if the reader restarts, its time is up.
func (rd *reader) session(ctx context.Context, cl *kgo.Client) {
	if rd.w.ReaderRestart > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rd.w.ReaderRestart)
		defer cancel()
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if err != context.Canceled && err != context.DeadlineExceeded {
				rd.errors.Add(1)
			}
		})
		rd.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			v, err := ParseValue(rec.Value)
			if err != nil {
				rd.errors.Add(1)
				return
			}
			rd.mu.polls = append(rd.mu.polls, Read{Partition: rec.Partition, Offset: rec.Offset, Value: v})
			rd.mu.next[rec.Partition] = rec.Offset + 1
			rd.polled.Add(1)
		})
		rd.mu.Unlock()
	}
}

// waitFor waits up to timeout until the reader has polled up to ends in every partition.
func (rd *reader) waitFor(ends map[int32]int64, timeout time.Duration) error {
	err := testutil.Poll(timeout, 50*time.Millisecond, func() error {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		if !reached(rd.mu.next, ends) {
			return fmt.Errorf("reader at %v, end offsets %v", maps.Clone(rd.mu.next), ends)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("chaos: reader did not catch up in %v: %w", timeout, err)
	}
	return nil
}

// stop stops the reader and returns what it polled.
func (rd *reader) stop() []Read {
	rd.cancel()
	<-rd.done // PollFetches returns once its context is canceled
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.mu.polls
}
