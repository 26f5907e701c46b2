package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// PunctuationType says which time a punctuation follows (ProcessorContext.Schedule).
//
// Both follow Kafka Streams: a schedule has a next due time; when the time reaches it, the
// punctuator is called once with the current time (not the due time), and the next due time
// becomes the first multiple of the interval, counted from the first due time, that is later
// than the current time, so a jump in time fires a punctuation once, not once per interval
// skipped.
type PunctuationType int

const (
	// StreamTime punctuations follow the task's stream time, the largest timestamp of the
	// records it has processed (see TimestampExtractor): they are aligned on multiples of the
	// interval from 0, so the first fires after the task's first record, then whenever stream
	// time reaches the next multiple. They are checked after each record; without new records
	// stream time stands still and they do not fire.
	StreamTime PunctuationType = iota + 1
	// WallClockTime punctuations follow the App's clock (Config.Clock): the first fires one
	// interval after Schedule, then every interval, whether or not records arrive. The App's
	// loop bounds its wait for records by the next one's due time, so a punctuation is late
	// only by the processing in progress.
	WallClockTime
)

// String is Kafka Streams' name of the type.
func (p PunctuationType) String() string {
	switch p {
	case StreamTime:
		return "STREAM_TIME"
	case WallClockTime:
		return "WALL_CLOCK_TIME"
	}
	return fmt.Sprintf("PunctuationType(%d)", int(p))
}

// Punctuator is called by a scheduled punctuation with the current stream time or wall-clock
// time (ms), on the task's goroutine. It may use the ProcessorContext (Forward, stores); an
// error stops the App like a processing error.
type Punctuator func(timestamp int64) error

// schedule is one punctuation of a task.
type schedule struct {
	processor string
	typ       PunctuationType
	interval  int64 // ms
	next      int64 // due time, ms
	fn        Punctuator
	cancelled bool
}

// schedule adds a punctuation of processor to the task.
func (t *task) schedule(processor string, interval time.Duration, typ PunctuationType, fn Punctuator) (func(), error) {
	if interval < time.Millisecond {
		return nil, fmt.Errorf("punctuation interval %v: must be at least 1ms", interval)
	}
	if fn == nil {
		return nil, errors.New("nil punctuator")
	}
	s := &schedule{processor: processor, typ: typ, interval: interval.Milliseconds(), fn: fn}
	switch typ {
	case StreamTime:
		s.next = 0
	case WallClockTime:
		s.next = t.app.clock().Now().UnixMilli() + s.interval
	default:
		return nil, fmt.Errorf("unknown punctuation type %v", typ)
	}
	ps := t.processorState()
	ps.schedules = append(ps.schedules, s)
	return func() { s.cancelled = true }, nil
}

// punctuate fires the punctuations of type typ that are due at now, earliest due first (ties in
// scheduling order), and reports whether any fired.
func (t *task) punctuate(typ PunctuationType, now int64) (bool, error) {
	ps := t.processorState()
	fired := false
	defer func() {
		ps.schedules = slices.DeleteFunc(ps.schedules, func(s *schedule) bool { return s.cancelled })
	}()
	for {
		var due *schedule
		for _, s := range ps.schedules {
			if s.typ == typ && !s.cancelled && s.next <= now && (due == nil || s.next < due.next) {
				due = s
			}
		}
		if due == nil {
			return fired, nil
		}
		t.app.metrics.observePunctuationLag(typ, now-due.next)
		due.next += due.interval
		if now >= due.next {
			due.next += (now - due.next + due.interval) / due.interval * due.interval
		}
		fired = true
		if err := due.fn(now); err != nil {
			return fired, fmt.Errorf("punctuation (%s every %dms) of processor %s at %d: %w", typ, due.interval, due.processor, now, err)
		}
	}
}

// nextWallClockPunctuation is the earliest due time of the task's wall-clock punctuations.
func (t *task) nextWallClockPunctuation() (int64, bool) {
	if t.proc == nil {
		return 0, false
	}
	var next int64
	found := false
	for _, s := range t.proc.schedules {
		if s.typ == WallClockTime && !s.cancelled && (!found || s.next < next) {
			next, found = s.next, true
		}
	}
	return next, found
}

// Clock tells the App the wall-clock time of wall-clock punctuations (Config.Clock). It must
// be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// clock is Config.Clock, or the system's.
func (a *App) clock() Clock {
	if a.cfg.Clock != nil {
		return a.cfg.Clock
	}
	return systemClock{}
}

// untilWallClockPunctuationLocked is how long the loop may wait for records before a
// wall-clock punctuation is due; an hour when none is scheduled. With a ManualClock it is
// always an hour: only Advance moves the time, and it wakes the loop.
func (a *App) untilWallClockPunctuationLocked() time.Duration {
	const none = time.Hour
	if _, manual := a.cfg.Clock.(*ManualClock); manual {
		return none
	}
	var next int64
	found := false
	for _, t := range a.mu.tasks {
		if n, ok := t.nextWallClockPunctuation(); ok && (!found || n < next) {
			next, found = n, true
		}
	}
	if !found {
		return none
	}
	return time.Duration(next-a.clock().Now().UnixMilli()) * time.Millisecond
}

