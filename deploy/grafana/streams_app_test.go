package grafana_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testmetrics"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// dashApp is the streams application whose metrics the dashboard's Streams row is checked
// against.
const dashApp = "dash-app"

// dashTopology is a source, a count into the store "counts" and a sink: every family of the
// Streams row (node counters and latencies, commit latency, a store's size and restore, source
// lag) has series once its tasks run.
func dashTopology(t *testing.T) *streams.Topology {
	t.Helper()
	b := streams.NewBuilder()
	orders := streams.Stream(b, "dash-orders", statestore.String{}, statestore.String{}, streams.Named("orders-source"))
	orders.GroupByKey(streams.Named("group")).Count(streams.Named("count"), streams.Materialized("counts")).
		ToStream(streams.Named("changes")).To("dash-counts", statestore.String{}, statestore.Int64{}, streams.Named("counts-sink"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// startDashApp starts an instance of dashApp on its own state directory and its own registry.
func startDashApp(t *testing.T, addr, instance string) (*streams.App, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	app, err := streams.New(dashTopology(t), streams.Config{ApplicationID: dashApp, BootstrapServers: []string{addr},
		StateDir: t.TempDir(), InstanceID: instance, MetricsRegisterer: reg, CommitInterval: 100 * time.Millisecond,
		ConsolePublishInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if err := app.Start(t.Context()); err != nil {
		t.Fatalf("start %s: %v", instance, err)
	}
	return app, reg
}

// produceOrders writes n records over 5 keys to dash-orders.
func produceOrders(ctx context.Context, t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	var records []*kgo.Record
	for i := range n {
		records = append(records, &kgo.Record{Topic: "dash-orders", Key: []byte("k" + strconv.Itoa(i%5)), Value: []byte("v")})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitProcessed waits until app's count node has processed at least n records, as its registry
// reports.
func waitProcessed(t *testing.T, app *streams.App, reg *prometheus.Registry, n int) {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if err := app.Err(); err != nil {
			t.Fatalf("%s stopped: %v", dashApp, err)
		}
		fams, err := testmetrics.Gather(reg)
		if err != nil {
			return err
		}
		if got, _ := fams.Value("gregor_streams_process_records_total", "node=count"); got < float64(n) {
			return fmt.Errorf("count processed %v records, want %d", got, n)
		}
		return nil
	})
}

// runStreamsApp runs dashApp against the broker at addr and returns the registry of a running
// instance that has processed records and restored its store: a first instance counts records
// into the store (and so its changelog) and stops; a second one, on a new state directory,
// restores the store from the changelog, processes more records and drops one with a null key
// (which a count cannot use).
func runStreamsApp(ctx context.Context, t *testing.T, addr string) *prometheus.Registry {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, "dash-orders", "dash-counts"); err != nil {
		t.Fatal(err)
	}

	first, reg := startDashApp(t, addr, "dash-1")
	produceOrders(ctx, t, cl, 50)
	waitProcessed(t, first, reg, 50)
	if err := first.Close(); err != nil {
		t.Fatalf("close dash-1: %v", err)
	}

	second, reg := startDashApp(t, addr, "dash-2")
	produceOrders(ctx, t, cl, 50)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dash-orders", Value: []byte("no key")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitProcessed(t, second, reg, 50)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		fams, err := testmetrics.Gather(reg)
		if err != nil {
			return err
		}
		restored, _ := fams.Value("gregor_streams_restore_restored_records", "store=counts")
		total, _ := fams.Value("gregor_streams_restore_total_records", "store=counts")
		if total == 0 || restored != total {
			return fmt.Errorf("dash-2 restored %v of %v changelog records of counts, want all of more than 0", restored, total)
		}
		if dropped, _ := fams.Value("gregor_streams_dropped_records_total"); dropped < 1 {
			return fmt.Errorf("dash-2 dropped %v records, want the one with a null key", dropped)
		}
		return nil
	})
	return reg
}
