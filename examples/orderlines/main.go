// Command orderlines joins tables the way a shop's back office does: each order (a table keyed
// by order id) is joined by its product id, a foreign key, with the products table, and
// every payment (a stream keyed by customer id) is enriched with the customer's name from the
// customers table. Updates flow both ways: a new price re-prices every order of that product,
// an order moved to another product follows it, and deletes retract results (tombstones).
//
// Its topics carry a prefix (-topic-prefix, default "shop."), so they never meet the README's
// other examples: it reads shop.orders, shop.products, shop.customers and shop.payments, and
// writes shop.order-lines and shop.payments-named. Try it against a local Gregor:
//
//	./gregor dev                                        # a broker on 127.0.0.1:9092
//	go run ./examples/orderlines                        # in a second terminal
//	echo 'p1|{"name":"pen","price":3}' | ./gregor produce --topic shop.products --key-separator '|'
//	echo 'o1|{"customer":"c1","product":"p1","quantity":4}' | ./gregor produce --topic shop.orders --key-separator '|'
//	./gregor consume --topic shop.order-lines --from-beginning --print-key --max-messages 1
//
// shop.order-lines then shows o1 with "4 x pen = 12"; producing p1 again with another price
// updates it, and deleting the product (a null value) turns it into "4 x unknown product p1".
//
// Orders and products are JSON; a record that is not (a poison record) stops the program, as
// Kafka Streams' default LogAndFail handler does, with a message naming the setting that skips
// it: -skip-bad-records sets Config.DeserializationHandler to streams.LogAndContinue.
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

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Order is a value of the orders topic.
type Order struct {
	Customer string `json:"customer"`
	Product  string `json:"product"`
	Quantity int64  `json:"quantity"`
}

// Product is a value of the products topic.
type Product struct {
	Name  string `json:"name"`
	Price int64  `json:"price"`
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "comma-separated bootstrap servers")
	appID := flag.String("app-id", "orderlines", "application id (consumer group and internal topic prefix)")
	partitions := flag.Int("partitions", 3, "partitions of the topics this program creates")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "gregor-orderlines"), "local state directory")
	prefix := flag.String("topic-prefix", "shop.", "prefix of every topic this program reads and writes")
	skipBad := flag.Bool("skip-bad-records", false, "skip input records that are not JSON (streams.LogAndContinue) instead of stopping")
	flag.Parse()
	cfg := config{bootstrap: strings.Split(*bootstrap, ","), appID: *appID, partitions: int32(*partitions),
		stateDir: *stateDir, prefix: *prefix, skipBad: *skipBad}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "orderlines: %v\n", err) // NB: not slog, so the advice reads as lines
		os.Exit(1)
	}
}

// config is this program's command line.
type config struct {
	bootstrap  []string
	appID      string
	partitions int32
	stateDir   string
	prefix     string // every topic's name starts with it
	skipBad    bool   // skip records that do not deserialize
}

func topology(prefix string) (*streams.Topology, error) {
	str := statestore.String{}
	b := streams.NewBuilder()
	orders := streams.Table(b, prefix+"orders", str, statestore.JSON[Order]{}, streams.Materialized("orders"))
	products := streams.Table(b, prefix+"products", str, statestore.JSON[Product]{}, streams.Materialized("products"))
	lines := streams.LeftJoinFK(orders, products, func(o Order) string { return o.Product },
		func(o Order, p *Product) string {
			if p == nil {
				return fmt.Sprintf("%d x unknown product %s", o.Quantity, o.Product)
			}
			return fmt.Sprintf("%d x %s = %d", o.Quantity, p.Name, o.Quantity*p.Price)
		}, str, streams.Named("order-product"))
	lines.ToStream().To(prefix+"order-lines", nil, nil)

	customers := streams.Table(b, prefix+"customers", str, str, streams.Materialized("customers"))
	payments := streams.Stream(b, prefix+"payments", str, str)
	streams.LeftJoinTable(payments, customers, func(amount string, name *string) string {
		if name == nil {
			return "unknown customer paid " + amount
		}
		return *name + " paid " + amount
	}, str).To(prefix+"payments-named", nil, nil)
	return b.Build()
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// payments and customers are joined by key, so they need equal partition counts.
	var topics []string
	for _, t := range []string{"orders", "products", "order-lines", "customers", "payments", "payments-named"} {
		topics = append(topics, c.prefix+t)
	}
	if err := createTopics(ctx, c.bootstrap, c.partitions, topics...); err != nil {
		return err
	}
	topo, err := topology(c.prefix)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, topo.Describe())
	cfg := streams.Config{
		ApplicationID:    c.appID,
		BootstrapServers: c.bootstrap,
		StateDir:         c.stateDir,
		CommitInterval:   time.Second,
	}
	if c.skipBad {
		cfg.DeserializationHandler = streams.LogAndContinue
	}
	app, err := streams.New(topo, cfg)
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		app.Close()
		return err
	}
	slog.Info("joining", "state.dir", c.stateDir, "topic.prefix", c.prefix)
	select {
	case <-ctx.Done():
	case <-app.Done():
	}
	return explainPoison(app.Close())
}

// explainPoison adds to a poison-record error what to do about it.
func explainPoison(err error) error {
	var de *streams.DeserializationError
	if !errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%w\n%s/%d at offset %d is not the JSON this program reads (a poison record; "+
		"Kafka Streams' default.deserialization.exception.handler is LogAndFail, here "+
		"streams.Config.DeserializationHandler = streams.LogAndFail). Rerun with -skip-bad-records "+
		"(streams.LogAndContinue) to skip it, or with another -topic-prefix to start on fresh topics",
		err, de.Topic, de.Partition, de.Offset)
}

// createTopics creates the topics that do not exist yet.
//
// NB: every example repeats this helper and its flag and signal set-up on purpose: each example is
// one self-contained file that users copy as the start of their own program.
func createTopics(ctx context.Context, bootstrap []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, topics...)
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
