package connect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// unresolvableHost is the name the brokers of these tests advertise. It never resolves (.invalid
// is reserved), so a Kafka client reaches them only through a testDialer: a worker client made
// without the worker's Options.Dialer cannot connect at all.
const unresolvableHost = "gregor-broker.invalid"

// dialBroker is a kgo dialer that reaches the advertised broker name through 127.0.0.1.
func dialBroker(ctx context.Context, network, host string) (net.Conn, error) {
	if h, port, err := net.SplitHostPort(host); err == nil && h == unresolvableHost {
		host = net.JoinHostPort("127.0.0.1", port)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, host)
}

// hiddenBroker is a broker that advertises unresolvableHost.
type hiddenBroker struct {
	*testbroker.Broker
	bootstrap string // unresolvableHost:port
}

// startHiddenBroker starts a broker advertising unresolvableHost, with the short session timeouts
// of the distributed tests allowed.
func startHiddenBroker(t *testing.T) hiddenBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	tb := testbroker.Start(t, testbroker.Set("group.min.session.timeout.ms", "500"),
		testbroker.Set("listeners", "PLAINTEXT://127.0.0.1:"+port),
		testbroker.Set("advertised.listeners", "PLAINTEXT://"+unresolvableHost+":"+port))
	return hiddenBroker{Broker: tb, bootstrap: net.JoinHostPort(unresolvableHost, port)}
}

// client returns a Kafka client of the test itself, closed at the end of the test.
func (hb hiddenBroker) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(hb.bootstrap), kgo.Dialer(dialBroker)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// values reads a topic from its start to its current end and returns the record values in order
// (one partition).
func (hb hiddenBroker) values(t *testing.T, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(hb.client(t)).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	end, _ := ends.Lookup(topic, 0)
	cl := hb.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []string
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d records after 20s", topic, len(out), end.Offset)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out[:end.Offset]
}

// watchingDialer dials the hidden broker and keeps every connection it handed out, to check that
// a halted worker dropped all of them.
type watchingDialer struct {
	mu    sync.Mutex
	conns []*watchedConn
}

type watchedConn struct {
	net.Conn
	closed atomic.Bool
}

func (c *watchedConn) Close() error {
	c.closed.Store(true)
	return c.Conn.Close()
}

func (d *watchingDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c, err := dialBroker(ctx, network, host)
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, wc)
	d.mu.Unlock()
	return wc, nil
}

// counts returns how many connections were dialed and how many are still open.
func (d *watchingDialer) counts() (dialed, open int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		if !c.closed.Load() {
			open++
		}
	}
	return len(d.conns), open
}

// distProps are the worker properties of the distributed tests, for a group on the hidden broker.
func distProps(hb hiddenBroker, group string, set map[string]string) map[string]string {
	props := map[string]string{
		"bootstrap.servers":                 hb.bootstrap,
		"listeners":                         "http://127.0.0.1:0",
		"group.id":                          group,
		"config.storage.topic":              group + "-configs",
		"offset.storage.topic":              group + "-offsets",
		"status.storage.topic":              group + "-status",
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "-1",
		"status.storage.replication.factor": "-1",
		"offset.storage.partitions":         "3",
		"status.storage.partitions":         "2",
		"offset.flush.interval.ms":          "100",
		"offset.flush.timeout.ms":           "2000",
		"session.timeout.ms":                fmt.Sprint(sessionTimeout.Milliseconds()),
		"heartbeat.interval.ms":             "300",
		"rebalance.timeout.ms":              "3000",
		"scheduled.rebalance.max.delay.ms":  fmt.Sprint(rebalanceDelay.Milliseconds()),
		// A halted worker's sink consumers never leave their group: their partitions move when
		// their sessions expire.
		"consumer.session.timeout.ms": fmt.Sprint(sessionTimeout.Milliseconds()),
	}
	maps.Copy(props, set)
	return props
}

