package file_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// BenchmarkFileCopyPipeline measures FileStreamSource → topic → FileStreamSink end to end: each
// iteration copies a fresh 50,000-line file through a new connector pair and a new topic.
func BenchmarkFileCopyPipeline(b *testing.B) {
	const n = 50_000
	tb := testbroker.Start(b)
	dir := b.TempDir()
	props := map[string]string{
		"bootstrap.servers":            tb.Addr(),
		"listeners":                    "http://127.0.0.1:0",
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":     "1000",
	}
	w, err := connect.RunStandalone(context.Background(), props, connect.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := lines(0, n)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src, dst := filepath.Join(dir, fmt.Sprintf("in-%d", i)), filepath.Join(dir, fmt.Sprintf("out-%d", i))
		if err := os.WriteFile(src, data, 0o644); err != nil {
			b.Fatal(err)
		}
		topic := fmt.Sprintf("bench-%d", i)
		b.StartTimer()
		start := time.Now()
		for _, cfg := range []map[string]string{
			{"name": "src-" + topic, "connector.class": "FileStreamSource", "file": src, "topic": topic},
			{"name": "sink-" + topic, "connector.class": "FileStreamSink", "file": dst, "topics": topic},
		} {
			if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
				b.Fatal(err)
			}
		}
		for {
			got, _ := os.ReadFile(dst)
			if len(got) >= len(data) {
				if !bytes.Equal(got, data) {
					b.Fatalf("copy differs")
				}
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("copy incomplete after a minute: %d of %d bytes", len(got), len(data))
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		for _, name := range []string{"src-" + topic, "sink-" + topic} {
			if err := w.Herder.DeleteConnector(name); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}
