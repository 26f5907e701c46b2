package streamserde_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/gregor-streams/gregor/schemaregistry/streamserde"
	"github.com/gregor-streams/gregor/schemaregistry/streamserde/internal/testpb"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// orderV1Proto is an older version of testpb's Order: no currency field.
const orderV1Proto = `syntax = "proto3";
package gregor.streamserde.test;
message Order { string customer = 1; int64 amount_cents = 2; }`

const customerJSONSchema = `{"type":"object","properties":{"name":{"type":"string"},"tier":{"type":"string"}},"required":["name"]}`

const enrichedJSONSchema = `{"type":"object","properties":{"name":{"type":"string"},"tier":{"type":"string"},
	"amount_cents":{"type":"integer","minimum":0}},"required":["name","amount_cents"],"additionalProperties":false}`

type customerDoc struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

type enrichedDoc struct {
	Name        string `json:"name"`
	Tier        string `json:"tier,omitempty"`
	AmountCents int64  `json:"amount_cents"`
}

func orderProto(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("internal/testpb/order.proto")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTopologyReadsAndWritesProtobufAndJSONSchemaThroughTheRegistry: a Stream of generated
// Protobuf orders (one written by a generic writer with the older schema, read into today's
// type), a Table of JSON Schema customers, an Aggregate whose store and changelog hold Protobuf
// totals, a stream-table join writing validated JSON Schema documents with To — on a real broker
// and registry — and the outputs read back, typed and generic.
func TestTopologyReadsAndWritesProtobufAndJSONSchemaThroughTheRegistry(t *testing.T) {
	broker, reg := startRegistry(t)
	ordersOld, err := streamserde.NewGenericProtobuf(reg, "pb-orders-value", orderV1Proto, streamserde.Options{})
	check(t, err)
	orders, err := streamserde.NewProtobuf[*testpb.Order](reg, "pb-orders-value", orderProto(t), streamserde.Options{})
	check(t, err)
	if orders.ID() == ordersOld.ID() {
		t.Fatalf("v1 and v2 share id %d", orders.ID())
	}
	totals, err := streamserde.NewProtobuf[*testpb.Total](reg, "pb-totals-value", orderProto(t), streamserde.Options{})
	check(t, err)
	customers, err := streamserde.NewJSONSchema[customerDoc](reg, "js-customers-value", customerJSONSchema, streamserde.Options{})
	check(t, err)
	enriched, err := streamserde.NewJSONSchema[enrichedDoc](reg, "js-enriched-value", enrichedJSONSchema, streamserde.Options{Validate: true})
	check(t, err)

	b := streams.NewBuilder()
	orderStream := streams.Stream(b, "pb-orders", statestore.String{}, streams.Serde[*testpb.Order](orders))
	customerTable := streams.Table(b, "js-customers", statestore.String{}, streams.Serde[customerDoc](customers), streams.Materialized("customers-store"))
	streams.Aggregate(orderStream.GroupByKey(), func() *testpb.Total { return &testpb.Total{} },
		func(_ string, o *testpb.Order, agg *testpb.Total) *testpb.Total {
			return &testpb.Total{Orders: agg.Orders + 1, AmountCents: agg.AmountCents + o.AmountCents,
				Currencies: append(append([]string(nil), agg.Currencies...), o.Currency)}
		}, streams.Serde[*testpb.Total](totals), streams.Materialized("totals-store")).
		ToStream().To("pb-totals", statestore.String{}, totals)
	streams.JoinTable(orderStream, customerTable, func(o *testpb.Order, c customerDoc) enrichedDoc {
		return enrichedDoc{Name: c.Name, Tier: c.Tier, AmountCents: o.AmountCents}
	}, streams.Serde[enrichedDoc](enriched)).To("js-enriched", statestore.String{}, enriched)
	topo, err := b.Build()
	check(t, err)
	d := streamstest.New(t, topo, streamstest.Options{Broker: broker})

	in := streamstest.Input(d, "js-customers", statestore.String{}, streams.Serde[customerDoc](customers))
	in.Pipe("ada", customerDoc{Name: "Ada Lovelace", Tier: "gold"}, 1000)
	in.Pipe("bob", customerDoc{Name: "Bob"}, 1000)
	d.WaitProcessed()
	old := ordersOld.New()
	old.Set(old.Descriptor().Fields().ByName("customer"), protoreflect.ValueOfString("ada"))
	old.Set(old.Descriptor().Fields().ByName("amount_cents"), protoreflect.ValueOfInt64(500))
	oldBytes, err := ordersOld.Serialize(old)
	check(t, err)
	streamstest.Input(d, "pb-orders", statestore.String{}, statestore.Bytes{}).Pipe("ada", oldBytes, 2000)
	orderIn := streamstest.Input(d, "pb-orders", statestore.String{}, streams.Serde[*testpb.Order](orders))
	orderIn.Pipe("ada", &testpb.Order{Customer: "ada", AmountCents: 250, Currency: "CHF"}, 3000)
	orderIn.Pipe("bob", &testpb.Order{Customer: "bob", AmountCents: 100, Currency: "USD"}, 4000)

	got := streamstest.ToMap(streamstest.Output(d, "pb-totals", statestore.String{}, streams.Serde[*testpb.Total](totals)).Latest())
	if a := got["ada"]; a.GetOrders() != 2 || a.GetAmountCents() != 750 || strings.Join(a.GetCurrencies(), ",") != ",CHF" {
		t.Errorf("ada's total %v, want 2 orders, 750 cents, [\"\" CHF] (the v1 record has no currency)", a)
	}
	if b := got["bob"]; b.GetOrders() != 1 || b.GetAmountCents() != 100 {
		t.Errorf("bob's total %v", b)
	}
	if stored := streamstest.ReadStore(d, "totals-store", statestore.String{}, streams.Serde[*testpb.Total](totals)); stored["ada"].GetAmountCents() != 750 {
		t.Errorf("store holds %v", stored)
	}
	joined := streamstest.Output(d, "js-enriched", statestore.String{}, streams.Serde[enrichedDoc](enriched)).ReadUntil(3)
	if len(joined) != 3 || joined[0].Value != (enrichedDoc{Name: "Ada Lovelace", Tier: "gold", AmountCents: 500}) ||
		joined[2].Value != (enrichedDoc{Name: "Bob", AmountCents: 100}) {
		t.Errorf("enriched %+v", joined)
	}

	// The totals are Confluent-framed Protobuf: Total is the file's second message, indexes [1].
	raw := streamstest.Output(d, "pb-totals", statestore.String{}, statestore.Bytes{}).ReadAll()
	id, indexes, _, err := serde.DecodeProtobuf(raw[len(raw)-1].Value)
	if err != nil || int(id) != totals.ID() || len(indexes) != 1 || indexes[0] != 1 {
		t.Errorf("totals frame: id %d indexes %v err %v, want id %d indexes [1]", id, indexes, err, totals.ID())
	}
	generic, err := streamserde.NewGenericProtobuf(reg, "pb-totals-value", orderProto(t), streamserde.Options{Message: "gregor.streamserde.test.Total", LookupOnly: true})
	check(t, err)
	m, err := generic.Deserialize(raw[len(raw)-1].Value)
	if err != nil || m.Descriptor().FullName() != "gregor.streamserde.test.Total" {
		t.Errorf("generic read of a total: %v, %v", m, err)
	}
}

// TestProtobufAndJSONSchemaSerdesRefuseWhatIsNotTheirs: a typed Protobuf serde refuses a record of
// another message, a JSON Schema serde an Avro record, and a validating JSON Schema serde a
// document its schema rejects.
func TestProtobufAndJSONSchemaSerdesRefuseWhatIsNotTheirs(t *testing.T) {
	_, reg := startRegistry(t)
	orders, err := streamserde.NewProtobuf[*testpb.Order](reg, "o-value", orderProto(t), streamserde.Options{})
	check(t, err)
	totals, err := streamserde.NewProtobuf[*testpb.Total](reg, "t-value", orderProto(t), streamserde.Options{})
	check(t, err)
	b, err := totals.Serialize(&testpb.Total{Orders: 1})
	check(t, err)
	if _, err := orders.Deserialize(b); err == nil || !strings.Contains(err.Error(), "not a gregor.streamserde.test.Order") {
		t.Errorf("Order serde read a Total: %v", err)
	}
	avroSerde, err := streamserde.NewAvro[order](reg, "a-value", orderV2, streamserde.Options{})
	check(t, err)
	ab, err := avroSerde.Serialize(order{Customer: "x"})
	check(t, err)
	enriched, err := streamserde.NewJSONSchema[enrichedDoc](reg, "e-value", enrichedJSONSchema, streamserde.Options{Validate: true})
	check(t, err)
	if _, err := enriched.Deserialize(ab); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("JSON Schema serde read an Avro record: %v", err)
	}
	if _, err := enriched.Serialize(enrichedDoc{Name: "x", AmountCents: -1}); err == nil || !strings.Contains(err.Error(), "minimum") {
		t.Errorf("validating serde wrote amount_cents -1: %v", err)
	}
	if _, err := streamserde.NewProtobuf[*testpb.Order](reg, "x-value", orderV1Proto+"\nmessage Other {}", streamserde.Options{}); err != nil {
		t.Errorf("schema defining Order: %v", err)
	}
	if _, err := streamserde.NewProtobuf[*testpb.Total](reg, "y-value", orderV1Proto, streamserde.Options{}); err == nil || !strings.Contains(err.Error(), "no message gregor.streamserde.test.Total") {
		t.Errorf("schema without Total: %v", err)
	}
}
