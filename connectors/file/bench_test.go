package file_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkFileCopyPipeline measures FileStreamSource → topic → FileStreamSink end to end: each
// iteration copies a fresh 200,000-line file through a new connector pair and a new topic (created
// before the timer starts, so the sink does not wait for topic discovery).
func BenchmarkFileCopyPipeline(b *testing.B) {
	const n = 200_000
	tb := testbroker.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	data := lines(0, n)
	for _, conv := range benchConverters {
		b.Run(conv.name, func(b *testing.B) {
			w := benchWorker(b, tb, conv.class)
			dir := b.TempDir()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				src, dst := filepath.Join(dir, fmt.Sprintf("in-%d", i)), filepath.Join(dir, fmt.Sprintf("out-%d", i))
				if err := os.WriteFile(src, data, 0o644); err != nil {
					b.Fatal(err)
				}
				topic := fmt.Sprintf("pipe-%s-%d", conv.name, benchRun.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, cfg := range []map[string]string{
					{"name": "src-" + topic, "connector.class": "FileStreamSource", "file": src, "topic": topic},
					{"name": "sink-" + topic, "connector.class": "FileStreamSink", "file": dst, "topics": topic},
				} {
					if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
						b.Fatal(err)
					}
				}
				for sizeOf(dst) < int64(len(data)) {
					if ctx.Err() != nil {
						b.Fatalf("copy incomplete after a minute: %d of %d bytes", sizeOf(dst), len(data))
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				cancel()
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
					b.Fatalf("copy differs")
				}
				for _, name := range []string{"src-" + topic, "sink-" + topic} {
					if err := w.Herder.DeleteConnector(name); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// benchWorker starts a standalone worker whose key and value converters are converter.
func benchWorker(b *testing.B, tb *testbroker.Broker, converter string) *connect.Runner {
	b.Helper()
	props := map[string]string{
		"bootstrap.servers":            tb.Addr(),
		"listeners":                    "http://127.0.0.1:0",
		"offset.storage.file.filename": filepath.Join(b.TempDir(), "connect.offsets"),
		// NB: the sink writes its last buffered lines at each flush; a short interval keeps that
		// wait from dominating an iteration.
		"offset.flush.interval.ms": "100",
		"key.converter":            converter,
		"value.converter":          converter,
	}
	w, err := connect.RunStandalone(context.Background(), props, connect.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

// benchRun numbers topics and connectors: the testing package runs a benchmark function more than once.
var benchRun atomic.Int64

var benchConverters = []struct{ name, class string }{
	{"StringConverter", connect.StringConverterClass},
	{"JsonConverter", connect.JSONConverterClass},
}

// BenchmarkFileSourceToTopic measures FileStreamSource alone: each iteration produces a fresh
// 200,000-line file to a new topic and stops when the topic's end offset says every line arrived.
func BenchmarkFileSourceToTopic(b *testing.B) {
	const n = 200_000
	tb := testbroker.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	data := lines(0, n)
	for _, conv := range benchConverters {
		b.Run(conv.name, func(b *testing.B) {
			w := benchWorker(b, tb, conv.class)
			dir := b.TempDir()
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				src := filepath.Join(dir, fmt.Sprintf("in-%d", i))
				if err := os.WriteFile(src, data, 0o644); err != nil {
					b.Fatal(err)
				}
				topic := fmt.Sprintf("src-%s-%d", conv.name, benchRun.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
					b.Fatal(err)
				}
				name := "src-" + topic
				b.StartTimer()
				cfg := map[string]string{"name": name, "connector.class": "FileStreamSource", "file": src, "topic": topic}
				if _, _, err := w.Herder.PutConnectorConfig(name, cfg, false, connect.TargetStarted); err != nil {
					b.Fatal(err)
				}
				for {
					ends, err := adm.ListEndOffsets(ctx, topic)
					if err != nil {
						b.Fatal(err)
					}
					if o, ok := ends.Lookup(topic, 0); ok && o.Offset >= n {
						break
					}
					if ctx.Err() != nil {
						b.Fatalf("topic %s incomplete after a minute", topic)
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				cancel()
				if err := w.Herder.DeleteConnector(name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkTopicToFileSink measures FileStreamSink alone: each iteration writes a topic of 200,000
// lines (already produced, in the converter's format) to a fresh file and stops when the file holds
// every line.
func BenchmarkTopicToFileSink(b *testing.B) {
	const n = 200_000
	tb := testbroker.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	data := lines(0, n)
	for _, conv := range benchConverters {
		b.Run(conv.name, func(b *testing.B) {
			w := benchWorker(b, tb, conv.class)
			c, err := connect.NewConverter(conv.class, nil, false)
			if err != nil {
				b.Fatal(err)
			}
			topic := fmt.Sprintf("sink-%s-%d", conv.name, benchRun.Add(1))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
				b.Fatal(err)
			}
			records := make([]*kgo.Record, 0, n)
			for _, line := range bytes.SplitAfter(data, []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				v, err := c.FromConnect(topic, connect.StringSchema, string(line[:len(line)-1]))
				if err != nil {
					b.Fatal(err)
				}
				records = append(records, &kgo.Record{Topic: topic, Value: v})
			}
			if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst := filepath.Join(dir, fmt.Sprintf("out-%d", i))
				name := fmt.Sprintf("sink-%s-%d", conv.name, benchRun.Add(1)) // a new group reads the topic from the start
				cfg := map[string]string{"name": name, "connector.class": "FileStreamSink", "file": dst, "topics": topic}
				if _, _, err := w.Herder.PutConnectorConfig(name, cfg, false, connect.TargetStarted); err != nil {
					b.Fatal(err)
				}
				for sizeOf(dst) < int64(len(data)) {
					if ctx.Err() != nil {
						b.Fatalf("sink file incomplete")
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.StopTimer()
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
					b.Fatalf("sink file differs from the source lines")
				}
				if err := w.Herder.DeleteConnector(name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
