package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// Count-by-key benchmark: Gregor streams against goka (github.com/lovoo/goka) on the same job,
// the same in-process broker and the same input. Run with
//
//	go test -run=NONE -bench='CountByKeyGregorVsGoka|Restore' -benchtime=1x ./streams/
//
// GREGOR_BENCH_RECORDS sets the number of input (and changelog) records, default 1,000,000;
// GREGOR_BENCH_ONLY=gregor or =goka runs one side of the comparison only.

const (
	benchKeys       = 10_000
	benchPartitions = 6
	// benchCommitInterval is the commit interval of both apps: goka's default (sarama's
	// Consumer.Offsets.AutoCommit.Interval, 1s), set on Gregor too so that neither waits longer
	// than the other for its last commit.
	benchCommitInterval = time.Second
)

func benchRecords(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("GREGOR_BENCH_RECORDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("GREGOR_BENCH_RECORDS=%q: want a positive integer", s)
		}
		n = v
	}
	return n
}

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%05d", i%benchKeys) }

func benchClient(b *testing.B, addr string, opts ...kgo.Opt) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// benchProduce writes records made by rec(i), i in [0, n), asynchronously, and waits for all acks.
func benchProduce(b *testing.B, cl *kgo.Client, n int, rec func(i int) *kgo.Record) {
	b.Helper()
	var (
		mu    sync.Mutex
		first error
	)
	for i := range n {
		cl.Produce(context.Background(), rec(i), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if first != nil {
		b.Fatalf("produce: %v", first)
	}
}

// waitCommitted polls the committed offsets of group until they reach ends on every partition,
// or failed returns an error.
func waitCommitted(b *testing.B, adm *kadm.Client, group string, ends kadm.ListedOffsets, failed func() error) {
	b.Helper()
	testutil.CheckFor(b, 30*time.Minute, 20*time.Millisecond, func() error {
		if err := failed(); err != nil {
			b.Fatalf("group %s: %v", group, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		committed, err := adm.FetchOffsets(ctx, group)
		cancel()
		if err != nil {
			return fmt.Errorf("group %s: fetch offsets: %w", group, err)
		}
		var behind error
		ends.Each(func(e kadm.ListedOffset) {
			if c, ok := committed.Lookup(e.Topic, e.Partition); behind == nil && (!ok || c.At < e.Offset) {
				behind = fmt.Errorf("group %s: committed offsets did not reach the end of %s/%d (%d of %d)", group, e.Topic, e.Partition, c.At, e.Offset)
			}
		})
		return behind
	})
}

// BenchmarkCountByKeyGregorVsGoka counts GREGOR_BENCH_RECORDS records (default 1,000,000) over
// 10,000 keys in a 6-partition topic, per key, with state on disk (LevelDB) backed by a
// compacted changelog/table topic: (a) a Gregor streams app (Stream → GroupByKey → Count, the
// default LevelDB store with changelog), (b) a goka processor (goka.Persist, goka's LevelDB
// storage). Each run uses a fresh consumer group and state dir and is timed from Start/Run until
// the group's committed offsets reach the input's end offsets: startup, the first rebalance and
// the last commit are included in both. The input is produced before the timer.
func BenchmarkCountByKeyGregorVsGoka(b *testing.B) {
	n := benchRecords(b)
	tb := testbroker.Start(b)
	addr := tb.Addr()
	const input = "bench-count-input"

	setup := benchClient(b, addr, kgo.ProducerLinger(5*time.Millisecond))
	adm := kadm.NewClient(setup)
	resp, err := adm.CreateTopics(context.Background(), benchPartitions, 1, nil, input)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		b.Fatal(err)
	}
	value := []byte("v")
	benchProduce(b, setup, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: input, Key: benchKey(i), Value: value}
	})
	ends, err := adm.ListEndOffsets(context.Background(), input)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	ends.Each(func(e kadm.ListedOffset) { total += e.Offset })
	if total != int64(n) {
		b.Fatalf("input has %d records, want %d", total, n)
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	// GREGOR_BENCH_ONLY=gregor or =goka runs one side only (for a CPU profile of it).
	only := os.Getenv("GREGOR_BENCH_ONLY")

	var gregorTook, gokaTook time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// (a) Gregor streams.
		if only != "goka" {
			sb := streams.NewBuilder()
			streams.Stream(sb, input, statestore.String{}, statestore.Bytes{}).
				GroupByKey().Count(streams.Materialized("counts"))
			topo, err := sb.Build()
			if err != nil {
				b.Fatal(err)
			}
			group := fmt.Sprintf("bench-gregor-%d", i)
			app, err := streams.New(topo, streams.Config{
				ApplicationID:    group,
				BootstrapServers: []string{addr},
				StateDir:         b.TempDir(),
				CommitInterval:   benchCommitInterval,
				Logger:           discard,
			})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			// NB: the App stops when Start's context ends, so it gets one that does not.
			if err := app.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			waitCommitted(b, adm, group, ends, app.Err)
			gregorTook += time.Since(start)
			if got := app.Stats().RecordsProcessed; got < int64(n) {
				b.Fatalf("gregor processed %d records, want >= %d", got, n)
			}
			if err := app.Close(); err != nil {
				b.Fatal(err)
			}
		}
		// (b) goka.
		if only != "gregor" {
			group := goka.Group(fmt.Sprintf("bench-goka-%d", i))
			cb := func(ctx goka.Context, _ any) {
				var c int64
				if v := ctx.Value(); v != nil {
					c = v.(int64)
				}
				ctx.SetValue(c + 1)
			}
			p, err := goka.NewProcessor([]string{addr},
				goka.DefineGroup(group, goka.Input(goka.Stream(input), new(codec.Bytes), cb),
					goka.Persist(new(codec.Int64))),
				goka.WithStorageBuilder(storage.DefaultBuilder(b.TempDir())),
				goka.WithTopicManagerBuilder(benchGokaTopicManager),
				goka.WithConsumerGroupBuilder(benchGokaConsumerGroup),
				goka.WithConsumerSaramaBuilder(benchGokaConsumer),
				goka.WithProducerBuilder(benchGokaProducer),
				goka.WithLogger(benchGokaLogger{}),
			)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- p.Run(ctx) }()
			var runErr error
			waitCommitted(b, adm, string(group), ends, func() error {
				select {
				case err := <-done:
					runErr = fmt.Errorf("goka processor stopped: %v", err)
					done <- err
					return runErr
				default:
					return nil
				}
			})
			gokaTook += time.Since(start)
			cancel()
			if err := <-done; err != nil {
				b.Fatalf("goka Run: %v", err)
			}
		}
	}
	b.StopTimer()
	runs := float64(b.N) * float64(n)
	gregorRate := runs / gregorTook.Seconds()
	gokaRate := runs / gokaTook.Seconds()
	if only != "goka" {
		b.ReportMetric(gregorRate, "gregor-records/s")
	}
	if only != "gregor" {
		b.ReportMetric(gokaRate, "goka-records/s")
	}
	if only == "" {
		b.ReportMetric(gregorRate/gokaRate, "gregor/goka")
	}
	b.ReportMetric(0, "ns/op")
}

