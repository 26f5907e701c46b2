package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
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
		done:   make(chan struct{}), wake: make(chan struct{}, 1)}
	t.mu.state = StateUnassigned
	return t
}

func (t *taskRunner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go func() {
		defer close(t.done)
		var err error
		if t.plugin.Type == PluginSource {
			err = t.runSource(ctx)
		} else {
			err = t.runSink(ctx)
		}
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

// stop cancels the task and waits for it to commit and exit. Idempotent.
func (t *taskRunner) stop() {
	t.cancel()
	<-t.done
}

// stopWithin is stop for a halted worker: it gives up waiting after timeout (a task stuck in a
// call that ignores its context) and reports whether the task goroutine ended.
func (t *taskRunner) stopWithin(timeout time.Duration) bool {
	t.cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.done:
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

// Source poll backoff after an empty poll: doubles from min to max, reset by a non-empty poll.
const (
	pollBackoffMin = 5 * time.Millisecond
	pollBackoffMax = 250 * time.Millisecond
)

type sourceTaskContext struct {
	store     OffsetStore
	connector string
	logger    *slog.Logger
}

func (c sourceTaskContext) Logger() *slog.Logger { return c.logger }

func (c sourceTaskContext) OffsetReader() OffsetReader { return c }

func (c sourceTaskContext) Offset(partition map[string]any) (map[string]any, error) {
	return c.store.Get(c.connector, partition)
}

// runSource runs a source task. Offsets of produced records are written to the offset store every
// offset.flush.interval.ms and on stop, but only after client.Flush has seen every earlier record
// acknowledged and none failed: at-least-once, never an offset ahead of Kafka.
func (t *taskRunner) runSource(ctx context.Context) error {
	conn, ok := t.plugin.New().(SourceConnector)
	if !ok {
		return fmt.Errorf("plugin %s is not a source connector", t.plugin.Class)
	}
	keyConv, valueConv, xform, eh, err := t.recordPipeline()
	if err != nil {
		return err
	}
	task := conn.NewTask()
	if err := t.act(func() error {
		return task.Start(sourceTaskContext{store: t.w.offsets, connector: t.connector, logger: t.logger}, t.config)
	}); err != nil {
		if errors.Is(err, errHalted) {
			return err
		}
		return fmt.Errorf("task start: %w", err)
	}
	defer t.stopTask(task.Stop)
	client, err := kgo.NewClient(t.clientOpts(kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(2*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer t.closeClient(client)
	committer, _ := task.(SourceTaskCommitter)
	// NB: records are produced under their own context so a stop does not fail records already in
	// flight (their offsets would then be replayed); it is cancelled only if the final flush overruns
	// offset.flush.timeout.ms, which also unblocks a Produce stuck on a full buffer.
	produceCtx, cancelProduce := context.WithCancel(context.Background())
	defer cancelProduce()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(t.w.cfg.OffsetFlushTimeout, cancelProduce) })
	defer stopAfter()
	t.setState(StateRunning, "")

	var produceErr struct {
		sync.Mutex
		err error
	}
	pending := map[string]PartitionOffset{} // offsets of produced, not yet stored records
	produced := 0                           // records produced since the last commit
	commitNow := func() error {
		if produced == 0 {
			return nil
		}
		fctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout)
		defer cancel()
		if err := client.Flush(fctx); err != nil {
			t.logger.Warn("offset flush timed out; will retry", "err", err)
			return nil // keep pending; retry at the next interval
		}
		produceErr.Lock()
		perr := produceErr.err
		produceErr.Unlock()
		if perr != nil {
			return fmt.Errorf("produce: %w", perr)
		}
		produced = 0
		if len(pending) == 0 {
			return nil
		}
		batch := make([]PartitionOffset, 0, len(pending))
		for _, po := range pending {
			batch = append(batch, po)
		}
		if err := t.w.offsets.Put(t.connector, batch); err != nil {
			return err
		}
		clear(pending)
		if committer != nil {
			return committer.Commit()
		}
		return nil
	}
	commit := func() error { return t.act(commitNow) }

	seenTopics := map[string]bool{}
	var lastKey string
	var lastPartition map[string]any
	lastCommit := time.Now()
	backoff := pollBackoffMin
	for {
		if ctx.Err() != nil {
			break
		}
		if t.paused() {
			if err := commit(); err != nil {
				return err
			}
			if !t.waitWhilePaused(ctx) {
				break
			}
		}
		records, err := task.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			_ = commit() // store what Kafka has before failing
			return fmt.Errorf("poll: %w", err)
		}
		for _, r := range records {
			if xform != nil {
				// Transforms apply after Poll, before conversion; a dropped record's offset still
				// advances (stored once every earlier record is acknowledged).
				tr, err := xform.TransformSource(r)
				if err != nil {
					if err := eh.sourceFailure(StageTransformation, t.transformClass(), r, err); err != nil {
						return fmt.Errorf("transform: %w", err)
					}
					tr = nil // tolerated: skipped like a dropped record
				}
				if tr == nil {
					if r.SourcePartition != nil {
						produced++
						pending[partitionKey(r.SourcePartition)] = PartitionOffset{Partition: r.SourcePartition, Offset: r.SourceOffset}
						lastKey, lastPartition = "", nil
					}
					continue
				}
				r = *tr
			}
			kr, err := t.toKafka(r, keyConv, valueConv)
			if err != nil {
				var ce *conversionError
				if !errors.As(err, &ce) {
					return err
				}
				if err := eh.sourceFailure(ce.stage, t.converterClass(ce.stage == StageKeyConverter), r, ce.err); err != nil {
					return err
				}
				if r.SourcePartition != nil { // tolerated: skipped, its offset still advances
					produced++
					pending[partitionKey(r.SourcePartition)] = PartitionOffset{Partition: r.SourcePartition, Offset: r.SourceOffset}
					lastKey, lastPartition = "", nil
				}
				continue
			}
			if !seenTopics[r.Topic] {
				seenTopics[r.Topic] = true
				t.topics.add(r.Topic)
			}
			rec := r
			produced++
			if err := t.act(func() error {
				client.Produce(produceCtx, kr, func(kr *kgo.Record, err error) {
					if err != nil {
						produceErr.Lock()
						if produceErr.err == nil {
							produceErr.err = err
						}
						produceErr.Unlock()
						return
					}
					if committer != nil {
						t.tryAct(func() {
							if err := committer.CommitRecord(rec, RecordMetadata{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset}); err != nil {
								t.logger.Warn("commit record", "err", err)
							}
						})
					}
				})
				return nil
			}); err != nil {
				return err
			}
			if r.SourcePartition != nil {
				// NB: consecutive records usually share a partition; skip re-keying them.
				if lastKey == "" || !samePartition(lastPartition, r.SourcePartition) {
					lastKey, lastPartition = partitionKey(r.SourcePartition), r.SourcePartition
				}
				pending[lastKey] = PartitionOffset{Partition: r.SourcePartition, Offset: r.SourceOffset}
			}
		}
		if time.Since(lastCommit) >= t.w.cfg.OffsetFlushInterval {
			if err := commit(); err != nil {
				return err
			}
			lastCommit = time.Now()
		}
		if len(records) == 0 {
			t.sleepCtx(ctx, backoff)
			backoff = min(backoff*2, pollBackoffMax)
		} else {
			backoff = pollBackoffMin
		}
	}
	return commit()
}

func (t *taskRunner) toKafka(r SourceRecord, keyConv, valueConv Converter) (*kgo.Record, error) {
	if r.Topic == "" {
		return nil, errors.New("source record has no topic")
	}
	key, err := keyConv.FromConnect(r.Topic, r.KeySchema, r.Key)
	if err != nil {
		return nil, &conversionError{StageKeyConverter, err}
	}
	value, err := valueConv.FromConnect(r.Topic, r.ValueSchema, r.Value)
	if err != nil {
		return nil, &conversionError{StageValueConverter, err}
	}
	kr := &kgo.Record{Topic: r.Topic, Key: key, Value: value, Timestamp: r.Timestamp}
	if r.Partition != nil {
		kr.Partition = *r.Partition
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr, nil
}

type sinkTaskContext struct {
	mu         sync.Mutex
	assignment map[TopicPartition]bool
	logger     *slog.Logger
}

func (c *sinkTaskContext) Logger() *slog.Logger { return c.logger }

func (c *sinkTaskContext) Assignment() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.assignment))
	for tp := range c.assignment {
		out = append(out, tp)
	}
	return out
}

