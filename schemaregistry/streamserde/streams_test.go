package streamserde_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/gregor-streams/gregor/schemaregistry/streamserde"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
	"github.com/hamba/avro/v2"
)

// startRegistry starts a broker and a registry on it.
func startRegistry(t testing.TB) (*testbroker.Broker, *streamserde.Registry) {
	t.Helper()
	b := testbroker.Start(t)
	s, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{b.Addr()}, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	reg, err := streamserde.NewRegistry([]string{s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return b, reg
}

const orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"customer","type":"string"},{"name":"amount_cents","type":"long"}]}`

// orderV2 adds a field with a default: BACKWARD compatible, so v1 records read as v2.
const orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"customer","type":"string"},{"name":"amount_cents","type":"long"},
	{"name":"currency","type":"string","default":"EUR"}]}`

const totalSchema = `{"type":"record","name":"Total","namespace":"shop","fields":[
	{"name":"orders","type":"int"},{"name":"amount_cents","type":"long"},{"name":"currencies","type":{"type":"array","items":"string"}}]}`

const enrichedSchema = `{"type":"record","name":"Enriched","namespace":"shop","fields":[
	{"name":"name","type":"string"},{"name":"tier","type":["null","string"],"default":null},{"name":"amount_cents","type":"long"}]}`

const customerSchema = `{"type":"record","name":"Customer","namespace":"shop","fields":[
	{"name":"name","type":"string"},{"name":"tier","type":["null","string"],"default":null}]}`

type orderOld struct {
	Customer    string `avro:"customer"`
	AmountCents int64  `avro:"amount_cents"`
}

type order struct {
	Customer    string `avro:"customer"`
	AmountCents int64  `avro:"amount_cents"`
	Currency    string `avro:"currency"`
}

type total struct {
	Orders      int32    `avro:"orders"`
	AmountCents int64    `avro:"amount_cents"`
	Currencies  []string `avro:"currencies"`
}

type enriched struct {
	Name        string  `avro:"name"`
	Tier        *string `avro:"tier"`
	AmountCents int64   `avro:"amount_cents"`
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTopologyReadsAndWritesAvroThroughTheRegistry is issue 14's streams acceptance, on a real
// broker and registry: a Stream of typed Avro orders (some written with the older schema v1,
// read as v2 with the new field's default), a Table of generic Avro customers, an Aggregate whose
// store and changelog hold Avro totals, a stream-table join, and To writing Avro totals and
// enriched orders that read back through the registry.
func TestTopologyReadsAndWritesAvroThroughTheRegistry(t *testing.T) {
	broker, reg := startRegistry(t)
	ordersOld, err := streamserde.NewAvro[orderOld](reg, "orders-value", orderV1, streamserde.Options{})
	check(t, err)
	orders, err := streamserde.NewAvro[order](reg, "orders-value", orderV2, streamserde.Options{})
	check(t, err)
	if ordersOld.ID() == orders.ID() {
		t.Fatalf("v1 and v2 share id %d", orders.ID())
	}
	customers, err := streamserde.NewGenericAvro(reg, "customers-value", customerSchema, streamserde.Options{})
	check(t, err)
	totals, err := streamserde.NewAvro[total](reg, "totals-value", totalSchema, streamserde.Options{})
	check(t, err)
	enrichedSerde, err := streamserde.NewAvro[enriched](reg, "enriched-value", enrichedSchema, streamserde.Options{})
	check(t, err)

	b := streams.NewBuilder()
	orderStream := streams.Stream(b, "orders", statestore.String{}, streams.Serde[order](orders))
	customerTable := streams.Table(b, "customers", statestore.String{}, streams.Serde[map[string]any](customers), streams.Materialized("customers-store"))
	streams.Aggregate(orderStream.GroupByKey(), func() total { return total{Currencies: []string{}} },
		func(_ string, o order, agg total) total {
			agg.Orders++
			agg.AmountCents += o.AmountCents
			agg.Currencies = append(agg.Currencies, o.Currency)
			return agg
		}, streams.Serde[total](totals), streams.Materialized("totals-store")).
		ToStream().To("totals", statestore.String{}, totals)
	streams.JoinTable(orderStream, customerTable, func(o order, c map[string]any) enriched {
		e := enriched{Name: c["name"].(string), AmountCents: o.AmountCents}
		if tier, ok := c["tier"].(string); ok {
			e.Tier = &tier
		}
		return e
	}, streams.Serde[enriched](enrichedSerde)).To("enriched", statestore.String{}, enrichedSerde)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := streamstest.New(t, topo, streamstest.Options{Broker: broker})

	streamstest.Input(d, "customers", statestore.String{}, streams.Serde[map[string]any](customers)).
		Pipe("ada", map[string]any{"name": "Ada Lovelace", "tier": map[string]any{"string": "gold"}}, 1000)
	streamstest.Input(d, "customers", statestore.String{}, streams.Serde[map[string]any](customers)).
		Pipe("bob", map[string]any{"name": "Bob", "tier": nil}, 1000)
	d.WaitProcessed()
	streamstest.Input(d, "orders", statestore.String{}, streams.Serde[orderOld](ordersOld)).Pipe("ada", orderOld{Customer: "ada", AmountCents: 500}, 2000)
	in := streamstest.Input(d, "orders", statestore.String{}, streams.Serde[order](orders))
	in.Pipe("ada", order{Customer: "ada", AmountCents: 250, Currency: "CHF"}, 3000)
	in.Pipe("bob", order{Customer: "bob", AmountCents: 100, Currency: "USD"}, 4000)

	got := streamstest.ToMap(streamstest.Output(d, "totals", statestore.String{}, streams.Serde[total](totals)).Latest())
	if a := got["ada"]; a.Orders != 2 || a.AmountCents != 750 || len(a.Currencies) != 2 || a.Currencies[0] != "EUR" || a.Currencies[1] != "CHF" {
		t.Errorf("ada's total %+v, want 2 orders, 750 cents, [EUR CHF] (v1's record read with v2's default)", a)
	}
	if b := got["bob"]; b.Orders != 1 || b.AmountCents != 100 {
		t.Errorf("bob's total %+v", b)
	}
	stored := streamstest.ReadStore(d, "totals-store", statestore.String{}, streams.Serde[total](totals))
	if stored["ada"].AmountCents != 750 {
		t.Errorf("store holds %+v", stored)
	}
	joined := streamstest.Output(d, "enriched", statestore.String{}, streams.Serde[enriched](enrichedSerde)).ReadUntil(3)
	if len(joined) != 3 || joined[0].Value.Name != "Ada Lovelace" || joined[0].Value.Tier == nil || *joined[0].Value.Tier != "gold" ||
		joined[2].Value.Name != "Bob" || joined[2].Value.Tier != nil {
		t.Errorf("enriched %+v", joined)
	}

	// The output is plain Confluent-framed Avro: a generic reader with only the registry decodes it.
	generic, err := streamserde.NewGenericAvro(reg, "totals-value", totalSchema, streamserde.Options{LookupOnly: true})
	check(t, err)
	raw := streamstest.Output(d, "totals", statestore.String{}, statestore.Bytes{}).ReadAll()
	if len(raw) == 0 {
		t.Fatal("no totals read as bytes")
	}
	m, err := generic.Deserialize(raw[len(raw)-1].Value)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["amount_cents"].(int64); !ok {
		t.Errorf("generic total %v", m)
	}
	if _, err := avro.Parse(totalSchema); err != nil {
		t.Fatal(err)
	}
}
