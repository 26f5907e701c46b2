package streams_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestForeignKeyJoinFollowsProductUpdatesForeignKeyMovesAndDeletes(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	// Orders and products are not co-partitioned: a foreign-key join does not need it.
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "products", 3)
	createTopic(t, addr, "order-lines", 1)
	createTopic(t, addr, "order-lines-left", 1)

	// An order is "<product id>:<quantity>".
	productOf := func(order string) string { return strings.SplitN(order, ":", 2)[0] }
	b := streams.NewBuilder()
	orders := streams.Table(b, "orders", statestore.String{}, statestore.String{})
	products := streams.Table(b, "products", statestore.String{}, statestore.String{}, streams.Materialized("products"))
	streams.JoinFK(orders, products, productOf, func(o, p string) string { return o + "/" + p }, statestore.String{},
		streams.Named("order-product")).ToStream().To("order-lines", nil, nil)
	streams.LeftJoinFK(orders, products, productOf, func(o string, p *string) string { return o + "/" + orName(p) }, statestore.String{}).
		ToStream().To("order-lines-left", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "fk", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	// The subscription topics have the partition count of the side that reads them.
	details, err := kadm.NewClient(client(t, addr)).ListTopics(ctxT(t),
		"fk-order-product-subscription-registration-topic", "fk-order-product-subscription-response-topic")
	if err != nil {
		t.Fatal(err)
	}
	if r, s := len(details["fk-order-product-subscription-registration-topic"].Partitions),
		len(details["fk-order-product-subscription-response-topic"].Partitions); r != 3 || s != 2 {
		t.Fatalf("registration topic has %d partitions (want products' 3), response topic %d (want orders' 2)", r, s)
	}

	produceKV(t, addr, "products", put("p1", "widget"), put("p2", "gadget"))
	waitRecords(t, addr, "fk-products-changelog", 2)
	steps := []struct {
		topic   string
		recs    []kv
		leftOut int // order-lines-left records once the step is processed
	}{
		// Initial results; o4's product does not exist.
		{"orders", []kv{put("o1", "p1:2"), put("o2", "p2:1"), put("o3", "p1:5"), put("o4", "p9:1")}, 4},
		// A product update updates every order referencing it.
		{"products", []kv{put("p1", "widget-v2")}, 6},
		// An order's foreign key changes: it moves to the new product...
		{"orders", []kv{put("o2", "p1:3")}, 7},
		// ...or, to a product that does not exist, its inner result is retracted.
		{"orders", []kv{put("o3", "p9:5")}, 8},
		// A product delete: inner results of its orders are deleted, left ones lose it.
		{"products", []kv{del("p1")}, 10},
		// An order delete deletes its result (Kafka forwards the tombstone even when the
		// inner join had no result for it).
		{"orders", []kv{del("o4")}, 11},
	}
	for _, s := range steps {
		produceKV(t, addr, s.topic, s.recs...)
		readPerKey(t, app, addr, "order-lines-left", s.leftOut)
	}
	expectPerKey(t, app, addr, "order-lines-left", map[string][]string{
		"o1": {"p1:2/widget", "p1:2/widget-v2", "p1:2/nil"},
		"o2": {"p2:1/gadget", "p1:3/widget-v2", "p1:3/nil"},
		"o3": {"p1:5/widget", "p1:5/widget-v2", "p9:5/nil"},
		"o4": {"p9:1/nil", "null"},
	})
	expectPerKey(t, app, addr, "order-lines", map[string][]string{
		"o1": {"p1:2/widget", "p1:2/widget-v2", "null"},
		"o2": {"p2:1/gadget", "p1:3/widget-v2", "null"},
		"o3": {"p1:5/widget", "p1:5/widget-v2", "null"},
		"o4": {"null"},
	})
}

func TestForeignKeyJoinKeepsSubscriptionsAcrossARestartWithWipedState(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 2)
	createTopic(t, addr, "products", 1)
	createTopic(t, addr, "order-lines", 1)
	topology := func() *streams.Topology {
		b := streams.NewBuilder()
		orders := streams.Table(b, "orders", statestore.String{}, statestore.String{})
		products := streams.Table(b, "products", statestore.String{}, statestore.String{}, streams.Materialized("products"))
		streams.LeftJoinFK(orders, products, func(o string) string { return strings.SplitN(o, ":", 2)[0] },
			func(o string, p *string) string { return o + "/" + orName(p) }, statestore.String{}, streams.Named("lines")).
			ToStream().To("order-lines", nil, nil)
		return build(t, b)
	}
	cfg := streams.Config{ApplicationID: "fkr", BootstrapServers: []string{addr}, StateDir: t.TempDir()}
	app := startApp(t, topology(), cfg)
	produceKV(t, addr, "products", put("p1", "widget"))
	waitRecords(t, addr, "fkr-products-changelog", 1)
	produceKV(t, addr, "orders", put("o1", "p1:1"))
	expectPerKey(t, app, addr, "order-lines", map[string][]string{"o1": {"p1:1/widget"}})
	if err := app.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A new instance with empty state restores the tables and the subscription store from
	// their changelogs: o1's subscription to p1 survives, so a product update still reaches it.
	cfg.StateDir = t.TempDir()
	app = startApp(t, topology(), cfg)
	produceKV(t, addr, "products", put("p1", "widget-v2"))
	expectPerKey(t, app, addr, "order-lines", map[string][]string{"o1": {"p1:1/widget", "p1:1/widget-v2"}})
	produceKV(t, addr, "orders", put("o2", "p1:2"))
	expectPerKey(t, app, addr, "order-lines", map[string][]string{"o1": {"p1:1/widget", "p1:1/widget-v2"}, "o2": {"p1:2/widget-v2"}})
	if app.Stats().RecordsRestored == 0 {
		t.Fatal("the second instance restored nothing from the changelogs")
	}
}

