package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicLog tails one compacted topic from its start, handing every record to apply in offset order
// per partition, and writes records to it (Kafka Connect's KafkaBasedLog). The config, offset and
// status topics are each one topicLog.
//
// apply runs on the log's own goroutine; it must not call back into the log.
type topicLog struct {
	topic  string
	client *kgo.Client
	admin  *kadm.Client
	apply  func(*kgo.Record)
	logger *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		positions map[int32]int64 // next offset to read, per partition
		advanced  chan struct{}   // closed and replaced whenever positions move
	}
}

// openTopicLog starts tailing topic. Close stops it.
// base holds the bootstrap servers and the dialer.
func openTopicLog(base []kgo.Opt, topic string, logger *slog.Logger, apply func(*kgo.Record), extra ...kgo.Opt) (*topicLog, error) {
	opts := append(append(base[:len(base):len(base)],
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), // config changes reach every worker quickly
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
	), extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &topicLog{topic: topic, client: cl, admin: kadm.NewClient(cl), apply: apply, logger: logger.With("topic", topic),
		cancel: cancel, done: make(chan struct{})}
	l.mu.positions = map[int32]int64{}
	l.mu.advanced = make(chan struct{})
	go l.run(ctx)
	return l, nil
}

func (l *topicLog) run(ctx context.Context) {
	defer close(l.done)
	for {
		fetches := l.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.Canceled) {
				l.logger.Warn("reading topic", "partition", fe.Partition, "err", fe.Err)
			}
		}
		moved := map[int32]int64{}
		fetches.EachRecord(func(r *kgo.Record) {
			l.apply(r)
			moved[r.Partition] = r.Offset + 1
		})
		if len(moved) > 0 {
			l.mu.Lock()
			for p, o := range moved {
				l.mu.positions[p] = o
			}
			close(l.mu.advanced)
			l.mu.advanced = make(chan struct{})
			l.mu.Unlock()
		}
	}
}

// readToEnd waits until every record written to the topic before the call has been applied.
func (l *topicLog) readToEnd(ctx context.Context) error {
	ends, err := l.admin.ListEndOffsets(ctx, l.topic)
	if err != nil {
		return fmt.Errorf("topic %s: end offsets: %w", l.topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("topic %s: end offsets: %w", l.topic, err)
	}
	for {
		l.mu.Lock()
		caughtUp := true
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 && l.mu.positions[o.Partition] < o.Offset {
				caughtUp = false
			}
		})
		advanced := l.mu.advanced
		l.mu.Unlock()
		if caughtUp {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s: reading to the end: %w", l.topic, ctx.Err())
		case <-advanced:
		}
	}
}

// position is the config offset a worker reports: the next offset of partition 0.
func (l *topicLog) position() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.positions[0]
}

// send writes records and waits until Kafka acknowledged all of them; a nil value is a tombstone.
func (l *topicLog) send(ctx context.Context, records ...*kgo.Record) error {
	for _, r := range records {
		r.Topic = l.topic
	}
	if err := l.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("writing to topic %s: %w", l.topic, err)
	}
	return nil
}

// close stops tailing and closes the client. Idempotent.
func (l *topicLog) close() {
	l.cancel()
	<-l.done
	l.client.Close()
}

// ensureTopic creates a compacted topic if it does not exist (Kafka Connect's internal topics) and
// checks that an existing one is compacted, and that the config topic has one partition, as Kafka
// does. partitions or replication -1 leave the choice to the broker's defaults. property names
// the worker setting, for error messages.
func ensureTopic(ctx context.Context, admin *kadm.Client, property, topic string, partitions int32, replication int16, logger *slog.Logger) error {
	compact := "compact"
	resp, err := admin.CreateTopic(ctx, partitions, replication, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		logger.Info("created internal topic", "topic", topic, "partitions", partitions, "replication.factor", replication)
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("creating topic %s (%s; partitions %d, replication factor %d): %w", topic, property, partitions, replication, err)
	}
	configs, err := admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("describing topic %s (%s): %w", topic, property, err)
	}
	rc, err := configs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("describing topic %s (%s): %w", topic, property, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil && !strings.Contains(*c.Value, "compact") {
			return fmt.Errorf("%w: topic '%s' supplied via the '%s' property is required to have 'cleanup.policy=compact' to keep connector state, but it has 'cleanup.policy=%s'; use a compacted topic", ErrInvalidConfig, topic, property, *c.Value)
		}
	}
	if partitions == 1 {
		details, err := admin.ListTopics(ctx, topic)
		if err != nil {
			return fmt.Errorf("describing topic %s (%s): %w", topic, property, err)
		}
		if d, ok := details[topic]; ok && d.Err == nil && len(d.Partitions) != 1 {
			return fmt.Errorf("%w: topic '%s' supplied via the '%s' property is required to have a single partition in order to guarantee consistency of connector configurations, but found %d partitions", ErrInvalidConfig, topic, property, len(d.Partitions))
		}
	}
	return nil
}
