package compat_test

import (
	"context"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// goka (github.com/lovoo/goka) is built on github.com/IBM/sarama, the same module as the sarama
// tests, so it runs at the sarama version go.mod selects.

// gokaConfig is goka.DefaultConfig (protocol level Kafka 2.0, snappy, copartitioning assignor) with
// input streams read from the oldest offset, so no event emitted before the processor's first
// join is skipped, acks=all (goka's default waits for the leader only, which a replicated
// deployment that must not lose an emitted event or a table update overrides), and short waits so
// the test is quick.
func gokaConfig() *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Net.DialTimeout = 5 * time.Second
	return cfg
}

// gokaTopicManagerConfig creates tables (cleanup.policy=compact) and streams with the given
// replication (one per broker of the target) and fails on a mismatch with an existing topic:
// partition count, configs, replication, which goka checks through Metadata and DescribeConfigs.
func gokaTopicManagerConfig(replication int) *goka.TopicManagerConfig {
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = replication
	tmc.Stream.Replication = replication
	tmc.MismatchBehavior = goka.TMConfigMismatchBehaviorFail
	return tmc
}

// gokaTopicManager is a goka.TopicManagerBuilder creating topics with the given replication.
// goka's *WithConfig builders set ClientID (and the partitioner) on the config they are given, so
// each call gets a fresh config: processor and view build clients concurrently.
func gokaTopicManager(replication int) goka.TopicManagerBuilder {
	return func(brokers []string) (goka.TopicManager, error) {
		return goka.TopicManagerBuilderWithConfig(gokaConfig(), gokaTopicManagerConfig(replication))(brokers)
	}
}

func gokaConsumerGroup(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
	return goka.ConsumerGroupBuilderWithConfig(gokaConfig())(brokers, group, clientID)
}

func gokaConsumer(brokers []string, clientID string) (sarama.Consumer, error) {
	return goka.SaramaConsumerBuilderWithConfig(gokaConfig())(brokers, clientID)
}

func gokaProducer(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
	return goka.ProducerBuilderWithConfig(gokaConfig())(brokers, clientID, hasher)
}

// gokaLogger sends goka's logs to the test log (shown for failing tests, or with -v).
type gokaLogger struct{ t testing.TB }

func (l gokaLogger) log(s string) {
	defer func() { recover() }() // a log line after the test ended must not panic
	l.t.Log("goka: " + strings.TrimRight(s, "\n"))
}
func (l gokaLogger) Print(v ...any)                 { l.log(fmt.Sprint(v...)) }
func (l gokaLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }
func (l gokaLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }

// gokaProcessed records which input records the processor callback saw, to catch one processed
// twice (an input offset not committed, or committed offsets lost in a restart).
type gokaProcessed struct {
	mu   sync.Mutex
	seen map[[2]int64]int // partition, offset -> run that processed it
	dups []string
}

func (p *gokaProcessed) add(run int, partition int32, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := [2]int64{int64(partition), offset}
	if prev, ok := p.seen[k]; ok {
		p.dups = append(p.dups, fmt.Sprintf("%d@%d in run %d, again in run %d", partition, offset, prev, run))
	}
	p.seen[k] = run
}

func (p *gokaProcessed) count() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen), slices.Clone(p.dups)
}

