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

// sinkTaskContext is a sink task's view of its runner: the partitions assigned to it, which the
// consumer's rebalance callbacks update while the task may read them.
type sinkTaskContext struct {
	logger *slog.Logger
	mu     struct {
		sync.Mutex
		assignment map[TopicPartition]bool
	}
}

func (c *sinkTaskContext) Logger() *slog.Logger { return c.logger }

func (c *sinkTaskContext) Assignment() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.mu.assignment))
	for tp := range c.mu.assignment {
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
				c.mu.assignment[TopicPartition{topic, p}] = true
			} else {
				delete(c.mu.assignment, TopicPartition{topic, p})
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
	tctx := &sinkTaskContext{logger: t.logger}
	tctx.mu.assignment = map[TopicPartition]bool{}
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
		t.m.committed(commitErr)
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
		t.m.sinkRead(fetches.NumRecords())
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
				t.logger.Warn("fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
			}
		}
		callMu.Lock()
		err := t.putHoldingCallMu(ctx, task, fetches, keyConv, valueConv, xform, eh, current)
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

func (t *taskRunner) putHoldingCallMu(ctx context.Context, task SinkTask, fetches kgo.Fetches, keyConv, valueConv Converter, xform RecordTransformer, eh *errorHandler, current map[TopicPartition]int64) error {
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
		putStart := time.Now()
		if err := eh.retryPut(ctx, func() error { return t.act(func() error { return task.Put(records) }) }); err != nil {
			if errors.Is(err, errHalted) {
				return err
			}
			return fmt.Errorf("put: %w", err)
		}
		t.m.putBatchDone(len(records), time.Since(putStart))
	}
	for tp, o := range next {
		current[tp] = o
	}
	return nil
}
