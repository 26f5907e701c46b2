package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
	client, err := kgo.NewClient(t.clientOpts(kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(2*time.Millisecond), kgo.RecordPartitioner(newSourcePartitioner()))...)
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
			t.m.committed(err)
			t.logger.Warn("offset flush timed out; will retry", "err", err)
			return nil // keep pending; retry at the next interval
		}
		produceErr.Lock()
		perr := produceErr.err
		produceErr.Unlock()
		if perr != nil {
			t.m.committed(perr)
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
			t.m.committed(err)
			return err
		}
		t.m.committed(nil)
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
		pollStart := time.Now()
		records, err := task.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			_ = commit() // store what Kafka has before failing
			return fmt.Errorf("poll: %w", err)
		}
		t.m.polledBatch(len(records), time.Since(pollStart))
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
					t.m.sourceWritten()
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
		kr.Partition, kr.Context = *r.Partition, explicitPartitionCtx
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr, nil
}

// Source poll backoff after an empty poll: doubles from min to max, reset by a non-empty poll.
const (
	pollBackoffMin = 5 * time.Millisecond
	pollBackoffMax = 250 * time.Millisecond
)

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
