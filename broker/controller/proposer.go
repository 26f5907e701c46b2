package controller

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// proposal is a batch of records the owner goroutine hands to the proposer, with the replies to send
// once it commits.
type proposal struct {
	// gen is the owner's leadership generation when the records were decided; a proposal from an older
	// generation was decided on a working image that no longer exists and is never proposed.
	gen     uint64
	records []metadata.Record
	waiters []waiter
	// activate, if not zero, marks the NoOp batch a new leader proposes: the term to become active in.
	activate uint64
}

type waiter struct {
	reply chan callResult
	resp  kmsg.Response
}

// batch is what the proposer proposes: merged proposals and their encoded records.
type batch struct {
	proposal
	encoded [][]byte
}

// proposed is a Propose call's outcome, sent back to the owner.
type proposed struct {
	proposal
	offset uint64
	err    error
}

// errStale fails the requests of a proposal dropped because its leadership generation ended.
var errStale = errors.New("controller: leadership changed before the records were proposed")

// proposer is the one goroutine that calls quorum.Node.Propose, in the order the owner decided the
// batches, merging the batches that queue up while one is in flight. Its queue is unbounded so the
// owner never blocks on it (the owner must keep draining Committed, which Propose waits for).
type proposer struct {
	q       *quorum.Node
	timeout time.Duration
	ctx     context.Context // cancelled by Node.Close
	stop    <-chan struct{}
	// ownerDone is closed when the owner goroutine has returned; nothing reads results after that.
	ownerDone <-chan struct{}

	// gen is the current leadership generation; only the owner changes it.
	gen     atomic.Uint64
	wake    chan struct{}
	results chan proposed

	mu struct {
		sync.Mutex
		queue []proposal
	}
}

func (p *proposer) init(ctx context.Context, q *quorum.Node, timeout time.Duration, ownerDone <-chan struct{}) {
	p.ctx, p.q, p.timeout, p.stop, p.ownerDone = ctx, q, timeout, ctx.Done(), ownerDone
	p.wake = make(chan struct{}, 1)
	p.results = make(chan proposed)
}

// enqueue queues pr without blocking.
func (p *proposer) enqueue(pr proposal) {
	p.mu.Lock()
	p.mu.queue = append(p.mu.queue, pr)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *proposer) run() {
	defer p.failQueued(ErrNodeClosed)
	for {
		select {
		case <-p.stop:
			return
		case <-p.ownerDone:
			return
		case <-p.wake:
		}
		for {
			b, ok := p.take()
			if !ok {
				break
			}
			pr := b.proposal
			// NB: derived from the node's context, so Close does not wait out a Propose stuck behind a
			// dead quorum.
			ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
			offset, err := p.q.Propose(ctx, b.encoded)
			cancel()
			select {
			case p.results <- proposed{proposal: pr, offset: offset, err: err}:
			case <-p.stop:
				fail(pr.waiters, ErrNodeClosed)
				return
			case <-p.ownerDone:
				fail(pr.waiters, ErrNodeClosed)
				return
			}
		}
	}
}

// take removes the next batch from the queue: stale proposals are failed on the way, consecutive
// proposals of the current generation are merged (the Controller allows merged batches) up to
// maxMergedBatchBytes. An activation NoOp is never merged. Records are encoded here, off the owner
// goroutine.
func (p *proposer) take() (batch, bool) {
	gen := p.gen.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out batch
	var size int
	taken := false
	for len(p.mu.queue) > 0 {
		next := p.mu.queue[0]
		if next.gen != gen {
			p.mu.queue = p.mu.queue[1:]
			fail(next.waiters, &NotControllerError{LeaderID: p.q.Leader(), Cause: errStale})
			continue
		}
		if taken && (next.activate != 0 || out.activate != 0 || size >= maxMergedBatchBytes) {
			break
		}
		p.mu.queue = p.mu.queue[1:]
		if !taken {
			out.gen, out.activate, taken = next.gen, next.activate, true
		}
		out.waiters = append(out.waiters, next.waiters...)
		for _, r := range next.records {
			enc := metadata.EncodeRecord(r)
			out.encoded = append(out.encoded, enc)
			size += len(enc)
		}
	}
	if len(p.mu.queue) == 0 {
		p.mu.queue = nil
	}
	return out, taken
}

func (p *proposer) failQueued(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.mu.queue {
		fail(pr.waiters, err)
	}
	p.mu.queue = nil
}

// fail answers waiters without blocking (their channels hold one reply).
func fail(ws []waiter, err error) {
	for _, w := range ws {
		select {
		case w.reply <- callResult{err: err}:
		default:
		}
	}
}