// startHiddenWorker starts a distributed worker on the hidden broker that dials through dial.
func startHiddenWorker(t *testing.T, hb hiddenBroker, reg *connect.Registry, group string, dial connect.Dialer, set map[string]string) *connect.DistributedRunner {
	t.Helper()
	opts := connect.Options{Registry: reg, Logger: testLogger(), Dialer: dial}
	r, err := connect.RunDistributed(context.Background(), distProps(hb, group, set), opts)
	if err != nil {
		t.Fatalf("RunDistributed: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// testLogger discards the workers' logs unless GREGOR_TEST_LOG is set. NB: not t.Log, as a halted
// worker may log after its test ended.
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	var out io.Writer = io.Discard
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		level, out = slog.LevelDebug, os.Stderr
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// recordingSink is a sink whose tasks count what the worker calls.
type recordingSink struct{ calls *sinkCalls }

type sinkCalls struct{ put, flush, stop atomic.Int64 }

func (recordingSink) Version() string                                         { return "1.0" }
func (recordingSink) ConfigDef() *connect.ConfigDef                           { return connect.NewConfigDef() }
func (recordingSink) Start(connect.ConnectorContext, map[string]string) error { return nil }
func (recordingSink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{}}, nil
}
func (recordingSink) Stop() error                 { return nil }
func (s recordingSink) NewTask() connect.SinkTask { return &recordingSinkTask{calls: s.calls} }

type recordingSinkTask struct{ calls *sinkCalls }

func (*recordingSinkTask) Start(connect.SinkTaskContext, map[string]string) error { return nil }
func (t *recordingSinkTask) Put(rs []connect.SinkRecord) error {
	t.calls.put.Add(int64(len(rs)))
	return nil
}
func (t *recordingSinkTask) Flush(map[connect.TopicPartition]int64) error {
	t.calls.flush.Add(1)
	return nil
}
func (t *recordingSinkTask) Stop() error {
	t.calls.stop.Add(1)
	return nil
}

// TestDistributedHaltedWorkerNeitherFlushesNorCommitsWhatItHeld runs a source and a sink on one
// worker whose offsets are not due for a minute, then stops it: Close flushes, commits and stops
// the tasks; Halt, a crash, leaves every position where it was and calls no task again.
func TestDistributedHaltedWorkerNeitherFlushesNorCommitsWhatItHeld(t *testing.T) {
	for _, tc := range []struct {
		name  string
		halt  bool
		saved bool // the source offset and the sink's consumer offset end up stored
	}{
		{"Close", false, true},
		{"Halt", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := startHiddenBroker(t)
			var calls sinkCalls
			reg := testRegistry(t)
			if err := reg.Register(connect.Plugin{Class: "com.example.RecordingSink", Type: connect.PluginSink, Version: "1.0",
				New: func() connect.Connector { return recordingSink{calls: &calls} }}); err != nil {
				t.Fatal(err)
			}
			dialer := &watchingDialer{}
			group := "halt-" + strings.ToLower(tc.name)
			w := startHiddenWorker(t, hb, reg, group, dialer.dial, map[string]string{"offset.flush.interval.ms": "60000"})
			c := restOf(t, w)
			testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
				if !w.Herder.Joined() {
					return errors.New("the worker in its group")
				}
				return nil
			})
			writeRetrying(c, 201, "POST", "/connectors", `{"name":"counter","config":{"connector.class":"CountSource","topic":"held","count":"5"}}`)
			writeRetrying(c, 201, "POST", "/connectors", `{"name":"recorder","config":{"connector.class":"com.example.RecordingSink","topics":"held"}}`)
			testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
				if calls.put.Load() != 5 {
					return errors.New("the sink to be given the 5 records")
				}
				return nil
			})
			if n := calls.flush.Load(); n != 0 {
				t.Fatalf("the sink was flushed %d times before the stop; offset.flush.interval.ms is a minute", n)
			}

			start := time.Now()
			if tc.halt {
				w.Halt()
			} else {
				w.Close()
			}
			took := time.Since(start)
			t.Logf("%s took %v; the worker had dialed %d connections", tc.name, took.Round(time.Millisecond), func() int { n, _ := dialer.counts(); return n }())
			if took > 15*time.Second {
				t.Errorf("%s took %v", tc.name, took)
			}
			dialed, open := dialer.counts()
			if open != 0 {
				t.Errorf("%d of the %d connections the worker dialed are still open after %s", open, dialed, tc.name)
			}

			// What a new owner would start from: the offset topic and the sink's group.
			offsets := topicValues(t, hb, group+"-offsets")
			committed, err := kadm.NewClient(hb.client(t)).FetchOffsets(context.Background(), "connect-recorder")
			if err != nil {
				t.Fatal(err)
			}
			sinkAt, sinkCommitted := committed.Lookup("held", 0)
			flushes, stops := calls.flush.Load(), calls.stop.Load()
			if tc.saved {
				if got := offsets[`["counter",{"source":"count"}]`]; got != `{"next":5}` {
					t.Errorf("source offset after Close = %q, want {\"next\":5}", got)
				}
				if !sinkCommitted || sinkAt.At != 5 {
					t.Errorf("sink offset after Close = %v (committed %v), want 5", sinkAt.At, sinkCommitted)
				}
				if flushes == 0 || stops != 1 {
					t.Errorf("Close flushed the sink %d times and stopped it %d times; want a flush and a stop", flushes, stops)
				}
				return
			}
			if len(offsets) != 0 {
				t.Errorf("the halted worker stored source offsets %v", offsets)
			}
			if sinkCommitted && sinkAt.At >= 0 {
				t.Errorf("the halted worker committed sink offset %d", sinkAt.At)
			}
			if flushes != 0 || stops != 0 {
				t.Errorf("the halted worker flushed its sink task %d times and stopped it %d times; a crash does neither", flushes, stops)
			}
		})
	}
}

