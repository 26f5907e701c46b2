// Command retail is Gregor's reference pipeline, the retail reorder example of Kafka's own
// introduction: streams of sales and shipments come in, reorders go out. Products live in
// Postgres and reach the pipeline through the Postgres CDC source (topic shop.public.products),
// so a threshold changed in SQL takes effect; reorders go back to Postgres through the Postgres
// sink. See README.md.
//
//	go run ./examples/retail setup    --database-url postgres://...   # schema + catalogue
//	go run ./examples/retail run      --bootstrap 127.0.0.1:9092      # the topology
//	go run ./examples/retail generate --bootstrap 127.0.0.1:9092 --seed 1 --rate 200 --duration 1m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const usage = `usage: retail <command> [flags]

commands:
  demo      everything in one process: broker, Connect, Postgres, connectors, topology, generator
  setup     create the schema and seed the catalogue in Postgres
  run       run the topology (sales + shipments + products -> reorders)
  generate  produce sales and shipments (to topics, or to files with --out-dir)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "setup":
		err = setupCmd(ctx, os.Args[2:])
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "generate":
		err = generateCmd(ctx, os.Args[2:])
	case "demo":
		err = demoCmd(ctx, os.Args[2:], os.Stdout)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		slog.Error("retail "+os.Args[1], "err", err)
		os.Exit(1)
	}
}

func setupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	url := fs.String("database-url", "postgres://postgres@127.0.0.1:5432/shop", "the shop's database")
	seed := fs.Int64("seed", 1, "seed of the catalogue")
	products := fs.Int("products", 300, "products in the catalogue")
	fs.Parse(args)
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *url, err)
	}
	defer conn.Close(ctx)
	return SetUp(ctx, conn, Catalogue(*seed, *products))
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "127.0.0.1:9092", "comma-separated bootstrap servers")
	stateDir := fs.String("state-dir", filepath.Join(os.TempDir(), "gregor-retail"), "local state directory")
	partitions := fs.Int("partitions", 3, "partitions of the topics this program creates")
	fs.Parse(args)
	seeds := strings.Split(*bootstrap, ",")
	if err := CreateTopics(ctx, seeds, int32(*partitions)); err != nil {
		return err
	}
	app, err := StartApp(ctx, AppConfig(seeds, *stateDir, time.Second, nil))
	if err != nil {
		return err
	}
	slog.Info("retail pipeline running", "state.dir", *stateDir)
	select {
	case <-ctx.Done():
	case <-app.Done():
	}
	return app.Close()
}

func generateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "127.0.0.1:9092", "comma-separated bootstrap servers")
	outDir := fs.String("out-dir", "", "write sales.txt and shipments.txt here (sku|json lines, for gregor produce --key-separator '|') instead of producing")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same events")
	catalogueSeed := fs.Int64("catalogue-seed", 1, "seed the catalogue was set up with")
	products := fs.Int("products", 300, "products in the catalogue")
	rate := fs.Int("rate", 100, "sales per second (0: as fast as possible)")
	duration := fs.Duration("duration", time.Minute, "how long to generate; the number of sales is rate x duration")
	stores := fs.Int("stores", 5, "stores selling")
	perDay := fs.Int("sales-per-day", 1000, "sales per simulated day")
	wait := fs.Duration("wait-for-catalogue", 10*time.Minute, "before producing, wait this long at most for the catalogue to be in the topology's products table (0: do not wait)")
	fs.Parse(args)
	total := int(float64(*rate) * duration.Seconds())
	if *rate == 0 {
		total = *perDay * 10
	}
	g := NewGenerator(*seed, Catalogue(*catalogueSeed, *products), *stores, *perDay)
	if *outDir != "" {
		return WriteFiles(g, *outDir, total)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*bootstrap, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if *wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		if err := waitForCatalogue(wctx, kadm.NewClient(cl), int64(*products)); err != nil {
			return err
		}
	}
	return Produce(ctx, cl, g, total, *rate, nil)
}

// CreateTopics creates the pipeline's topics that do not exist yet, all with the same number of
// partitions: the topology joins them by sku, so they must be co-partitioned. The CDC topic is
// created here too, before the connector would create it with the broker's default.
func CreateTopics(ctx context.Context, bootstrap []string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, SalesTopic, ShipmentsTopic, ProductsTopic, ReordersTopic, PricesTopic)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
