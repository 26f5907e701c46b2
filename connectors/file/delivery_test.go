package file_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The delivery tests prove the guarantee stated in doc.go on a 100,000-line file: a graceful
// restart in the middle of the copy neither loses nor duplicates a line; a hard stop (SIGKILL of a
// worker process) loses nothing and repeats only lines after the last flushed source offset or
// committed sink offset.

const workerEnv = "GREGOR_FILE_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runChildWorker())
	}
	os.Exit(m.Run())
}

// runChildWorker is the worker process the hard-stop test kills: a standalone worker with the
// file pipeline of pipelineProps, running until killed.
func runChildWorker() int {
	var props, src, dst, topic string
	for _, kv := range strings.Split(os.Getenv(workerEnv), "|") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "props":
			props = v
		case "src":
			src = v
		case "dst":
			dst = v
		case "topic":
			topic = v
		}
	}
	p := map[string]string{}
	for _, kv := range strings.Split(props, ",") {
		k, v, _ := strings.Cut(kv, ":=")
		p[k] = v
	}
	w, err := connect.RunStandalone(context.Background(), p, connect.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	for _, cfg := range pipelineConfigs(src, dst, topic, "100") {
		if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
	}
	fmt.Println("ready")
	select {} // until SIGKILL
}

func pipelineConfigs(src, dst, topic, batch string) []map[string]string {
	return []map[string]string{
		{"name": "file-source", "connector.class": "FileStreamSource", "file": src, "topic": topic, "batch.size": batch},
		{"name": "file-sink", "connector.class": "FileStreamSink", "file": dst, "topics": topic},
	}
}

// uniqueLines returns n lines "line <i> <padding>\n", each distinct, of varying length.
func uniqueLines(from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("y", i%41))
	}
	return b.Bytes()
}

// lineNumber returns the number of a uniqueLines line, failing on anything else (a torn or
// merged line).
func lineNumber(t *testing.T, line string) int {
	t.Helper()
	f := strings.Fields(line)
	if len(f) >= 2 && f[0] == "line" {
		if n, err := strconv.Atoi(f[1]); err == nil && line+"\n" == string(uniqueLines(n, 1)) {
			return n
		}
	}
	t.Fatalf("sink wrote a line that is not a source line: %q", line)
	return 0
}

// runsOf splits the sink's lines into runs of consecutive source lines and returns each run's
// first and last line number.
func runsOf(t *testing.T, data []byte) [][2]int {
	t.Helper()
	var runs [][2]int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		n := lineNumber(t, sc.Text())
		if len(runs) > 0 && runs[len(runs)-1][1]+1 == n {
			runs[len(runs)-1][1] = n
			continue
		}
		runs = append(runs, [2]int{n, n})
	}
	return runs
}

func TestGracefulRestartMidCopyNeitherLosesNorDuplicates(t *testing.T) {
	const n = 100_000
	tb := testbroker.Start(t)
	dir := t.TempDir()
	src, dst, offsets := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt"), filepath.Join(dir, "connect.offsets")
	appendFile(t, src, uniqueLines(0, n))
	createTopic(t, tb, "lines")

	restarts := 0
	for restarts < 3 {
		w := startWorker(t, tb, offsets)
		for _, cfg := range pipelineConfigs(src, dst, "lines", "500") {
			if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
				t.Fatal(err)
			}
		}
		// Stop as soon as the sink has moved on, in the middle of the copy.
		start := sizeOf(dst)
		testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if sizeOf(dst) <= start {
				return errors.New("the sink to write more lines")
			}
			return nil
		})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if sizeOf(dst) >= int64(len(uniqueLines(0, n))) {
			break
		}
		restarts++
	}
	if restarts == 0 {
		t.Fatal("the copy finished before the first restart; nothing was tested")
	}
	w := startWorker(t, tb, offsets)
	for _, cfg := range pipelineConfigs(src, dst, "lines", "500") {
		if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
			t.Fatal(err)
		}
	}
	waitSameContent(t, src, dst)
	if runs := runsOf(t, mustRead(t, dst)); len(runs) != 1 || runs[0] != [2]int{0, n - 1} {
		t.Fatalf("after %d graceful restarts the sink holds runs %v, want exactly lines 0..%d once", restarts, runs, n-1)
	}
	t.Logf("%d graceful restarts during the copy", restarts)
}

