package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// startDevWorker starts `gregor dev`'s Connect worker against bootstrap with data under dataDir on
// a free port and returns it with its --connect-url.
func startDevWorker(t *testing.T, bootstrap, dataDir string) (*connect.Runner, string) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := startDevConnect(t.Context(), bootstrap, dataDir, "127.0.0.1:0", logger)
	if err != nil {
		t.Fatalf("startDevConnect: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, "http://" + r.Addr
}

// waitStatus polls `gregor connect status name` until its output contains every want.
func waitStatus(t *testing.T, url, name string, want ...string) string {
	t.Helper()
	var stdout string
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		args := []string{"connect", "status", "--connect-url", url}
		if name != "" {
			args = append(args, name)
		}
		r := gregor(t, "", args...)
		ok := r.err == nil
		for _, w := range want {
			ok = ok && strings.Contains(r.stdout, w)
		}
		if !ok {
			return fmt.Errorf("connect status %s: want %q, got %q (err %v, stderr %q)", name, want, r.stdout, r.err, r.stderr)
		}
		stdout = r.stdout
		return nil
	})
	return stdout
}

func writeSourceConnector(t *testing.T, dir, name string) (connFile, input string) {
	t.Helper()
	input = filepath.Join(dir, name+".txt")
	if err := os.WriteFile(input, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	connFile = filepath.Join(dir, name+".json")
	body := fmt.Sprintf(`{"name":%q,"config":{"connector.class":"FileStreamSource","file":%q,"topic":%q}}`, name, input, name)
	if err := os.WriteFile(connFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return connFile, input
}

func TestDevConnectWorkerKeepsConnectorsAcrossRestart(t *testing.T) {
	bs := startTestCluster(t)
	dataDir := t.TempDir()
	connFile, input := writeSourceConnector(t, t.TempDir(), "lines")

	r1, url := startDevWorker(t, bs, dataDir)
	out := mustGregor(t, "", "connect", "create", "-f", connFile, "--connect-url", url).stdout
	if !strings.Contains(out, "Created connector lines (source, 1 task(s))") || !strings.Contains(out, "connector.class=FileStreamSource") {
		t.Fatalf("create printed %q", out)
	}
	if got := mustGregor(t, "", "connect", "list", "--connect-url", url).stdout; got != "lines\n" {
		t.Fatalf("list: %q, want lines", got)
	}
	st := waitStatus(t, url, "lines", "CONNECTOR", "lines", "RUNNING", "1/1 running", "task 0", r1.Addr)
	t.Logf("status:\n%s", st)
	// The records reached Kafka.
	c := mustGregor(t, "", "consume", "--topic", "lines", "--from-beginning", "--max-messages", "2", "--timeout-ms", "20000", "-b", bs)
	if c.stdout != "\"one\"\n\"two\"\n" { // JSON strings: the dev worker uses JSON converters without schemas
		t.Fatalf("consumed %q", c.stdout)
	}
	var saved struct {
		Connectors []struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
		} `json:"connectors"`
	}
	data, err := os.ReadFile(filepath.Join(dataDir, "connect", "connectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Connectors) != 1 || saved.Connectors[0].Config["connector.class"] != "FileStreamSource" {
		t.Fatalf("connectors.json: %s (%v)", data, err)
	}

	if err := r1.Close(); err != nil {
		t.Fatalf("closing the worker: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "connect", "offsets.json")); err != nil {
		t.Fatalf("offsets not saved: %v", err)
	}
	_, url2 := startDevWorker(t, bs, dataDir)
	if got := mustGregor(t, "", "connect", "list", "--connect-url", url2).stdout; got != "lines\n" {
		t.Fatalf("list after restart: %q, want lines", got)
	}
	waitStatus(t, url2, "", "lines", "RUNNING", "1/1 running")
	// Source offsets came back too: the restarted task does not produce the lines again. NB: a line
	// appended now is the marker that the task has read on from where it was; had it started over,
	// "one" and "two" would come again before "three" (one task, one partition).
	f, err := os.OpenFile(input, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("three\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c = mustGregor(t, "", "consume", "--topic", "lines", "--from-beginning", "--max-messages", "3", "--timeout-ms", "20000", "-b", bs)
	if c.stdout != "\"one\"\n\"two\"\n\"three\"\n" {
		t.Fatalf("after restart the topic holds %q", c.stdout)
	}
}

func TestDevConnectWorkerKeepsPausedAndDeleted(t *testing.T) {
	bs := startTestCluster(t)
	dataDir, dir := t.TempDir(), t.TempDir()
	a, _ := writeSourceConnector(t, dir, "a")
	b, _ := writeSourceConnector(t, dir, "b")
	r1, url := startDevWorker(t, bs, dataDir)
	mustGregor(t, "", "connect", "create", "-f", a, "--connect-url", url)
	mustGregor(t, "", "connect", "create", "-f", b, "--connect-url", url)
	mustGregor(t, "", "connect", "pause", "a", "--connect-url", url)
	mustGregor(t, "", "connect", "delete", "b", "--connect-url", url)
	r1.Close()
	_, url2 := startDevWorker(t, bs, dataDir)
	if got := mustGregor(t, "", "connect", "list", "--connect-url", url2).stdout; got != "a\n" {
		t.Fatalf("list after restart: %q, want a", got)
	}
	waitStatus(t, url2, "a", "PAUSED")
}

func TestConnectCLISubcommands(t *testing.T) {
	bs := startTestCluster(t)
	connFile, _ := writeSourceConnector(t, t.TempDir(), "src")
	_, url := startDevWorker(t, bs, t.TempDir())
	cu := []string{"--connect-url", url}
	run := func(args ...string) cmdResult {
		return gregor(t, "", append(append([]string{"connect"}, args...), cu...)...)
	}
	must := func(args ...string) string {
		t.Helper()
		r := run(args...)
		if r.err != nil {
			t.Fatalf("gregor connect %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
		}
		return r.stdout
	}
	if got := must("list"); got != "" {
		t.Fatalf("list on an empty worker: %q", got)
	}
	plugins := must("plugins")
	// The short names the README uses are listed beside Kafka's class names.
	if !regexp.MustCompile(`(?m)^io\.debezium\.connector\.postgresql\.PostgresConnector +source +\S+ +PostgresCdcSource$`).MatchString(plugins) ||
		!regexp.MustCompile(`(?m)^org\.apache\.kafka\.connect\.file\.FileStreamSourceConnector +source +\S+ +FileStreamSource$`).MatchString(plugins) {
		t.Errorf("plugins does not list the short names:\n%s", plugins)
	}
	if !strings.HasPrefix(plugins, "CLASS") || !strings.Contains(plugins, "FileStreamSource") || !strings.Contains(plugins, "sink") {
		t.Fatalf("plugins: %q", plugins)
	}
	must("create", "-f", connFile)
	waitStatus(t, url, "src", "RUNNING", "1/1 running")
	if got := must("pause", "src"); got != "Paused connector src.\n" {
		t.Fatalf("pause: %q", got)
	}
	waitStatus(t, url, "src", "PAUSED")
	if got := must("resume", "src"); got != "Resumed connector src.\n" {
		t.Fatalf("resume: %q", got)
	}
	waitStatus(t, url, "src", "RUNNING")
	if got := must("restart", "src"); got != "Restarted connector src.\n" {
		t.Fatalf("restart: %q", got)
	}
	if got := must("restart", "src", "--include-tasks", "--only-failed"); !strings.HasPrefix(got, "Restarted connector src.\nCONNECTOR") {
		t.Fatalf("restart --include-tasks --only-failed: %q", got)
	}
	waitStatus(t, url, "", "src", "RUNNING")
	if got := must("delete", "src"); got != "Deleted connector src.\n" {
		t.Fatalf("delete: %q", got)
	}
	if got := must("list"); got != "" {
		t.Fatalf("list after delete: %q", got)
	}

	// Every subcommand naming an unknown connector prints the REST error and exits 1.
	for _, args := range [][]string{{"status", "nope"}, {"delete", "nope"}, {"restart", "nope"}, {"pause", "nope"}, {"resume", "nope"}} {
		r := run(args...)
		if r.exit != 1 || r.stderr != "error: 404: Connector nope not found\n" {
			t.Errorf("connect %s: exit %d, stderr %q", args[0], r.exit, r.stderr)
		}
	}
	// A create the worker rejects: the 400 and its message.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"name":"bad","connector.class":"NoSuchConnector"}`), 0o644)
	if r := run("create", "-f", bad); r.exit != 1 || !strings.HasPrefix(r.stderr, "error: 400: ") {
		t.Errorf("create with an unknown class: exit %d, stderr %q", r.exit, r.stderr)
	}
	// Usage mistakes exit 2.
	if r := run("delete"); r.exit != 2 {
		t.Errorf("delete without a name: exit %d, stderr %q", r.exit, r.stderr)
	}
	if r := run("create"); r.exit != 2 {
		t.Errorf("create without -f: exit %d, stderr %q", r.exit, r.stderr)
	}
	// No worker there.
	r := gregor(t, "", "connect", "list", "--connect-url", "http://127.0.0.1:1")
	if r.exit != 1 || !strings.Contains(r.stderr, "reaching the Connect worker at http://127.0.0.1:1") {
		t.Errorf("list without a worker: exit %d, stderr %q", r.exit, r.stderr)
	}
}

// TestDevStartsBrokerAndConnect runs cmdDev itself until its context is cancelled.
func TestDevStartsBrokerAndConnect(t *testing.T) {
	// The banner is discarded; only check it starts and stops cleanly on free ports.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	dataDir := t.TempDir()
	go func() {
		done <- cmdDev(ctx, []string{"--data", dataDir, "--listen", "127.0.0.1:0", "--connect-listen", "127.0.0.1:0", "--schema-registry-listen", "127.0.0.1:0", "--console-listen", "off"}, io.Discard, io.Discard)
	}()
	// NB: the Connect worker starts last, after the broker serves; the lock on its offset
	// file (offsets.json.lock) says it has started.
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		select {
		case err := <-done:
			t.Fatalf("gregor dev stopped before it was cancelled: %v", err)
		default:
		}
		_, err := os.Stat(filepath.Join(dataDir, "connect", "offsets.json.lock"))
		return err
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gregor dev: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gregor dev did not stop")
	}
}

func TestPrintConnectorStatusesShowsFirstTraceLineOfFailures(t *testing.T) {
	var b strings.Builder
	printConnectorStatuses(&b, []connect.ConnectorStatus{{
		Name:      "src",
		Connector: connect.ConnectorState{State: connect.StateRunning, WorkerID: "w:1"},
		Tasks: []connect.TaskState{
			{ID: 0, State: connect.StateRunning, WorkerID: "w:1"},
			{ID: 1, State: connect.StateFailed, WorkerID: "w:1", Trace: "open in.txt: no such file\n\tat line 2"},
		},
	}})
	want := `CONNECTOR  STATE    TASKS        WORKER
src        RUNNING  1/2 running  w:1
  task 0   RUNNING               w:1
  task 1   FAILED                w:1
    trace: open in.txt: no such file
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
