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

// reader consumes every partition from the start in one session for the whole run, recording
// each record in poll order.
type reader struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	polled, errors atomic.Int64
	mu             struct {
		sync.Mutex
		polls []Read
		next  map[int32]int64 // the offset after the last record polled, per partition
	}
}

func startReader(w Workload) (*reader, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.Bootstrap...), partitionsFromStart(w), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("chaos: reader: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rd := &reader{cl: cl, cancel: cancel, done: make(chan struct{})}
	rd.mu.next = map[int32]int64{}
	go rd.run(ctx)
	return rd, nil
}

func (rd *reader) run(ctx context.Context) {
	defer close(rd.done)
	for ctx.Err() == nil {
		fs := rd.cl.PollFetches(ctx)
		fs.EachError(func(string, int32, error) { rd.errors.Add(1) })
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
	rd.cl.Close()
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.mu.polls
}