// TestForeignKeyJoinConvergesUnderConcurrentUpdatesOnBothSides produces random updates to
// both tables at once, without waiting for results, so that subscriptions, responses and
// product updates race across partitions; the latest result per order must still be the join
// of the final tables.
func TestForeignKeyJoinConvergesUnderConcurrentUpdatesOnBothSides(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	addr := tb.Addr()
	createTopic(t, addr, "orders", 3)
	createTopic(t, addr, "products", 2)
	createTopic(t, addr, "lines", 2)
	createTopic(t, addr, "lines-left", 2)
	productOf := func(order string) string { return strings.SplitN(order, ":", 2)[0] }
	b := streams.NewBuilder()
	orders := streams.Table(b, "orders", statestore.String{}, statestore.String{})
	products := streams.Table(b, "products", statestore.String{}, statestore.String{})
	streams.JoinFK(orders, products, productOf, func(o, p string) string { return o + "/" + p }, statestore.String{}).
		ToStream().To("lines", nil, nil)
	streams.LeftJoinFK(orders, products, productOf, func(o string, p *string) string { return o + "/" + orName(p) }, statestore.String{}).
		ToStream().To("lines-left", nil, nil)
	app := startApp(t, build(t, b), streams.Config{ApplicationID: "fkc", BootstrapServers: []string{addr}, StateDir: t.TempDir()})

	rng := rand.New(rand.NewPCG(1, 2))
	orderRows, productRows := map[string]string{}, map[string]string{}
	var batch []kv
	var topics []string
	for i := range 1200 {
		if rng.IntN(3) == 0 {
			p := fmt.Sprintf("p%d", rng.IntN(12))
			if rng.IntN(6) == 0 {
				delete(productRows, p)
				batch, topics = append(batch, del(p)), append(topics, "products")
			} else {
				productRows[p] = fmt.Sprintf("v%d", i)
				batch, topics = append(batch, put(p, productRows[p])), append(topics, "products")
			}
			continue
		}
		o := fmt.Sprintf("o%d", rng.IntN(60))
		if rng.IntN(8) == 0 {
			delete(orderRows, o)
			batch, topics = append(batch, del(o)), append(topics, "orders")
		} else {
			orderRows[o] = fmt.Sprintf("p%d:%d", rng.IntN(12), i)
			batch, topics = append(batch, put(o, orderRows[o])), append(topics, "orders")
		}
	}
	// One producer keeps the records of each partition in order.
	var recs []*kgo.Record
	for i, r := range batch {
		kr := &kgo.Record{Topic: topics[i], Key: []byte(r.key)}
		if r.value != nil {
			kr.Value = []byte(*r.value)
		}
		recs = append(recs, kr)
	}
	// Small batches from one producer: records of each partition stay in order, and the App
	// processes some while others are produced.
	cl := client(t, addr)
	for len(recs) > 0 {
		n := min(len(recs), 20)
		if err := cl.ProduceSync(ctxT(t), recs[:n]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}

	// The final join, per order; an order without a result may have no record or a tombstone.
	inner, left := map[string]string{}, map[string]string{}
	for o, row := range orderRows {
		p, ok := productRows[productOf(row)]
		left[o] = row + "/" + orName(ptrIf(p, ok))
		if ok {
			inner[o] = row + "/" + p
		}
	}
	for topic, want := range map[string]map[string]string{"lines": inner, "lines-left": left} {
		waitLatest(t, app, addr, topic, want)
	}
}

func ptrIf(s string, ok bool) *string {
	if !ok {
		return nil
	}
	return &s
}

// waitLatest reads topic until the latest value of each key of want is the wanted one and every
// other key is absent or deleted ("null").
func waitLatest(t *testing.T, app *streams.App, addr, topic string, want map[string]string) {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	testutil.CheckFor(t, 2*waitTimeout, 20*time.Millisecond, func() error {
		appFailed(t, app)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			v := "null"
			if r.Value != nil {
				v = string(r.Value)
			}
			got[string(r.Key)] = v
		})
		cancel()
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("%s: key %s: got %q, want %q", topic, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok && v != "null" {
				return fmt.Errorf("%s: key %s: got %q, want no result", topic, k, v)
			}
		}
		return nil
	})
}
