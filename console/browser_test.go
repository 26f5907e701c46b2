package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// browserTools finds node, Chromium and playwright-core (installed by scripts/test-deps.sh into
// .ci/browser). Locally a missing one skips the test; in CI (CI=true) it fails it.
func browserTools(t *testing.T) (node, chromium, nodePath string) {
	t.Helper()
	missing := func(what string) {
		msg := "browser tests need " + what + " (bash scripts/test-deps.sh installs them)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	chromium = os.Getenv("CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if chromium == "" {
			chromium, _ = exec.LookPath(name)
		}
	}
	if chromium == "" {
		missing("Debian's chromium package")
	}
	nodePath, _ = filepath.Abs(filepath.Join("..", ".ci", "browser", "node_modules"))
	if _, err := os.Stat(filepath.Join(nodePath, "playwright-core", "package.json")); err != nil {
		missing("the npm package playwright-core in .ci/browser")
	}
	return node, chromium, nodePath
}

// flakySource is a source connector whose task fails to start while failing is set: a connector
// to restart with the console's button.
type flakySource struct{ failing *atomic.Bool }

func (flakySource) Version() string                                         { return "1.0" }
func (flakySource) ConfigDef() *connect.ConfigDef                           { return connect.NewConfigDef() }
func (flakySource) Start(connect.ConnectorContext, map[string]string) error { return nil }
func (flakySource) Stop() error                                             { return nil }
func (flakySource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{}}, nil
}
func (f flakySource) NewTask() connect.SourceTask { return &flakyTask{failing: f.failing} }

type flakyTask struct{ failing *atomic.Bool }

func (t *flakyTask) Start(connect.SourceTaskContext, map[string]string) error {
	if t.failing.Load() {
		return errors.New("flaky source: the upstream system is down")
	}
	return nil
}

func (t *flakyTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
	return nil, nil
}

func (t *flakyTask) Stop() error { return nil }

// TestBrowserScenarios drives the console in headless Chromium (playwright-core), one browser for
// all scenarios: browse a topic with a filter, see an out-of-range offset refused, produce from the
// form and see the record, watch a group's lag fall to 0 while a consumer runs (and a reset of the
// active group refused), restart a failed connector and see it RUNNING, see a streams topology
// with the right number of nodes and edges, and a console without Connect say so. Screenshots go to
// $GREGOR_ARTIFACTS (default: the test's temp dir).
func TestBrowserScenarios(t *testing.T) {
	node, chromium, nodePath := browserTools(t)
	artifacts := os.Getenv("GREGOR_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	b := testbroker.Start(t)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// A failed connector.
	var failing atomic.Bool
	failing.Store(true)
	reg := connect.NewRegistry()
	if err := reg.Register(connect.Plugin{Class: "com.example.FlakySource", Type: connect.PluginSource, Version: "1.0",
		New: func() connect.Connector { return flakySource{&failing} }}); err != nil {
		t.Fatal(err)
	}
	worker := testconnect.StartStandalone(t, b.Addr(), reg, "", nil)
	connectURL := "http://" + worker.Addr
	body := `{"name":"inventory-source","config":{"connector.class":"com.example.FlakySource","tasks.max":"1","topic":"inventory"}}`
	resp, err := http.Post(connectURL+"/connectors", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		resp, err := http.Get(connectURL + "/connectors/inventory-source/status")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var st connectorStatus
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return err
		}
		if len(st.Tasks) != 1 || st.Tasks[0].State != "FAILED" {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	failing.Store(false) // the upstream is back: a restart now succeeds

	// A topic to browse, with records a filter picks from.
	createTopic(t, adm, "orders", 2, nil)
	for i := range 30 {
		item := []string{"apple", "pear", "plum"}[i%3]
		produce(t, cl, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Key: fmt.Appendf(nil, "order-%d", i),
			Value: fmt.Appendf(nil, `{"id":%d,"item":"%s","qty":%d}`, i, item, i%5+1)})
	}
	produce(t, cl, &kgo.Record{Topic: "orders", Key: []byte("order-dbz"),
		Value: []byte(`{"before":{"id":7,"qty":1},"after":{"id":7,"qty":3},"op":"u","source":{"table":"orders"}}`)})

	// A group with lag: 200 records, nothing committed past 0.
	createTopic(t, adm, "payments", 1, nil)
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, &kgo.Record{Topic: "payments", Value: fmt.Appendf(nil, "payment-%d", i)})
	}
	produce(t, cl, recs...)
	if _, err := adm.CommitOffsets(ctx, "billing", kadm.Offsets{"payments": {0: {Topic: "payments", Partition: 0, At: 0, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}

	// A streams application with two instances.
	compact := "compact"
	createTopic(t, adm, StreamsAppsTopic, 1, map[string]*string{"cleanup.policy": &compact})
	produce(t, cl, appRecord(t, "instance-a"), appRecord(t, "instance-b"))

	_, base := startConsole(t, Options{BootstrapServers: []string{b.Addr()}, ConnectURL: connectURL, SampleInterval: 500 * time.Millisecond})

	_, noConnect := startConsole(t, Options{BootstrapServers: []string{b.Addr()}, SampleInterval: time.Hour})

	script, _ := filepath.Abs(filepath.Join("testdata", "browser", "scenarios.js"))
	runCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, script, base, noConnect)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "CHROMIUM="+chromium, "GREGOR_ARTIFACTS="+artifacts,
		"EXPECT_NODES=10", "EXPECT_EDGES=9")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	consumerCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	results := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log("browser: " + line)
		switch {
		case line == "START_CONSUMER":
			wg.Add(1)
			go func() { defer wg.Done(); runConsumer(consumerCtx, t, b.Addr()) }()
		case strings.HasPrefix(line, "PASS "), strings.HasPrefix(line, "FAIL "):
			name, _, _ := strings.Cut(line[5:], ":")
			results[name] = line
		}
	}
	err = cmd.Wait()
	stopConsumer()
	if err != nil {
		t.Errorf("node %s: %v\n%s", script, err, stderr.String())
	}
	for _, name := range []string{"overview", "browse-filter", "bad-input", "produce-form", "group-lag", "connector-restart",
		"streams-graph", "topics-page", "connect-absent", "overview-after"} {
		if r := results[name]; !strings.HasPrefix(r, "PASS ") {
			t.Errorf("scenario %s: %q", name, r)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// runConsumer consumes payments in group billing slowly (committing as it goes) until ctx ends.
func runConsumer(ctx context.Context, t *testing.T, bootstrap string) {
	c, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("payments"),
		kgo.AutoCommitInterval(200*time.Millisecond))
	if err != nil {
		t.Errorf("consumer: %v", err)
		return
	}
	defer c.Close()
	for ctx.Err() == nil {
		c.PollRecords(ctx, 20)
		select {
		case <-ctx.Done():
		case <-time.After(150 * time.Millisecond): // NB: slow on purpose, so the lag visibly falls
		}
	}
}
