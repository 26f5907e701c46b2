package mirror_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const benchRecords, benchRecordSize = 20000, 1024

// endOffsetSum is the number of records in topic on b (nothing is deleted).
func endOffsetSum(adm *kadm.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// timeCopy produces benchRecords 1 KiB records to from on a and returns how long until to on b
// holds want records.
func timeCopy(b *testing.B, src *kgo.Client, from string, dst *kadm.Client, to string, want int64) time.Duration {
	value := make([]byte, benchRecordSize)
	_, _ = rand.Read(value)
	start := time.Now()
	for i := range benchRecords {
		src.Produce(context.Background(), &kgo.Record{Topic: from, Partition: int32(i % 3), Key: fmt.Appendf(nil, "%d", i), Value: value}, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := src.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	testutil.CheckFor(b, 120*time.Second, 2*time.Millisecond, func() error {
		n, err := endOffsetSum(dst, to)
		if err == nil && n < want {
			err = fmt.Errorf("%s: %d of %d records", to, n, want)
		}
		return err
	})
	return time.Since(start)
}

// BenchmarkMirrorThroughputVsPlainPipe copies 1 KiB records from cluster A to cluster B twice in
// the same run: through a plain franz-go consume+produce pipe, and through MirrorSourceConnector
// on a Connect worker, and reports both rates and their ratio.
func BenchmarkMirrorThroughputVsPlainPipe(b *testing.B) {
	a, t := testbroker.Start(b), testbroker.Start(b)
	createTopic(b, a, "pipe", 3, nil)
	createTopic(b, t, "pipe-copy", 3, nil)
	createTopic(b, a, "bench", 3, nil)
	src := client(b, a, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2*time.Millisecond))
	dst := kadm.NewClient(client(b, t))

	// The plain pipe: poll from A, produce the same records to B.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumer := client(b, a, kgo.ConsumeTopics("pipe"))
	producer := client(b, t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2*time.Millisecond))
	go func() {
		for ctx.Err() == nil {
			consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				producer.Produce(ctx, &kgo.Record{Topic: "pipe-copy", Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, nil)
			})
		}
	}()
	cfg := flowConfig("A", a, "B", t, map[string]string{"connector.class": mirror.SourceClass, "topics": "bench", "tasks.max": "3"})
	startMirror(b, t, "", map[string]map[string]string{"mm2-bench": cfg})
	testutil.CheckFor(b, waitLong, 10*time.Millisecond, func() error {
		_, err := partitionCount(t, "A.bench")
		return err
	})

	var pipe, mirrored time.Duration
	b.ResetTimer()
	for i := range b.N {
		want := int64(i+1) * benchRecords
		pipe += timeCopy(b, src, "pipe", dst, "pipe-copy", want)
		mirrored += timeCopy(b, src, "bench", dst, "A.bench", want)
	}
	mb := float64(b.N) * benchRecords * benchRecordSize / (1 << 20)
	b.ReportMetric(mb/pipe.Seconds(), "pipe-MB/s")
	b.ReportMetric(mb/mirrored.Seconds(), "mirror-MB/s")
	b.ReportMetric(pipe.Seconds()/mirrored.Seconds(), "mirror/pipe")
}
