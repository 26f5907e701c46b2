// Command orderlines joins tables the way a shop's back office does: each order (a table keyed
// by order id) is joined by its product id, a foreign key, with the products table, and
// every payment (a stream keyed by customer id) is enriched with the customer's name from the
// customers table. Updates flow both ways: a new price re-prices every order of that product,
// an order moved to another product follows it, and deletes retract results (tombstones).
//
// Try it against a local Gregor:
//
//	gregor dev                                         # a broker on 127.0.0.1:9092
//	go run ./examples/orderlines -bootstrap 127.0.0.1:9092
//	echo 'p1|{"name":"pen","price":3}' | gregor produce --topic products --key-separator '|' -b 127.0.0.1:9092
//	echo 'o1|{"customer":"c1","product":"p1","quantity":4}' | gregor produce --topic orders --key-separator '|' -b 127.0.0.1:9092
//	gregor consume --topic order-lines --from-beginning --print-key -b 127.0.0.1:9092
//
// order-lines then shows o1 with "4 x pen = 12"; producing p1 again with another price
// updates it, and deleting the product (a null value) turns it into "4 x unknown product p1".
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
	flag.Parse()
	if err := run(strings.Split(*bootstrap, ","), *appID, int32(*partitions), *stateDir); err != nil {
		slog.Error("orderlines", "err", err)
		os.Exit(1)
	}
}

func topology() (*streams.Topology, error) {
	str := statestore.String{}
	b := streams.NewBuilder()
	orders := streams.Table(b, "orders", str, statestore.JSON[Order]{}, streams.Materialized("orders"))
	products := streams.Table(b, "products", str, statestore.JSON[Product]{}, streams.Materialized("products"))
	lines := streams.LeftJoinFK(orders, products, func(o Order) string { return o.Product },
		func(o Order, p *Product) string {
			if p == nil {
				return fmt.Sprintf("%d x unknown product %s", o.Quantity, o.Product)
			}
			return fmt.Sprintf("%d x %s = %d", o.Quantity, p.Name, o.Quantity*p.Price)
		}, str, streams.Named("order-product"))
	lines.ToStream().To("order-lines", nil, nil)

	customers := streams.Table(b, "customers", str, str, streams.Materialized("customers"))
	payments := streams.Stream(b, "payments", str, str)
	streams.LeftJoinTable(payments, customers, func(amount string, name *string) string {
		if name == nil {
			return "unknown customer paid " + amount
		}
		return *name + " paid " + amount
	}, str).To("payments-named", nil, nil)
	return b.Build()
}

func run(bootstrap []string, appID string, partitions int32, stateDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// payments and customers are joined by key, so they need equal partition counts.
	if err := createTopics(ctx, bootstrap, partitions, "orders", "products", "order-lines", "customers", "payments", "payments-named"); err != nil {
		return err
	}
	topo, err := topology()
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, topo.Describe())
	app, err := streams.New(topo, streams.Config{
		ApplicationID:    appID,
		BootstrapServers: bootstrap,
		StateDir:         stateDir,
		CommitInterval:   time.Second,
	})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		app.Close()
		return err
	}
	slog.Info("joining", "state.dir", stateDir)
	select {
	case <-ctx.Done():
	case <-app.Done():
	}
	return app.Close()
}

// createTopics creates the topics that do not exist yet.
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