func (c *sinkTaskContext) update(m map[string][]int32, add bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			if add {
				c.assignment[TopicPartition{topic, p}] = true
			} else {
				delete(c.assignment, TopicPartition{topic, p})
			}
		}
	}
}

// runSink runs a sink task in consumer group connect-<connector>. Offsets are committed to Kafka
// only after Flush (or PreCommit) succeeds: every interval, before partitions are revoked, and on
// stop. With BlockRebalanceOnPoll no rebalance runs between a poll and the commit that follows it.
func (t *taskRunner) runSink(ctx context.Context) error {
	conn, ok := t.plugin.New().(SinkConnector)
	if !ok {
		return fmt.Errorf("plugin %s is not a sink connector", t.plugin.Class)
	}
	keyConv, valueConv, xform, eh, err := t.recordPipeline()
	if err != nil {
		return err
	}
	if err := eh.startDLQ(ctx, t.clientOpts()); err != nil {
		return err
	}
	defer eh.close()
	task := conn.NewTask()
	tctx := &sinkTaskContext{assignment: map[TopicPartition]bool{}, logger: t.logger}
	if err := t.act(func() error { return task.Start(tctx, t.config) }); err != nil {
		if errors.Is(err, errHalted) {
			return err
		}
		return fmt.Errorf("task start: %w", err)
	}
	defer t.stopTask(task.Stop)

	// callMu serializes calls into the task and the offsets map between this goroutine and the
	// group's rebalance callbacks. It is never held across PollRecords or AllowRebalance.
	var callMu sync.Mutex
	current := map[TopicPartition]int64{} // next offset to consume, per partition put so far
	var client *kgo.Client
	commitNowLocked := func(cctx context.Context) error {
		if len(current) == 0 {
			return nil
		}
		offsets := make(map[TopicPartition]int64, len(current))
		for tp, o := range current {
			offsets[tp] = o
		}
		if pc, ok := task.(SinkTaskPreCommitter); ok {
			var err error
			if offsets, err = pc.PreCommit(offsets); err != nil {
				return fmt.Errorf("pre-commit: %w", err)
			}
		} else if err := task.Flush(offsets); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		toCommit := map[string]map[int32]kgo.EpochOffset{}
		for tp, o := range offsets {
			if toCommit[tp.Topic] == nil {
				toCommit[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			toCommit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		var commitErr error
		client.CommitOffsetsSync(cctx, toCommit, func(_ *kgo.Client, _ *kmsgOffsetCommitRequest, resp *kmsgOffsetCommitResponse, err error) {
			commitErr = firstCommitError(resp, err)
		})
		if commitErr != nil {
			// NB: a failed commit is not fatal: the next commit carries the same (or later) offsets.
			t.logger.Warn("offset commit failed", "err", commitErr)
		}
		return nil
	}
	commitLocked := func(cctx context.Context) error {
		return t.act(func() error { return commitNowLocked(cctx) })
	}

	topics := splitList(t.config[ConfigTopics])
	opts := t.clientOpts(
		kgo.ConsumerGroup("connect-"+t.connector),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			tctx.update(m, true)
			for topic := range m {
				t.topics.add(topic)
			}
		}),
		kgo.OnPartitionsRevoked(func(cctx context.Context, _ *kgo.Client, m map[string][]int32) {
			callMu.Lock()
			defer callMu.Unlock()
			if err := commitLocked(cctx); err != nil && !errors.Is(err, errHalted) {
				t.logger.Warn("commit on revoke failed", "err", err)
			}
			for topic, ps := range m {
				for _, p := range ps {
					delete(current, TopicPartition{topic, p})
				}
			}
			tctx.update(m, false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			callMu.Lock()
			defer callMu.Unlock()
			for topic, ps := range m {
				for _, p := range ps {
					delete(current, TopicPartition{topic, p})
				}
			}
			tctx.update(m, false)
		}),
	)
	if d := t.w.cfg.ConsumerSessionTimeout; d > 0 {
		opts = append(opts, kgo.SessionTimeout(d))
		// NB: the consumer heartbeats every 3s (Kafka's heartbeat.interval.ms); a session shorter
		// than three heartbeats would expire between them, so heartbeats then come thrice a session.
		if hb := d / 3; hb < 3*time.Second {
			opts = append(opts, kgo.HeartbeatInterval(hb))
		}
	}
	if d := t.w.cfg.ConsumerMetadataMaxAge; d > 0 {
		// NB: the client refuses a max age below its min age (default 5s, floor 10ms).
		d = max(d, 10*time.Millisecond)
		opts = append(opts, kgo.MetadataMaxAge(d), kgo.MetadataMinAge(min(d, 5*time.Second)))
	}
	if re := strings.TrimSpace(t.config[ConfigTopicsRegex]); re != "" {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("topics.regex: %w", err)
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	client, err = kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer t.closeClient(client)
	t.setState(StateRunning, "")

	lastCommit := time.Now()
	for ctx.Err() == nil {
		if t.paused() {
			callMu.Lock()
			err := commitLocked(ctx)
			callMu.Unlock()
			if err != nil {
				return err
			}
			if !t.waitWhilePaused(ctx) {
				break
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fetches := client.PollRecords(pctx, 1000)
		cancel()
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				t.logger.Warn("fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
			}
		}
		callMu.Lock()
		err := t.putLocked(ctx, task, fetches, keyConv, valueConv, xform, eh, current)
		if err == nil && time.Since(lastCommit) >= t.w.cfg.OffsetFlushInterval {
			err = commitLocked(ctx)
			lastCommit = time.Now()
		}
		callMu.Unlock()
		client.AllowRebalance()
		if err != nil {
			return err
		}
	}
	callMu.Lock()
	defer callMu.Unlock()
	cctx, cancel := context.WithTimeout(context.Background(), t.w.cfg.OffsetFlushTimeout)
	defer cancel()
	return commitLocked(cctx)
}

func (t *taskRunner) putLocked(ctx context.Context, task SinkTask, fetches kgo.Fetches, keyConv, valueConv Converter, xform RecordTransformer, eh *errorHandler, current map[TopicPartition]int64) error {
	if fetches.NumRecords() == 0 {
		return nil
	}
	records := make([]SinkRecord, 0, fetches.NumRecords())
	// NB: offsets come from the consumed records, not the transformed ones: a transform may rename
	// the topic or drop the record, and the consumed partition must still advance.
	next := map[TopicPartition]int64{}
	var convErr error
	fetches.EachRecord(func(r *kgo.Record) {
		if convErr != nil {
			return
		}
		next[TopicPartition{r.Topic, r.Partition}] = r.Offset + 1
		// A tolerated failure skips the record (its offset still advances); see errors.go.
		ks, k, err := keyConv.ToConnect(r.Topic, r.Key)
		if err != nil {
			convErr = eh.sinkFailure(failure{stage: StageKeyConverter, class: t.converterClass(true), rec: r, err: err})
			return
		}
		vs, v, err := valueConv.ToConnect(r.Topic, r.Value)
		if err != nil {
			convErr = eh.sinkFailure(failure{stage: StageValueConverter, class: t.converterClass(false), rec: r, err: err})
			return
		}
		sr := SinkRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, KeySchema: ks, Key: k, ValueSchema: vs, Value: v, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			sr.Headers = append(sr.Headers, Header{Key: h.Key, Value: h.Value})
		}
		if xform != nil {
			// Transforms apply after conversion, before Put.
			tr, err := xform.TransformSink(sr)
			if err != nil {
				convErr = eh.sinkFailure(failure{stage: StageTransformation, class: t.transformClass(), rec: r, err: err})
				return
			}
			if tr == nil {
				return
			}
			sr = *tr
		}
		records = append(records, sr)
	})
	if convErr != nil {
		return convErr
	}
	if err := t.act(func() error { return eh.flushDLQ(ctx) }); err != nil {
		return err
	}
	if len(records) > 0 {
		if err := eh.retryPut(ctx, func() error { return t.act(func() error { return task.Put(records) }) }); err != nil {
			if errors.Is(err, errHalted) {
				return err
			}
			return fmt.Errorf("put: %w", err)
		}
	}
	for tp, o := range next {
		current[tp] = o
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// samePartition reports whether two source partitions are equal, comparing only flat maps of
// primitive values; anything else counts as different (the caller then keys it exactly).
func samePartition(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		switch av.(type) {
		case string, bool, int64, int32, int, float64, nil:
			if av != bv {
				return false
			}
		default:
			return false
		}
	}
	return true
}