// topicValues reads a compacted topic of the hidden broker and returns the latest value per key.
func topicValues(t *testing.T, hb hiddenBroker, topic string) map[string]string {
	t.Helper()
	cl := hb.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	out := map[string]string{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out[string(r.Key)] = string(r.Value) })
	}
}

// lockedBuffer is a log destination shared by goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDistributedWorkerLoggersFollowAdminLoggers checks that PUT /admin/loggers changes the levels
// a distributed worker logs at: its "joined group" INFO line disappears at WARN and comes back at
// DEBUG.
func TestDistributedWorkerLoggersFollowAdminLoggers(t *testing.T) {
	hb := startHiddenBroker(t)
	var out lockedBuffer
	loggers := connect.NewLoggers(slog.LevelInfo)
	logger := slog.New(loggers.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
	r, err := connect.RunDistributed(context.Background(), distProps(hb, "log-cluster", nil),
		connect.Options{Registry: testRegistry(t), Logger: logger, Loggers: loggers, Dialer: dialBroker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := restOf(t, r)
	joins := func() int { return strings.Count(out.String(), "msg=\"joined group\"") }
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if joins() != 1 {
			return errors.New("the worker's INFO line on joining")
		}
		return nil
	})

	if got := mustJSON(c.expect(200, "PUT", "/admin/loggers/connect", `{"level":"WARN"}`)); !strings.Contains(got, `"connect"`) {
		t.Fatalf("PUT /admin/loggers/connect changed %s", got)
	}
	if got := field(c.expect(200, "GET", "/admin/loggers/connect", ""), "level"); got != "WARN" {
		t.Fatalf("GET /admin/loggers/connect level %v after the PUT", got)
	}
	// A second worker makes the first rejoin, which it logs at INFO, now filtered out.
	other := startHiddenWorker(t, hb, testRegistry(t), "log-cluster", dialBroker, nil)
	adm := kadm.NewClient(hb.client(t))
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := adm.DescribeGroups(ctx, "log-cluster")
		g := groups["log-cluster"]
		if !(err == nil && g.State == "Stable" && len(g.Members) == 2 && r.Herder.Joined() && other.Herder.Joined()) {
			return errors.New("both workers synced in one generation")
		}
		return nil
	})
	if n := joins(); n != 1 {
		t.Fatalf("the worker logged %d \"joined group\" lines at level WARN, want only the first", n)
	}

	c.expect(200, "PUT", "/admin/loggers/connect", `{"level":"DEBUG"}`)
	other.Close() // leaves the group: the first worker rejoins alone
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if joins() < 2 {
			return errors.New("the rejoin logged once the level is DEBUG")
		}
		return nil
	})
}
