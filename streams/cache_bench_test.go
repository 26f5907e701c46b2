package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkWordCountOutputPerInput runs word count (lines → words → count per word, through a
// repartition topic, counts to an output topic) over 20,000 lines with and without the record
// cache, and reports how many output records each input line caused, and lines per second
// (from start to the group's last commit). The input is produced before the timer.
func BenchmarkWordCountOutputPerInput(b *testing.B) {
	const lines = 20_000
	for _, tc := range []struct {
		name     string
		cache    int64
		interval time.Duration
	}{
		{"cache-off/commit-100ms", -1, 100 * time.Millisecond},
		{"cache-10MiB/commit-100ms", 0, 100 * time.Millisecond},
		{"cache-10MiB/commit-1s", 0, time.Second},
		{"cache-10MiB/commit-30s", 0, streams.DefaultCommitInterval},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tb := testbroker.Start(b)
			cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
				kgo.ProducerLinger(5*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			if _, err := adm.CreateTopics(context.Background(), 3, 1, nil, "lines", "word-counts"); err != nil {
				b.Fatal(err)
			}
			recs := make([]*kgo.Record, lines)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "lines", Value: []byte(sentences[i%len(sentences)]), Partition: int32(i % 3)}
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			var took time.Duration
			var outputs int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sb := streams.NewBuilder()
				words := streams.FlatMapValues(streams.Stream(sb, "lines", statestore.String{}, statestore.String{}),
					func(_, line string) []string { return strings.Fields(strings.ToLower(line)) }, statestore.String{})
				streams.GroupBy(words, func(_, w string) string { return w }, statestore.String{}).
					Count(streams.Materialized("counts")).ToStream().To("word-counts", nil, nil)
				topo, err := sb.Build()
				if err != nil {
					b.Fatal(err)
				}
				group := fmt.Sprintf("wc-%d", i)
				app, err := streams.New(topo, streams.Config{ApplicationID: group, BootstrapServers: []string{tb.Addr()},
					StateDir: b.TempDir(), CommitInterval: tc.interval, CacheMaxBytes: tc.cache, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				before := topicSize(b, adm, "word-counts")
				start := time.Now()
				if err := app.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				waitGroupCaughtUp(b, adm, app, group, "lines", group+"-")
				took += time.Since(start)
				if err := app.Close(); err != nil {
					b.Fatal(err)
				}
				outputs += topicSize(b, adm, "word-counts") - before
			}
			b.StopTimer()
			b.ReportMetric(float64(outputs)/float64(b.N*lines), "outputs/line")
			b.ReportMetric(float64(b.N*lines)/took.Seconds(), "lines/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// topicSize is the number of records in topic (the sum of its end offsets).
func topicSize(b *testing.B, adm *kadm.Client, topic string) int64 {
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	ends.Each(func(e kadm.ListedOffset) { n += e.Offset })
	return n
}

// waitGroupCaughtUp waits until group has committed the end of input and of every topic named
// with internalPrefix (its repartition topics), read before and after the committed offsets.
func waitGroupCaughtUp(b *testing.B, adm *kadm.Client, app *streams.App, group, input, internalPrefix string) {
	testutil.CheckFor(b, 10*time.Minute, 20*time.Millisecond, func() error {
		if err := app.Err(); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		names := []string{input}
		for _, t := range topics.Names() {
			if strings.HasPrefix(t, internalPrefix) && strings.HasSuffix(t, "-repartition") && !slices.Contains(names, t) {
				names = append(names, t)
			}
		}
		before, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return err
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		after, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return err
		}
		var behind error
		after.Each(func(e kadm.ListedOffset) {
			bo, _ := before.Lookup(e.Topic, e.Partition)
			c, ok := committed.Lookup(e.Topic, e.Partition)
			if behind == nil && (bo.Offset != e.Offset || (e.Offset > 0 && (!ok || c.At < e.Offset))) {
				behind = fmt.Errorf("%s/%d: committed %d of %d", e.Topic, e.Partition, c.At, e.Offset)
			}
		})
		return behind
	})
}