func TestHardStopLosesNothingAndRepeatsOnlyUnflushedLines(t *testing.T) {
	const n = 100_000
	tb := testbroker.Start(t)
	dir := t.TempDir()
	src, dst, offsets := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt"), filepath.Join(dir, "connect.offsets")
	data := uniqueLines(0, n)
	appendFile(t, src, data)
	createTopic(t, tb, "lines")

	// A worker process, killed with SIGKILL while the copy is under way: nothing is flushed,
	// committed or closed on the way down.
	props := strings.Join([]string{"bootstrap.servers:=" + tb.Addr(), "listeners:=http://127.0.0.1:0",
		"offset.storage.file.filename:=" + offsets, "offset.flush.interval.ms:=200", "consumer.session.timeout.ms:=6000"}, ",")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+strings.Join([]string{"props=" + props, "src=" + src, "dst=" + dst, "topic=lines"}, "|"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		if line, _ := bufio.NewReader(stdout).ReadString('\n'); line == "ready\n" {
			close(ready)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker process did not start: %s", stderr.String())
	}
	// Kill once a fifth of the file has reached the sink.
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if sizeOf(dst) <= int64(len(data)/5) {
			return errors.New("the sink to copy a fifth of the file")
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	atKill := mustRead(t, dst)
	if len(atKill) >= len(data) {
		t.Fatalf("the copy finished before the kill; nothing was tested")
	}

	// What was durable at the kill: the source's flushed position and the sink's committed offset.
	store, err := connect.OpenFileOffsetStore(offsets)
	if err != nil {
		t.Fatal(err)
	}
	flushedLine := 0
	if off, err := store.Get("file-source", map[string]any{"filename": src}); err != nil {
		t.Fatal(err)
	} else if off != nil {
		flushedLine = bytes.Count(data[:off["position"].(int64)], []byte("\n"))
	}
	committed := committedOffset(t, tb, "connect-file-sink", "lines")
	// Until the restart re-produces anything, topic offset i holds source line i.
	bound := min(flushedLine, int(committed))
	t.Logf("killed with %d lines in the sink file; source offset flushed up to line %d, sink committed offset %d", bytes.Count(atKill, []byte("\n")), flushedLine, committed)

	w := startWorker(t, tb, offsets)
	for _, cfg := range pipelineConfigs(src, dst, "lines", "500") {
		if _, _, err := w.Herder.PutConnectorConfig(cfg["name"], cfg, false, connect.TargetStarted); err != nil {
			t.Fatal(err)
		}
	}
	var runs [][2]int
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		got := mustRead(t, dst)
		if !(bytes.HasSuffix(got, uniqueLines(n-1, 1)) && bytes.Count(got, []byte("\n")) >= n) {
			return errors.New("the sink to reach the last line")
		}
		return nil
	})
	runs = runsOf(t, mustRead(t, dst))
	// Every line arrives; a run only ever goes back (never skips ahead), and never to before the
	// durable offsets of the moment of the kill.
	if runs[0][0] != 0 || runs[len(runs)-1][1] != n-1 {
		t.Fatalf("runs %v do not cover lines 0..%d", runs, n-1)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i][0] > runs[i-1][1]+1 {
			t.Fatalf("lines %d..%d lost (runs %v)", runs[i-1][1]+1, runs[i][0]-1, runs)
		}
		if runs[i][0] < bound {
			t.Fatalf("line %d repeated, but lines before %d were durably flushed and committed (runs %v)", runs[i][0], bound, runs)
		}
	}
	t.Logf("sink runs after the hard stop: %v", runs)
}

func committedOffset(t *testing.T, tb *testbroker.Broker, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := resp.Lookup(topic, 0); ok && o.Err == nil {
		return o.At
	}
	return 0
}

func sizeOf(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}