// goka is configured as in broker/compat/goka_test.go (goka.DefaultConfig, input from the oldest
// offset), with goka's default commit interval and producer flush frequency.
func benchGokaConfig() *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = benchCommitInterval
	cfg.Net.DialTimeout = 5 * time.Second
	return cfg
}

func benchGokaTopicManager(brokers []string) (goka.TopicManager, error) {
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	return goka.TopicManagerBuilderWithConfig(benchGokaConfig(), tmc)(brokers)
}

func benchGokaConsumerGroup(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
	return goka.ConsumerGroupBuilderWithConfig(benchGokaConfig())(brokers, group, clientID)
}

func benchGokaConsumer(brokers []string, clientID string) (sarama.Consumer, error) {
	return goka.SaramaConsumerBuilderWithConfig(benchGokaConfig())(brokers, clientID)
}

func benchGokaProducer(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
	return goka.ProducerBuilderWithConfig(benchGokaConfig())(brokers, clientID, hasher)
}

type benchGokaLogger struct{}

func (benchGokaLogger) Print(...any)          {}
func (benchGokaLogger) Println(...any)        {}
func (benchGokaLogger) Printf(string, ...any) {}

// BenchmarkRestore measures how fast a Gregor store (statestore, LevelDB) is rebuilt from its
// changelog: GREGOR_BENCH_RECORDS records (default 1,000,000) of 8-byte counts over 10,000 keys
// in one changelog partition, restored by statestore.Open into an empty state dir, as a task
// does when its state is lost.
func BenchmarkRestore(b *testing.B) {
	n := benchRecords(b)
	tb := testbroker.Start(b)
	addr := tb.Addr()
	const app, store = "bench-restore", "counts"
	cl := benchClient(b, addr, append(statestore.ProducerOptions(), kgo.ProducerLinger(5*time.Millisecond))...)
	topic := statestore.ChangelogTopic(app, store)
	if err := statestore.EnsureTopics(context.Background(), cl, statestore.ChangelogTopicSpec(topic, 1)); err != nil {
		b.Fatal(err)
	}
	benchProduce(b, cl, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: 0, Key: benchKey(i),
			Value: binary.BigEndian.AppendUint64(nil, uint64(i/benchKeys+1))}
	})
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))

	var restored int64
	var took time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s, err := statestore.Open(context.Background(), statestore.Options{
			StateDir: b.TempDir(), Name: store, Partition: 0,
			Changelog: cl, ApplicationID: app, Logger: discard,
		})
		if err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		restored += s.Stats().RecordsRestored
		s.Close()
	}
	b.StopTimer()
	if restored != int64(b.N)*int64(n) {
		b.Fatalf("restored %d records, want %d", restored, int64(b.N)*int64(n))
	}
	b.ReportMetric(float64(restored)/took.Seconds(), "records/s")
}
