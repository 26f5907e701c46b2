package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connect/transforms" // ExtractField$Key on the CDC source
	_ "github.com/gregor-streams/gregor/connectors/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed connectors/*.json
var connectorFiles embed.FS

// demoGroups are the consumer groups whose lag the summary shows.
var demoGroups = []string{ApplicationID, "connect-reorders-sink", "connect-prices-sink"}

// demoCmd runs the whole example in one process: an embedded broker, a Connect worker with the
// three connectors, Postgres (a throwaway server, or --database-url), the topology and the
// generator, with a summary refreshed in place until Ctrl-C or --duration.
func demoCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	duration := fs.Duration("duration", 0, "stop after this long and print a final report (0: until Ctrl-C)")
	dbURL := fs.String("database-url", "", "an existing Postgres database (wal_level=logical) instead of a throwaway server")
	rate := fs.Int("rate", 200, "sales per second")
	seed := fs.Int64("seed", 1, "seed of the catalogue and the generator")
	stores := fs.Int("stores", 5, "stores selling")
	products := fs.Int("products", 300, "products in the catalogue")
	dir := fs.String("dir", "", "where the broker, Connect and Postgres keep their files (default: a temporary directory, removed at the end)")
	fs.Parse(args)

	if *dir == "" {
		d, err := os.MkdirTemp("", "gregor-retail-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	logFile, err := os.Create(filepath.Join(*dir, "demo.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))
	fmt.Fprintf(out, "retail demo: logs in %s\n", logFile.Name())

	if *dbURL == "" {
		pg, u, err := startLocalPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.stop()
		*dbURL = u
	}
	catalogue := Catalogue(*seed, *products)
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *dbURL, err)
	}
	defer conn.Close(context.Background())
	if err := SetUp(ctx, conn, catalogue); err != nil {
		return err
	}

	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + filepath.Join(*dir, "broker"),
		"group.initial.rebalance.delay.ms=0", "offsets.topic.num.partitions=4"})
	if err != nil {
		return err
	}
	b, err := broker.New(cfg, broker.Options{Logger: logger.With("component", "broker")})
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		b.Close()
		return err
	}
	defer b.Close()
	bootstrap := []string{b.Addr()}
	if err := CreateTopics(ctx, bootstrap, 3); err != nil {
		return err
	}
	worker, err := connect.RunStandalone(ctx, map[string]string{
		"bootstrap.servers":            b.Addr(),
		"listeners":                    "http://127.0.0.1:0",
		"offset.storage.file.filename": filepath.Join(*dir, "connect.offsets"),
		"offset.flush.interval.ms":     "1000",
	}, connect.Options{Logger: logger.With("component", "connect")})
	if err != nil {
		return err
	}
	defer worker.Close()
	if err := deployConnectors(worker.Addr, *dbURL); err != nil {
		return err
	}
	app, err := StartApp(ctx, AppConfig(bootstrap, filepath.Join(*dir, "state"), time.Second, logger))
	if err != nil {
		return err
	}
	defer app.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	runCtx := ctx
	if *duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	fmt.Fprintf(out, "waiting for the catalogue to reach the topology through CDC...\n")
	if err := waitForCatalogue(runCtx, adm, int64(len(catalogue))); err != nil {
		return err
	}
	var sent atomic.Int64
	genDone := make(chan error, 1)
	go func() {
		g := NewGenerator(*seed, catalogue, *stores, 1000)
		genDone <- Produce(runCtx, cl, g, int(^uint(0)>>1), *rate, &sent)
	}()

	start := time.Now()
	live := isTerminal(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	for running := true; running; {
		select {
		case <-runCtx.Done():
			running = false
		case <-app.Done():
			return fmt.Errorf("the topology stopped: %w", app.Err())
		case <-tick.C:
			if live {
				now := sent.Load()
				fmt.Fprint(out, "\033[H\033[2J")
				fmt.Fprintf(out, "retail demo — %v (Ctrl-C to stop)\n\n", time.Since(start).Round(time.Second))
				fmt.Fprintf(out, "sales: %d (%d/s)\n", now, now-last)
				last = now
				writeSummary(ctx, out, conn, adm)
			}
		}
	}
	if err := <-genDone; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	elapsed := time.Since(start)
	// Let the pipeline finish what was produced before reporting, for a bounded while.
	drainCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for drainCtx.Err() == nil && totalLag(drainCtx, adm) != 0 {
		select {
		case <-drainCtx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(out, "\nretail demo: final report after %v\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "sales: %d (%.0f/s)\n", sent.Load(), float64(sent.Load())/elapsed.Seconds())
	writeSummary(context.Background(), out, conn, adm)
	return nil
}

// waitForCatalogue waits until the products topic holds n records and the topology has
// committed its end: the stream-table join sees a product only once its row is in the table.
func waitForCatalogue(ctx context.Context, adm *kadm.Client, n int64) error {
	for {
		ends, err := adm.ListEndOffsets(ctx, ProductsTopic)
		committed, cerr := adm.FetchOffsets(ctx, ApplicationID)
		if err == nil && cerr == nil {
			var end, done int64
			ends.Each(func(o kadm.ListedOffset) {
				end += o.Offset
				if c, ok := committed.Lookup(o.Topic, o.Partition); ok {
					done += c.At
				}
			})
			if end >= n && done == end {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the catalogue did not reach the topology: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deployConnectors POSTs the example's connector configs, pointed at dbURL, to the worker.
func deployConnectors(addr, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("--database-url: %w", err)
	}
	files, err := connectorFiles.ReadDir("connectors")
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := connectorFiles.ReadFile("connectors/" + f.Name())
		if err != nil {
			return err
		}
		var c struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		pointAt(c.Config, u)
		body, _ := json.Marshal(c)
		resp, err := http.Post("http://"+addr+"/connectors", "application/json", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("create connector %s: %w", c.Name, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create connector %s: %s: %s", c.Name, resp.Status, msg)
		}
	}
	return nil
}

// pointAt rewrites a connector config's database settings to the database of u.
func pointAt(cfg map[string]string, u *url.URL) {
	pass, _ := u.User.Password()
	db := strings.TrimPrefix(u.Path, "/")
	for k := range cfg {
		switch k {
		case "database.hostname":
			cfg[k] = u.Hostname()
		case "database.port":
			cfg[k] = u.Port()
		case "database.user", "connection.user":
			cfg[k] = u.User.Username()
		case "database.dbname":
			cfg[k] = db
		case "connection.url":
			cfg[k] = fmt.Sprintf("jdbc:postgresql://%s/%s", u.Host, db)
		}
	}
	if pass != "" {
		if _, ok := cfg["database.user"]; ok {
			cfg["database.password"] = pass
		} else {
			cfg["connection.password"] = pass
		}
	}
}

// writeSummary prints the reorders and prices in Postgres and the lag of each group.
func writeSummary(ctx context.Context, out io.Writer, conn *pgx.Conn, adm *kadm.Client) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var reorders, skus, units, repriced int64
	if err := conn.QueryRow(qctx, `SELECT count(*), count(DISTINCT sku), coalesce(sum(qty), 0) FROM reorders`).Scan(&reorders, &skus, &units); err != nil {
		fmt.Fprintf(out, "reorders: %v\n", err)
	}
	conn.QueryRow(qctx, `SELECT count(*) FROM prices`).Scan(&repriced)
	fmt.Fprintf(out, "reorders in Postgres: %d (%d units of %d skus)\n", reorders, units, skus)
	fmt.Fprintf(out, "prices adjusted: %d skus; last changes:\n", repriced)
	rows, err := conn.Query(qctx, `SELECT p.sku, p.price_cents, p.reason, pr.base_price::text FROM prices p JOIN products pr USING (sku)
		ORDER BY p.event_time DESC, p.sku LIMIT 5`)
	if err == nil {
		for rows.Next() {
			var sku, reason, base string
			var cents int64
			if rows.Scan(&sku, &cents, &reason, &base) == nil {
				fmt.Fprintf(out, "  %s  %d.%02d (base %s)  %s\n", sku, cents/100, cents%100, base, reason)
			}
		}
		rows.Close()
	}
	fmt.Fprintf(out, "consumer lag:")
	lags, err := adm.Lag(qctx, slices.Clone(demoGroups)...)
	if err != nil {
		fmt.Fprintf(out, " %v\n", err)
		return
	}
	for _, g := range demoGroups {
		if l, ok := lags[g]; ok && l.Error() == nil {
			fmt.Fprintf(out, "  %s %d", g, l.Lag.Total())
		}
	}
	fmt.Fprintln(out)
}

// totalLag is the demo groups' lag together; -1 when it cannot be read.
func totalLag(ctx context.Context, adm *kadm.Client) int64 {
	lags, err := adm.Lag(ctx, slices.Clone(demoGroups)...)
	if err != nil || lags.Error() != nil || len(lags) != len(demoGroups) {
		return -1
	}
	var n int64
	lags.Each(func(l kadm.DescribedGroupLag) { n += l.Lag.Total() })
	return n
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
