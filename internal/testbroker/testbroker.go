// Package testbroker starts a real Gregor broker in-process on 127.0.0.1:0 with a temporary data
// directory, for the tests of every package. It is the one place outside cmd/ allowed to wire the
// broker in-process; everything else reaches it through the Kafka protocol.
package testbroker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	plog "github.com/gregor-streams/gregor/broker/log"
)

// Broker is a running in-process broker.
type Broker struct {
	t    testing.TB
	dir  string
	sets []string
	addr string
	fs   plog.FS
	logs io.Writer
	b    *broker.Broker
	// controllerListener is the CONTROLLER listener's address of a cluster's node ("" for the implicit
	// single node; see StartCluster).
	controllerListener string
}

// Option adjusts the broker's configuration.
type Option func(*Broker)

// Set sets a broker config (Kafka name), like `gregor server --set key=value`.
func Set(key, value string) Option {
	return func(b *Broker) { b.sets = append(b.sets, key+"="+value) }
}

// Dir runs the broker on an existing data directory instead of a fresh temp dir.
func Dir(dir string) Option { return func(b *Broker) { b.dir = dir } }

// FS runs the broker's disk I/O through fs (fault injection: a torn write, ENOSPC), as
// broker.Options.FS.
func FS(fs plog.FS) Option { return func(b *Broker) { b.fs = fs } }

// Logs also writes the broker's log lines (warnings and errors, text format) to w, for tests
// that count them. w must be safe for concurrent use.
func Logs(w io.Writer) Option { return func(b *Broker) { b.logs = w } }

// Start starts a broker and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	tb := &Broker{t: t}
	for _, o := range opts {
		o(tb)
	}
	if tb.dir == "" {
		tb.dir = t.TempDir()
	}
	tb.start("127.0.0.1:0")
	t.Cleanup(func() { tb.Stop() })
	return tb
}

func (tb *Broker) start(listen string) {
	tb.t.Helper()
	tb.startOn(tb.t, listen)
}

// startOn starts the broker, reporting a failure on t (the broker's logs still go to the test that
// made it, which outlives t).
func (tb *Broker) startOn(t testing.TB, listen string) {
	t.Helper()
	listeners := "listeners=PLAINTEXT://" + listen
	if tb.controllerListener != "" {
		listeners += ",CONTROLLER://" + tb.controllerListener
	}
	sets := append([]string{
		listeners,
		"log.dirs=" + tb.dir,
		// As Kafka's own test harness does: no initial delay before a new group's first rebalance,
		// and few offsets partitions (fast to create and load).
		"group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=4",
	}, tb.sets...)
	cfg, _, err := config.Load("", sets)
	if err != nil {
		t.Fatalf("testbroker config: %v", err)
	}
	level := slog.LevelWarn
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	var out io.Writer = testWriter{tb.t}
	if tb.logs != nil {
		out = io.MultiWriter(out, tb.logs)
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	b, err := broker.New(cfg, broker.Options{Logger: logger, FS: tb.fs})
	if err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	if err := b.Start(context.Background()); err != nil {
		b.Close()
		t.Fatalf("testbroker: %v", err)
	}
	tb.b = b
	tb.addr = b.Addr()
}

// Addr is the bootstrap address (127.0.0.1:port).
func (tb *Broker) Addr() string { return tb.addr }

// Dir is the broker's log directory.
func (tb *Broker) Dir() string { return tb.dir }

// Broker returns the running broker (nil after Stop).
func (tb *Broker) Broker() *broker.Broker { return tb.b }

// Stop shuts the broker down cleanly. Idempotent.
func (tb *Broker) Stop() {
	if tb.b == nil {
		return
	}
	if err := tb.b.Close(); err != nil {
		tb.t.Errorf("testbroker close: %v", err)
	}
	tb.b = nil
}

// Restart stops the broker and starts it again on the same directory and port.
func (tb *Broker) Restart() {
	tb.t.Helper()
	tb.RestartIn(tb.t)
}

// RestartIn is Restart for a subtest t of the test that started the broker (a cluster's node
// restarted by one of its subtests): a failure to start again fails t, from t's own goroutine.
func (tb *Broker) RestartIn(t testing.TB) {
	t.Helper()
	tb.Stop()
	tb.startOn(t, tb.addr)
}

// StartStopped starts a broker that was stopped with Stop, on the same directory and port.
func (tb *Broker) StartStopped() {
	tb.t.Helper()
	if tb.b != nil {
		tb.t.Fatalf("testbroker: already running")
	}
	tb.start(tb.addr)
}

// testWriter sends broker logs to the test log, so they show only for failing tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() // a log line after the test ended must not panic
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
