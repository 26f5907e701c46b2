package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

func kadmClient(t *testing.T, addr string) *kadm.Client { return kadm.NewClient(client(t, addr)) }

// consoleTopology reads orders, re-keys them by value (a repartition), counts per key in the
// store "counts" and writes the counts to counts-out.
func consoleTopology(t *testing.T) *streams.Topology {
	t.Helper()
	b := streams.NewBuilder()
	orders := streams.Stream(b, "orders", statestore.String{}, statestore.String{}, streams.Named("orders-source"))
	byValue := streams.SelectKey(orders, func(_, v string) string { return v }, statestore.String{}, streams.Named("by-value"))
	byValue.GroupByKey(streams.Named("group")).Count(streams.Named("count"), streams.Materialized("counts")).
		ToStream(streams.Named("changes")).To("counts-out", statestore.String{}, statestore.Int64{}, streams.Named("counts-sink"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// appsReader follows __gregor_streams_apps and keeps every record it has read.
type appsReader struct {
	t       *testing.T
	cl      *kgo.Client
	records []*kgo.Record
}

func readApps(t *testing.T, addr string) *appsReader {
	return &appsReader{t: t, cl: client(t, addr, kgo.ConsumeTopics(streams.ConsoleAppsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))}
}

// poll reads what has arrived (waiting at most a short while).
func (r *appsReader) poll() {
	ctx, cancel := contextWithTimeout(r.t, 200*time.Millisecond)
	defer cancel()
	r.records = append(r.records, r.cl.PollFetches(ctx).Records()...)
}

// values decodes the non-tombstone records under key.
func (r *appsReader) values(key string) ([]streams.ConsoleApp, error) {
	var out []streams.ConsoleApp
	for _, rec := range r.records {
		if string(rec.Key) != key || rec.Value == nil {
			continue
		}
		var v streams.ConsoleApp
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return nil, fmt.Errorf("record at offset %d: %w: %s", rec.Offset, err, rec.Value)
		}
		out = append(out, v)
	}
	return out, nil
}

func TestAppPublishesItsTopologyAndNodeMetricsForTheConsole(t *testing.T) {
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "counts-out", 2)
	topo := consoleTopology(t)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "console-app", BootstrapServers: []string{addr}, StateDir: t.TempDir(),
		InstanceID: "i-1", ConsolePublishInterval: 100 * time.Millisecond,
		MetricsRegisterer: prometheus.NewRegistry(),
	})
	key := "console-app/i-1"
	reader := readApps(t, addr)

	// The first record comes at Start, before any input.
	var first streams.ConsoleApp
	waitFor(t, func() error {
		reader.poll()
		vs, err := reader.values(key)
		if err != nil || len(vs) == 0 {
			return fmt.Errorf("no record under %q yet (err %v)", key, err)
		}
		first = vs[0]
		return nil
	})
	if first.ApplicationID != "console-app" || first.InstanceID != "i-1" || first.UpdatedMs <= 0 || first.State == "" {
		t.Fatalf("first record header = %+v", first)
	}
	topology := first.Topology
	// Nodes and edges are those of the App's own description, with full topic names.
	desc := topo.Description()
	if len(topology.Subtopologies) != len(desc.Subtopologies) || len(desc.Subtopologies) != 2 {
		t.Fatalf("published %d sub-topologies, the description has %d (want 2: the repartition splits it)",
			len(topology.Subtopologies), len(desc.Subtopologies))
	}
	nodes := map[string]streams.ConsoleNode{}
	edges := 0
	for i, sd := range desc.Subtopologies {
		got := topology.Subtopologies[i]
		if got.ID != sd.ID || len(got.Nodes) != len(sd.Nodes) {
			t.Fatalf("sub-topology %d: published %+v, described %+v", i, got, sd)
		}
		for j, nd := range sd.Nodes {
			n := got.Nodes[j]
			nodes[n.Name] = n
			edges += len(n.Successors)
			if n.Name != nd.Name || n.Type != nd.Type || !slices.Equal(n.Successors, nd.Successors) || !slices.Equal(n.Stores, nd.Stores) && len(nd.Stores) > 0 {
				t.Errorf("node %d/%d: published %+v, described %+v", i, j, n, nd)
			}
			if n.Topics == nil || n.Stores == nil || n.Successors == nil {
				t.Errorf("node %s has a null list: %+v", n.Name, n)
			}
		}
	}
	if src := nodes["orders-source"]; src.Type != "source" || !slices.Equal(src.Topics, []string{"orders"}) || !slices.Equal(src.Successors, []string{"by-value"}) {
		t.Errorf("source node = %+v", src)
	}
	if sink := nodes["counts-sink"]; sink.Type != "sink" || !slices.Equal(sink.Topics, []string{"counts-out"}) || len(sink.Successors) != 0 {
		t.Errorf("sink node = %+v", sink)
	}
	if c := nodes["count"]; !slices.Equal(c.Stores, []string{"counts"}) {
		t.Errorf("count node stores = %v, want [counts]", c.Stores)
	}
	wantEdges := 0
	for _, sd := range desc.Subtopologies {
		for _, nd := range sd.Nodes {
			wantEdges += len(nd.Successors)
		}
	}
	if edges != wantEdges || edges < 4 {
		t.Errorf("%d edges, want %d (and at least 4)", edges, wantEdges)
	}
	if !slices.Equal(topology.Stores, []streams.ConsoleStore{{Name: "counts", ChangelogTopic: "console-app-counts-changelog"}}) {
		t.Errorf("stores = %+v", topology.Stores)
	}
	if len(topology.RepartitionTopics) != 1 || topology.RepartitionTopics[0] != "console-app-group-repartition" {
		t.Errorf("repartition topics = %v, want [console-app-group-repartition]", topology.RepartitionTopics)
	}

	// Under input, the nodes' process rate becomes positive.
	var records []*kgo.Record
	for i := range 500 {
		records = append(records, &kgo.Record{Topic: "orders", Key: []byte(strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i%7))})
	}
	produce(t, addr, records...)
	waitFor(t, func() error {
		appFailed(t, app)
		reader.poll()
		vs, err := reader.values(key)
		if err != nil {
			return err
		}
		for _, v := range vs {
			src, cnt := v.NodeMetrics["orders-source"], v.NodeMetrics["count"]
			if v.State == "RUNNING" && src.ProcessRate > 0 && cnt.ProcessRate > 0 && src.ProcessLatencyAvgMs > 0 {
				return nil
			}
		}
		return fmt.Errorf("no RUNNING record with a positive process rate at orders-source and count among %d", len(vs))
	})

	// Close writes a tombstone for the instance.
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() error {
		reader.poll()
		if n := len(reader.records); n > 0 {
			last := reader.records[n-1]
			if string(last.Key) == key && last.Value == nil {
				return nil
			}
		}
		return errors.New("no tombstone after the last record yet")
	})
}

func TestAppWithNegativeConsolePublishIntervalPublishesNothing(t *testing.T) {
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 1)
	createTopic(t, addr, "counts-out", 1)
	app := startApp(t, consoleTopology(t), streams.Config{
		ApplicationID: "quiet-app", BootstrapServers: []string{addr}, StateDir: t.TempDir(),
		ConsolePublishInterval: -1, DisableMetrics: true,
	})
	produce(t, addr, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte("v")})
	waitCaughtUp(t, app, addr, "quiet-app")
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	topics, err := kadmClient(t, addr).ListTopics(ctxT(t), streams.ConsoleAppsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics[streams.ConsoleAppsTopic]; ok && d.Err == nil {
		t.Fatalf("%s exists, though publishing is off", streams.ConsoleAppsTopic)
	}
}
