package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// taskRunner owns one task's goroutine: a source loop (poll → convert → produce → flush offsets) or
// a sink loop (consume → convert → put → flush → commit).
type taskRunner struct {
	w         *Worker
	connector string
	id        int
	plugin    *Plugin
	config    map[string]string
	logger    *slog.Logger

	topics *topicSet // the connector's active topics
	m      *taskMetrics

	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{} // nudged when the paused flag changes

	mu struct {
		sync.Mutex
		paused bool
		state  string
		trace  string
	}
}

func newTaskRunner(w *Worker, connector string, id int, plugin *Plugin, config map[string]string) *taskRunner {
	t := &taskRunner{w: w, connector: connector, id: id, plugin: plugin, config: config,
		logger: w.logger.With("connector", connector, "task", id),
		done:   make(chan struct{}), wake: make(chan struct{}, 1), m: w.metrics.task(connector, id)}
	t.mu.state = StateUnassigned
	return t
}

func (t *taskRunner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go func() {
		defer close(t.done)
		err := t.run(ctx)
		if errors.Is(err, errHalted) {
			return // NB: a halted worker reports nothing, as a dead process would not
		}
		if err != nil && ctx.Err() == nil {
			t.logger.Error("task failed", "err", err)
			t.setState(StateFailed, err.Error())
			return
		}
		if err != nil {
			t.logger.Warn("task error while stopping", "err", err)
		}
	}()
}

// run runs the task's loop. A panic in the task (a plugin's bug) fails the task, as Kafka fails a
// task on any Throwable, instead of ending the worker's process: the loop's deferred cleanups
// (closing its clients) have run by the time it is recovered here.
func (t *taskRunner) run(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			t.logger.Error("task panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("task %s-%d panicked: %v", t.connector, t.id, v)
		}
	}()
	if t.plugin.Type == PluginSource {
		return t.runSource(ctx)
	}
	return t.runSink(ctx)
}

// stop cancels the task and waits for it to commit and exit. Idempotent.
func (t *taskRunner) stop() {
	t.cancel()
	<-t.done
	t.w.metrics.forgetTask(t.connector, t.id)
}

// stopWithin is stop for a halted worker: it gives up waiting after timeout (a task stuck in a
// call that ignores its context) and reports whether the task goroutine ended.
func (t *taskRunner) stopWithin(timeout time.Duration) bool {
	t.cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.done:
		t.w.metrics.forgetTask(t.connector, t.id)
		return true
	case <-timer.C:
		return false
	}
}

// errHalted is what a task runner's calls into its task, writes and commits return once its
// worker was halted.
var errHalted = errors.New("connect: worker halted")

// act runs fn, a call into the task or a write or commit made for it, unless the worker was
// halted. A halt waits for a running fn to return, so once it returns nothing more happens.
func (t *taskRunner) act(fn func() error) error {
	t.w.halt.RLock()
	defer t.w.halt.RUnlock()
	if t.w.halt.halted {
		return errHalted
	}
	return fn()
}

// tryAct is act for callbacks on a client's goroutines: it skips fn instead of waiting while a
// halt is under way. NB: waiting could deadlock, as act's caller may itself wait for the callback
// (a Flush waits for every produce promise).
func (t *taskRunner) tryAct(fn func()) {
	if !t.w.halt.TryRLock() {
		return
	}
	defer t.w.halt.RUnlock()
	if !t.w.halt.halted {
		fn()
	}
}

// halted reports whether the worker was halted.
func (t *taskRunner) halted() bool {
	t.w.halt.RLock()
	defer t.w.halt.RUnlock()
	return t.w.halt.halted
}

// closeClient closes a task's Kafka client. After a halt, a consumer leaves no group (its
// partitions move once its session expires, as after a crash): the leave request could only fail
// on the severed connections, and the client would retry it for long.
func (t *taskRunner) closeClient(cl *kgo.Client) {
	if t.halted() {
		cl.AllowRebalance() // NB: a leave waits for the last poll's rebalance block to be released
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = cl.LeaveGroupContext(ctx)
	}
	cl.Close()
}

// stopTask calls the task's Stop unless the worker was halted: a crash does not stop a task, and
// a Stop may write (the file sink writes what it buffered).
func (t *taskRunner) stopTask(stop func() error) {
	if err := t.act(stop); err != nil && !errors.Is(err, errHalted) {
		t.logger.Warn("task stop", "err", err)
	}
}

func (t *taskRunner) setPaused(p bool) {
	t.mu.Lock()
	t.mu.paused = p
	if t.mu.state == StateRunning && p {
		t.mu.state = StatePaused
	} else if t.mu.state == StatePaused && !p {
		t.mu.state = StateRunning
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *taskRunner) paused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.paused
}

func (t *taskRunner) setState(state, trace string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if state == StateRunning && t.mu.paused {
		state = StatePaused
	}
	t.mu.state, t.mu.trace = state, trace
}

func (t *taskRunner) state() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.state
}

func (t *taskRunner) status(id int, workerID string) TaskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TaskState{ID: id, State: t.mu.state, WorkerID: workerID, Trace: t.mu.trace}
}

// waitWhilePaused blocks while paused; false means ctx ended.
func (t *taskRunner) waitWhilePaused(ctx context.Context) bool {
	for t.paused() {
		select {
		case <-ctx.Done():
			return false
		case <-t.wake:
		}
	}
	return ctx.Err() == nil
}

// converters builds the key and value converters: connector config overrides the worker's.
// recordPipeline builds what every record passes through, for source and sink tasks alike: the
// key and value converters, the transform chain and the error handler.
func (t *taskRunner) recordPipeline() (key, value Converter, xform RecordTransformer, eh *errorHandler, err error) {
	if key, value, err = t.converters(); err != nil {
		return nil, nil, nil, nil, err
	}
	if xform, err = newTransformer(t.config); err != nil {
		return nil, nil, nil, nil, err
	}
	if eh, err = newErrorHandler(t); err != nil {
		return nil, nil, nil, nil, err
	}
	return key, value, xform, eh, nil
}

func (t *taskRunner) converters() (key, value Converter, err error) {
	build := func(prop, workerClass string, workerConf map[string]string, isKey bool) (Converter, error) {
		class, conf := workerClass, workerConf
		if c := strings.TrimSpace(t.config[prop]); c != "" {
			class, conf = c, withPrefix(t.config, prop+".")
		}
		c, err := NewConverter(class, conf, isKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prop, err)
		}
		return c, nil
	}
	if key, err = build(ConfigKeyConverter, t.w.cfg.KeyConverter, t.w.cfg.KeyConverterConfig, true); err != nil {
		return nil, nil, err
	}
	value, err = build(ConfigValueConverter, t.w.cfg.ValueConverter, t.w.cfg.ValueConverterConfig, false)
	return key, value, err
}

func (t *taskRunner) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	return t.w.clientOpts(append([]kgo.Opt{kgo.ClientID(fmt.Sprintf("connector-%s-%d", t.connector, t.id))}, extra...)...)
}

// sleepCtx sleeps for d or until ctx ends or the pause flag changes.
func (t *taskRunner) sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	case <-t.wake:
	}
}