// TestGokaProcessorKeepsTotalsAcrossRestarts runs goka end to end: an Emitter emits deposits
// (user → amount) to a 3-partition stream; a Processor in group goka-balances sums them per user in
// its group table (goka.Persist: topic goka-balances-table, which goka creates compacted with the
// input's partition count). The processor is stopped, the broker restarted, and a new processor
// (in-memory storage, so it must recover the table from the topic) processes more deposits. (On a
// cluster the restart is the group coordinator's node: another node serves the group's offsets
// from its replica meanwhile, and the table's partitions fail over with it.) Each
// input record must be processed exactly once across both runs, and a goka View of the table must
// show the exact totals after each run.
func TestGokaProcessorKeepsTotalsAcrossRestarts(t *testing.T) {
	tb := startBroker(t)
	const input goka.Stream = "goka-deposits"
	const group goka.Group = "goka-balances"
	const parts = 3
	brokers := []string{tb.Addr()}
	topicManager := gokaTopicManager(tb.brokers)

	tm, err := topicManager(brokers)
	if err != nil {
		t.Fatalf("goka topic manager: %v", err)
	}
	if err := tm.EnsureStreamExists(string(input), parts); err != nil {
		t.Fatalf("EnsureStreamExists: %v", err)
	}
	tm.Close()
	if tb.clustered() {
		tb.waitTopicEverywhere(t, string(input), parts)
	}

	want := map[string]int64{}
	emit := func(from, to int) {
		t.Helper()
		em, err := goka.NewEmitter(brokers, input, new(codec.Int64),
			goka.WithEmitterProducerBuilder(gokaProducer), goka.WithEmitterTopicManagerBuilder(topicManager),
			goka.WithEmitterLogger(gokaLogger{t}))
		if err != nil {
			t.Fatalf("NewEmitter: %v", err)
		}
		var mu sync.Mutex
		var errs []error
		for i := from; i < to; i++ {
			user, amount := fmt.Sprintf("user-%d", i%7), int64(i+1)
			want[user] += amount
			p, err := em.Emit(user, amount)
			if err != nil {
				t.Fatalf("Emit: %v", err)
			}
			p.Then(func(err error) {
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		if err := em.Finish(); err != nil {
			t.Fatalf("emitter Finish: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("emit: %d errors, first %v", len(errs), errs[0])
		}
	}

	processed := &gokaProcessed{seen: map[[2]int64]int{}}
	runProcessor := func(run, total int) {
		t.Helper()
		cb := func(ctx goka.Context, msg any) {
			var sum int64
			if v := ctx.Value(); v != nil {
				sum = v.(int64)
			}
			ctx.SetValue(sum + msg.(int64))
			processed.add(run, ctx.Partition(), ctx.Offset())
		}
		p, err := goka.NewProcessor(brokers,
			goka.DefineGroup(group, goka.Input(input, new(codec.Int64), cb), goka.Persist(new(codec.Int64))),
			goka.WithStorageBuilder(storage.MemoryBuilder()),
			goka.WithTopicManagerBuilder(topicManager),
			goka.WithConsumerGroupBuilder(gokaConsumerGroup),
			goka.WithConsumerSaramaBuilder(gokaConsumer),
			goka.WithProducerBuilder(gokaProducer),
			goka.WithLogger(gokaLogger{t}),
		)
		if err != nil {
			t.Fatalf("NewProcessor (run %d): %v", run, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
			n, dups := processed.count()
			if len(dups) > 0 {
				t.Fatalf("run %d: input records processed twice: %v", run, dups)
			}
			select {
			case err := <-done:
				t.Fatalf("run %d: processor stopped after %d of %d records: %v", run, n, total, err)
			default:
			}
			if n != total {
				return fmt.Errorf("run %d: processed %d of %d records", run, n, total)
			}
			return nil
		})
		// Goka commits an input offset once the table write for it is acknowledged; stopping
		// leaves the group and commits what is marked.
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: processor Run: %v", run, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: processor did not stop", run)
		}
		if _, dups := processed.count(); len(dups) > 0 {
			t.Fatalf("run %d: input records processed twice: %v", run, dups)
		}

		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		committed, err := adminClient(t, tb.Addr()).FetchOffsets(ctx2, string(group))
		if err != nil {
			t.Fatalf("FetchOffsets %s: %v", group, err)
		}
		var sum int64
		for p := int32(0); p < parts; p++ {
			if o, ok := committed.Lookup(string(input), p); ok && o.Err == nil {
				sum += o.At
			}
		}
		if sum != int64(total) {
			t.Errorf("run %d: committed offsets of %s sum to %d, want %d: %v", run, input, sum, total, committed)
		}
	}

	checkView := func(who string) {
		t.Helper()
		view, err := goka.NewView(brokers, goka.GroupTable(group), new(codec.Int64),
			goka.WithViewStorageBuilder(storage.MemoryBuilder()),
			goka.WithViewTopicManagerBuilder(topicManager),
			goka.WithViewConsumerSaramaBuilder(gokaConsumer),
			goka.WithViewLogger(gokaLogger{t}),
		)
		if err != nil {
			t.Fatalf("%s: NewView: %v", who, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- view.Run(ctx) }()
		stopped := false // Run returned (and done was read) before the end
		defer func() {
			cancel()
			if stopped {
				return
			}
			if err := <-done; err != nil {
				t.Errorf("%s: view Run: %v", who, err)
			}
		}()
		got := map[string]int64{}
		testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
			select {
			case err := <-done:
				stopped = true
				t.Fatalf("%s: view stopped: %v", who, err)
			default:
			}
			if !view.Recovered() {
				return fmt.Errorf("%s: view not recovered", who)
			}
			clear(got)
			for user := range want {
				v, err := view.Get(user)
				if err != nil {
					t.Fatalf("%s: view Get(%s): %v", who, user, err)
				}
				if v != nil {
					got[user] = v.(int64)
				}
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("%s: view shows totals %v, want %v", who, got, want)
			}
			return nil
		})
	}

	const first, second = 60, 45
	emit(0, first)
	runProcessor(1, first)
	checkView("view after the first run")

	table := goka.GroupTable(group)
	configs, err := adminClient(t, tb.Addr()).DescribeTopicConfigs(context.Background(), string(table))
	if err != nil || configs[0].Err != nil {
		t.Fatalf("DescribeTopicConfigs %s: %v %v", table, err, configs)
	}
	for _, c := range configs[0].Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Errorf("%s: cleanup.policy %v, want compact (goka creates tables compacted)", table, c.MaybeValue())
		}
	}

	tb.restartGroupCoordinator(t, string(group))
	emit(first, first+second)
	runProcessor(2, first+second)
	checkView("view after the broker restart and the second run")
}
