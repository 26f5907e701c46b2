package file_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/file"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func startWorker(t *testing.T, tb *testbroker.Broker, offsetsFile string) *connect.Runner {
	t.Helper()
	return testconnect.StartStandalone(t, tb.Addr(), nil, offsetsFile, nil)
}

func post(t *testing.T, w *connect.Runner, body string) {
	t.Helper()
	resp, err := http.Post("http://"+w.Addr+"/connectors", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /connectors: %d %s", resp.StatusCode, data)
	}
}

func createTopic(t *testing.T, tb *testbroker.Broker, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
}

// lines returns n distinct lines of varying length (including empty ones), each ending in "\n".
func lines(from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		switch {
		case i%97 == 0:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("x", i%53))
		}
	}
	return b.Bytes()
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func waitSameContent(t *testing.T, src, dst string) {
	t.Helper()
	want, _ := os.ReadFile(src)
	// Generous: -race on a loaded 2-core machine.
	testutil.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		got, _ := os.ReadFile(dst)
		if bytes.Equal(got, want) {
			return nil
		}
		err := fmt.Errorf("sink has %d bytes (%d lines), source %d bytes (%d lines); equal prefix: %v",
			len(got), bytes.Count(got, []byte("\n")), len(want), bytes.Count(want, []byte("\n")), bytes.HasPrefix(want, got))
		if len(got) > len(want) {
			t.Fatal(err) // more than the source: waiting cannot help
		}
		return err
	})
}

func createPipeline(t *testing.T, w *connect.Runner, src, dst, topic string) {
	t.Helper()
	post(t, w, fmt.Sprintf(`{"name":"file-source","config":{"connector.class":"FileStreamSource","file":%q,"topic":%q}}`, src, topic))
	post(t, w, fmt.Sprintf(`{"name":"file-sink","config":{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","file":%q,"topics":%q}}`, dst, topic))
}

func TestFileSourceToSinkCopiesByteForByteAndFollowsAppends(t *testing.T) {
	tb := testbroker.Start(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	appendFile(t, src, lines(0, 100_000))
	createTopic(t, tb, "lines")
	w := startWorker(t, tb, filepath.Join(dir, "connect.offsets"))
	createPipeline(t, w, src, dst, "lines")
	waitSameContent(t, src, dst)

	// Lines appended while running are copied too, including one written in two pieces.
	appendFile(t, src, lines(100_000, 500))
	appendFile(t, src, []byte("half a li"))
	time.Sleep(30 * time.Millisecond)
	appendFile(t, src, []byte("ne\n"))
	waitSameContent(t, src, dst)
}

// TestRestartResumesFromStoredOffsets states the delivery guarantee: a clean stop flushes source
// offsets (after Kafka acked the records) and commits sink offsets (after the file was fsynced), so
// a restart neither loses nor duplicates lines. After a crash, lines produced since the last source
// offset flush are produced again (at-least-once), which the second half checks by rolling the
// offset file back: the sink then holds every line, in order, with only that range repeated.
func TestRestartResumesFromStoredOffsets(t *testing.T) {
	tb := testbroker.Start(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	offsets := filepath.Join(dir, "connect.offsets")
	appendFile(t, src, lines(0, 2000))
	createTopic(t, tb, "lines")

	w := startWorker(t, tb, offsets)
	createPipeline(t, w, src, dst, "lines")
	waitSameContent(t, src, dst)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(offsets)
	if err != nil {
		t.Fatal(err)
	}
	size := len(lines(0, 2000))
	if !bytes.Contains(stored, []byte(fmt.Sprintf(`"position": %d`, size))) {
		t.Fatalf("offset file after clean stop = %s, want position %d", stored, size)
	}

	// Lines written while the worker is down are picked up; nothing is duplicated.
	appendFile(t, src, lines(2000, 1000))
	w = startWorker(t, tb, offsets)
	createPipeline(t, w, src, dst, "lines")
	waitSameContent(t, src, dst)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Simulate a crash that lost the last offset flushes: roll the source offset back to the first
	// run's file. Lines 2000..2999 are produced again and reach the sink twice; nothing is lost.
	if err := os.WriteFile(offsets, stored, 0o644); err != nil {
		t.Fatal(err)
	}
	appendFile(t, src, lines(3000, 100))
	w = startWorker(t, tb, offsets)
	createPipeline(t, w, src, dst, "lines")
	want := append(lines(0, 3000), lines(2000, 1100)...)
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		got, _ := os.ReadFile(dst)
		if len(got) < len(want) {
			return errors.New("sink to hold the replayed range")
		}
		return nil
	})
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, want) {
		t.Fatalf("after replay sink has %d bytes, want %d (all lines, with 2000..2999 twice)", len(got), len(want))
	}
}

func TestFileConnectorsRejectMissingConfigNamingTheField(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, filepath.Join(t.TempDir(), "connect.offsets"))
	for body, field := range map[string]string{
		`{"name":"s","config":{"connector.class":"FileStreamSource","file":"/tmp/x"}}`:                         `"topic"`,
		`{"name":"s","config":{"connector.class":"FileStreamSource","topic":"t"}}`:                             `"file"`,
		`{"name":"s","config":{"connector.class":"FileStreamSink","topics":"t"}}`:                              `"file"`,
		`{"name":"s","config":{"connector.class":"FileStreamSource","file":"f","topic":"t","batch.size":"0"}}`: "batch.size",
	} {
		resp, err := http.Post("http://"+w.Addr+"/connectors", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 400 || e.ErrorCode != 400 || !strings.Contains(e.Message, field) {
			t.Errorf("%s: %d %+v, want 400 naming %s", body, resp.StatusCode, e, field)
		}
	}
	resp, err := http.Get("http://" + w.Addr + "/connector-plugins")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, class := range []string{"org.apache.kafka.connect.file.FileStreamSourceConnector", "org.apache.kafka.connect.file.FileStreamSinkConnector"} {
		if !strings.Contains(string(data), class) {
			t.Errorf("plugins %s lack %s", data, class)
		}
	}
}

func TestSinkCutsATornLastLineOnStart(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out.txt")
	for _, tc := range []struct{ before, after string }{
		{"a\nb\npar", "a\nb\nc\n"},
		{"partial", "c\n"},
		{"a\n", "a\nc\n"},
		{"", "c\n"},
	} {
		if err := os.WriteFile(dst, []byte(tc.before), 0o644); err != nil {
			t.Fatal(err)
		}
		task := (&file.SinkConnector{}).NewTask()
		if err := task.Start(nil, map[string]string{file.ConfigFile: dst}); err != nil {
			t.Fatal(err)
		}
		if err := task.Put([]connect.SinkRecord{{Value: "c"}}); err != nil {
			t.Fatal(err)
		}
		if err := task.Flush(nil); err != nil {
			t.Fatal(err)
		}
		if err := task.Stop(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); string(got) != tc.after {
			t.Errorf("file %q, after a restart and one record: %q, want %q", tc.before, got, tc.after)
		}
	}
}