// punctuateWallClockLocked fires the wall-clock punctuations that are due, task by task in
// task id order. With a ManualClock it then flushes the output of those punctuations and tells
// the clock that the App has caught up with its time (see ManualClock.Advance).
func (a *App) punctuateWallClockLocked(ctx context.Context) error {
	now := a.clock().Now()
	tasks := a.allTasksLocked()
	slices.SortFunc(tasks, func(x, y *task) int {
		if x.id.subtopology != y.id.subtopology {
			return x.id.subtopology - y.id.subtopology
		}
		return int(x.id.partition - y.id.partition)
	})
	fired := false
	for _, t := range tasks {
		if _, ok := t.nextWallClockPunctuation(); !ok {
			continue
		}
		f, err := t.punctuate(WallClockTime, now.UnixMilli())
		fired = fired || f
		if err != nil {
			return fmt.Errorf("streams: task %s: %w", t.id, err)
		}
	}
	mc, manual := a.cfg.Clock.(*ManualClock)
	if !manual {
		return nil
	}
	if fired {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if err := a.flushOutput(fctx); err != nil {
			return err
		}
	}
	mc.caughtUp(a, now)
	return nil
}

// wakeup interrupts the loop's wait for records (or the next one, if it is not waiting), so
// that it punctuates at once. ManualClock.Advance calls it.
func (a *App) wakeup() {
	a.wake.mu.Lock()
	defer a.wake.mu.Unlock()
	if a.wake.mu.cancel != nil {
		a.wake.mu.cancel()
		a.wake.mu.cancel = nil
	} else {
		a.wake.mu.pending = true
	}
}

// armWakeup makes wakeup cancel the poll about to start, through its context's cancel.
func (a *App) armWakeup(cancel context.CancelFunc) {
	a.wake.mu.Lock()
	defer a.wake.mu.Unlock()
	if a.wake.mu.pending {
		a.wake.mu.pending = false
		cancel()
		return
	}
	a.wake.mu.cancel = cancel
}

// disarmWakeup ends the poll armWakeup armed.
func (a *App) disarmWakeup() {
	a.wake.mu.Lock()
	a.wake.mu.cancel = nil
	a.wake.mu.Unlock()
}

// wakeState lets another goroutine interrupt the loop's poll. Its lock is taken alone.
type wakeState struct {
	mu struct {
		sync.Mutex
		cancel  context.CancelFunc // of the poll in progress, nil between polls
		pending bool               // a wakeup came between polls
	}
}

// joinClock registers the App with a ManualClock; the loop leaves it when it ends.
func (a *App) joinClock() {
	if mc, ok := a.cfg.Clock.(*ManualClock); ok {
		mc.join(a)
	}
}

func (a *App) leaveClock() {
	if mc, ok := a.cfg.Clock.(*ManualClock); ok {
		mc.leave(a)
	}
}

// ManualClock is a Clock that moves only when told to, for tests of wall-clock punctuations
// (streamstest uses it). Give it to Config.Clock; the App then punctuates when Advance moves
// it. It is safe for concurrent use.
type ManualClock struct {
	mu struct {
		sync.Mutex
		now time.Time
		// apps are the running Apps on this clock, with the time each last punctuated at.
		apps map[*App]time.Time
		// changed is closed (and replaced) when an App reports or leaves.
		changed chan struct{}
	}
}

// NewManualClock returns a ManualClock showing start.
func NewManualClock(start time.Time) *ManualClock {
	c := &ManualClock{}
	c.mu.now = start
	c.mu.apps = map[*App]time.Time{}
	c.mu.changed = make(chan struct{})
	return c
}

// Now is the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.now
}

// ErrClockNotCaughtUp is returned (wrapped) by ManualClock.Advance when an App has not
// punctuated at the new time before the context ended.
var ErrClockNotCaughtUp = errors.New("streams: an App did not catch up with the manual clock")

// Advance moves the clock forward by d, then waits until every running App using it has fired
// the wall-clock punctuations due at the new time and flushed their output, or ctx ends. A
// negative d is an error: wall-clock time does not go back here.
func (c *ManualClock) Advance(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("streams: ManualClock.Advance(%v): negative duration", d)
	}
	c.mu.Lock()
	c.mu.now = c.mu.now.Add(d)
	target := c.mu.now
	apps := make([]*App, 0, len(c.mu.apps))
	for a := range c.mu.apps {
		apps = append(apps, a)
	}
	c.mu.Unlock()
	for _, a := range apps {
		a.wakeup()
	}
	for {
		c.mu.Lock()
		behind := 0
		for _, at := range c.mu.apps {
			if at.Before(target) {
				behind++
			}
		}
		changed := c.mu.changed
		c.mu.Unlock()
		if behind == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d App(s) behind %v: %w", ErrClockNotCaughtUp, behind, target, ctx.Err())
		}
	}
}

func (c *ManualClock) join(a *App) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.apps[a] = c.mu.now
}

func (c *ManualClock) leave(a *App) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.apps, a)
	c.notifyLocked()
}

// caughtUp records that a punctuated at time now.
func (c *ManualClock) caughtUp(a *App, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.apps[a]; ok {
		c.mu.apps[a] = now
		c.notifyLocked()
	}
}

func (c *ManualClock) notifyLocked() {
	close(c.mu.changed)
	c.mu.changed = make(chan struct{})
}
