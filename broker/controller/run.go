package controller

import (
	"errors"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// owner is the state of the goroutine that owns the Controller.
type owner struct {
	n   *Node
	ctl *Controller
	// applied is the last quorum index applied (batch or snapshot).
	applied uint64
	// activating: a NoOp batch is in flight for this leadership generation. activateAt, activateTerm and
	// activateGen: it committed at activateAt; become active once that is applied (0: nothing pending).
	activating                 bool
	activateAt, activateTerm   uint64
	activateGen                uint64
	lastActivationAttemptEnded time.Time
	// answers are replies of committed batches not applied yet (Propose can return before the owner
	// has read the batch from Committed), in offset order.
	answers []answer
}

type answer struct {
	offset  uint64
	waiters []waiter
}

// run is the owner goroutine: it drains the quorum's Committed channel, serves calls, and ticks.
func (n *Node) run() {
	o := &owner{n: n, ctl: New(n.cfg.Controller, metadata.Empty())}
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	defer o.publish(false)
	for {
		select {
		case <-n.ctx.Done():
			return
		case c, ok := <-n.q.Committed():
			if !ok {
				n.logger.Info("controller stopped: the quorum node stopped", "err", n.q.Err())
				return
			}
			if err := o.committed(c); err != nil {
				// NB: a log this controller cannot apply must not be served from a guess: stop (the
				// quorum stalls without its applier and another voter takes over).
				n.logger.Error("controller stopped: cannot apply the metadata log", "index", c.Index, "err", err)
				return
			}
		case r := <-n.prop.results:
			o.result(r)
		case c := <-n.calls:
			o.call(c)
		case now := <-tick.C:
			o.tick(now)
		}
		o.publish(o.ctl.Active())
	}
}

func (o *owner) publish(active bool) {
	o.n.mu.Lock()
	o.n.mu.active, o.n.mu.committed = active, o.ctl.Committed()
	o.n.mu.Unlock()
}

func (o *owner) committed(c quorum.Committed) error {
	n := o.n
	switch {
	case c.IsSnapshot:
		img, err := metadata.ReadSnapshot(c.Image)
		if err != nil {
			return err
		}
		if o.ctl.Active() {
			o.resign("loading a snapshot")
		}
		o.ctl.LoadSnapshot(img)
		o.applied = c.Index
		o.answer()
	case c.LeaderChange:
		if c.LeaderID == n.id {
			n.logger.Info("controller: this node leads the quorum; proposing a NoOp to become active", "term", c.Term)
			o.resign("")
			o.proposeActivation(c.Term)
		} else {
			o.resign("the quorum leader is now another node")
		}
	default:
		recs, err := metadata.DecodeRecords(c.Records)
		if err != nil {
			return err
		}
		if err := o.ctl.ApplyCommitted(int64(c.Index), int32(c.Term), recs); err != nil {
			if !errors.Is(err, ErrDiverged) {
				return err
			}
			o.resign(err.Error())
		}
		o.applied = c.Index
		o.tryActivate()
		o.answer()
		if c.SnapshotDue {
			img := o.ctl.Committed()
			err := n.q.Snapshot(c.Index, metadata.AppendSnapshot(nil, img))
			if err != nil && !errors.Is(err, quorum.ErrSnapshotStale) {
				n.logger.Warn("controller: snapshot failed", "index", c.Index, "err", err)
			}
		}
	}
	return nil
}

// resign returns to standby and starts a new leadership generation: queued proposals of the old one
// are dropped. reason, if not empty, is logged when the controller was active.
func (o *owner) resign(reason string) {
	if o.ctl.Active() && reason != "" {
		o.n.logger.Info("controller resigned", "reason", reason)
	}
	o.ctl.Resign()
	o.n.prop.gen.Add(1)
	o.activating, o.activateAt = false, 0
}

// proposeActivation proposes the NoOp batch after which this leader becomes active in term.
func (o *owner) proposeActivation(term uint64) {
	o.activating = true
	o.n.prop.enqueue(proposal{gen: o.n.prop.gen.Load(), records: []metadata.Record{&metadata.NoOpRecord{}}, activate: term})
}

func (o *owner) tryActivate() {
	if o.activateAt == 0 || o.applied < o.activateAt {
		return
	}
	n := o.n
	at, term, gen := o.activateAt, o.activateTerm, o.activateGen
	o.activateAt = 0
	if gen != n.prop.gen.Load() || n.q.Leader() != n.id || n.q.Term() != term {
		return
	}
	o.ctl.BecomeActive(time.Now(), int32(term))
	n.logger.Info("controller active", "epoch", term, "offset", at)
}

func (o *owner) result(r proposed) {
	n := o.n
	if r.activate != 0 {
		o.activating = false
		o.lastActivationAttemptEnded = time.Now()
	}
	if r.err != nil {
		if r.gen == n.prop.gen.Load() {
			o.resign("proposal failed: " + r.err.Error())
		}
		err := error(n.notController(r.err))
		if errors.Is(r.err, quorum.ErrClosed) {
			err = ErrNodeClosed
		}
		fail(r.waiters, err)
		return
	}
	if r.activate != 0 {
		o.activateAt, o.activateTerm, o.activateGen = r.offset, r.activate, r.gen
		o.tryActivate()
	}
	if len(r.waiters) > 0 {
		o.answers = append(o.answers, answer{offset: r.offset, waiters: r.waiters})
		o.answer()
	}
}

// answer replies to the requests whose batch has been applied: a reply means the committed image
// (CommittedImage) holds the request's records.
func (o *owner) answer() {
	if len(o.answers) == 0 || o.answers[0].offset > o.applied {
		return
	}
	o.publish(o.ctl.Active())
	i := 0
	for ; i < len(o.answers) && o.answers[i].offset <= o.applied; i++ {
		for _, w := range o.answers[i].waiters {
			w.reply <- callResult{resp: w.resp}
		}
	}
	o.answers = o.answers[i:]
}

func (o *owner) call(c call) {
	if !o.ctl.Active() {
		c.reply <- callResult{err: o.n.notController(nil)}
		return
	}
	decide := func(ctl *Controller, now time.Time) (Result, error) { return ctl.Handle(now, c.req) }
	if c.decide != nil {
		decide = c.decide
	}
	res, err := decide(o.ctl, time.Now())
	switch {
	case errors.Is(err, ErrNotActive):
		c.reply <- callResult{err: o.n.notController(err)}
	case err != nil:
		c.reply <- callResult{err: err}
	case len(res.Records) == 0:
		c.reply <- callResult{resp: res.Reply}
	default:
		o.n.prop.enqueue(proposal{gen: o.n.prop.gen.Load(), records: res.Records, waiters: []waiter{{reply: c.reply, resp: res.Reply}}})
	}
}

func (o *owner) tick(now time.Time) {
	n := o.n
	if !o.ctl.Active() {
		// NB: a leader that is not active (its NoOp failed, or it resigned after a failed proposal)
		// retries activation here, at most once per tick.
		if n.q.Leader() == n.id && !o.activating && o.activateAt == 0 && now.Sub(o.lastActivationAttemptEnded) >= n.cfg.TickInterval {
			o.proposeActivation(n.q.Term())
		}
		return
	}
	res, err := o.ctl.Tick(now)
	if err != nil {
		n.logger.Warn("controller tick failed", "err", err)
		return
	}
	if len(res.Records) > 0 {
		o.logSessionFences(res.Records)
		n.prop.enqueue(proposal{gen: n.prop.gen.Load(), records: res.Records})
	}
}

// logSessionFences logs the brokers a Tick fences (their session expired), as Kafka's controller
// does: the line an operator looks for when a live broker loses its leaderships.
func (o *owner) logSessionFences(recs []metadata.Record) {
	var fenced []int32
	for _, r := range recs {
		if r, ok := r.(*metadata.BrokerRegistrationChangeRecord); ok && r.Fenced == 1 {
			fenced = append(fenced, r.BrokerID)
		}
	}
	if len(fenced) > 0 {
		o.n.logger.Info("controller: fencing brokers whose session expired", "brokers", fenced, "session_timeout", o.ctl.cfg.SessionTimeout)
	}
}
