package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaStore is the registry's only I/O with Kafka for data: it reads the `_schemas` topic from the
// beginning into state, and produces new records to it.
type kafkaStore struct {
	client *kgo.Client
	admin  *kadm.Client
	topic  string
	state  *state
	logger *slog.Logger

	mu struct {
		sync.Mutex
		applied chan struct{} // closed and replaced whenever records were applied
	}
	done chan struct{}
	wg   sync.WaitGroup
}

func newKafkaStore(ctx context.Context, cfg *Config, st *state) (*kafkaStore, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.BootstrapServers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	}, cfg.ClientOptions...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry kafka client: %w", err)
	}
	ks := &kafkaStore{client: client, admin: kadm.NewClient(client), topic: cfg.Topic, state: st,
		logger: cfg.Logger, done: make(chan struct{})}
	ks.mu.applied = make(chan struct{})
	if err := ks.createTopic(ctx); err != nil {
		client.Close()
		return nil, err
	}
	ks.wg.Add(1)
	go ks.readLoop()
	return ks, nil
}

// createTopic creates `_schemas` as Confluent does: one partition, compacted, replicated up to 3.
func (ks *kafkaStore) createTopic(ctx context.Context) error {
	meta, err := ks.admin.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("schema registry: cluster metadata: %w", err)
	}
	rf := int16(min(3, len(meta.Brokers)))
	configs := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	resp, err := ks.admin.CreateTopic(ctx, 1, rf, configs, ks.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("schema registry: create topic %s: %w", ks.topic, err)
	}
	if err != nil {
		ks.checkExistingTopic(ctx)
	}
	return nil
}

// checkExistingTopic warns, as Confluent's registry refuses to start, when an existing schemas
// topic is not compacted (schemas would expire) or has more than one partition (order is lost).
func (ks *kafkaStore) checkExistingTopic(ctx context.Context) {
	details, err := ks.admin.ListTopics(ctx, ks.topic)
	if err == nil {
		if d, ok := details[ks.topic]; ok && d.Err == nil && len(d.Partitions) != 1 {
			ks.logger.Warn("the schemas topic should have exactly one partition; only partition 0 is read",
				"topic", ks.topic, "partitions", len(d.Partitions))
		}
	}
	configs, err := ks.admin.DescribeTopicConfigs(ctx, ks.topic)
	if err != nil {
		return
	}
	rc, err := configs.On(ks.topic, nil)
	if err != nil {
		return
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			ks.logger.Warn("the schemas topic is not compacted: schemas may be deleted by retention",
				"topic", ks.topic, "cleanup.policy", c.MaybeValue())
		}
	}
}

func (ks *kafkaStore) readLoop() {
	defer ks.wg.Done()
	for {
		fetches := ks.client.PollFetches(context.Background())
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			ks.logger.Warn("reading the schemas topic", "topic", topic, "partition", p, "err", err)
		})
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			if err := ks.state.apply(r.Offset, r.Key, r.Value); err != nil {
				ks.logger.Warn("skipping a schemas topic record", "err", err)
			}
		})
		if n > 0 {
			ks.mu.Lock()
			close(ks.mu.applied)
			ks.mu.applied = make(chan struct{})
			ks.mu.Unlock()
		}
	}
}

// waitApplied returns once the record at offset has been applied to state.
func (ks *kafkaStore) waitApplied(ctx context.Context, offset int64) error {
	for {
		ks.mu.Lock()
		ch := ks.mu.applied
		ks.mu.Unlock()
		if ks.state.appliedOffset() >= offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the schemas topic to reach offset %d (at %d): %w", offset,
				ks.state.appliedOffset(), ctx.Err())
		}
	}
}

// catchUp returns once every record in the topic at the time of the call has been applied.
func (ks *kafkaStore) catchUp(ctx context.Context) error {
	ends, err := ks.admin.ListEndOffsets(ctx, ks.topic)
	if err != nil {
		return fmt.Errorf("end offset of %s: %w", ks.topic, err)
	}
	end, ok := ends.Lookup(ks.topic, 0)
	if !ok {
		return fmt.Errorf("end offset of %s: partition 0 missing", ks.topic)
	}
	if end.Err != nil {
		return fmt.Errorf("end offset of %s: %w", ks.topic, end.Err)
	}
	if end.Offset == 0 {
		return nil
	}
	return ks.waitApplied(ctx, end.Offset-1)
}

// record is one key/value to produce; a nil value is a tombstone.
type record struct {
	key, value []byte
}

// write produces records in order and returns once they are applied to state.
func (ks *kafkaStore) write(ctx context.Context, records ...record) error {
	krs := make([]*kgo.Record, len(records))
	for i, r := range records {
		krs[i] = &kgo.Record{Topic: ks.topic, Partition: 0, Key: r.key, Value: r.value}
	}
	results := ks.client.ProduceSync(ctx, krs...)
	if err := results.FirstErr(); err != nil {
		return fmt.Errorf("writing to %s: %w", ks.topic, err)
	}
	last := int64(-1)
	for _, r := range results {
		last = max(last, r.Record.Offset)
	}
	return ks.waitApplied(ctx, last)
}

func (ks *kafkaStore) close() {
	ks.client.Close()
	ks.wg.Wait()
}
