package streamserde_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry/streamserde"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
)

// benchOrder is the record both serdes carry: the JSON serde uses the json tags, Avro the avro tags.
type benchOrder struct {
	ID          int64   `avro:"id" json:"id"`
	Customer    string  `avro:"customer" json:"customer"`
	AmountCents int64   `avro:"amount_cents" json:"amount_cents"`
	Currency    string  `avro:"currency" json:"currency"`
	Rate        float64 `avro:"rate" json:"rate"`
	Paid        bool    `avro:"paid" json:"paid"`
}

const benchOrderSchema = `{"type":"record","name":"BenchOrder","namespace":"shop","fields":[
	{"name":"id","type":"long"},{"name":"customer","type":"string"},{"name":"amount_cents","type":"long"},
	{"name":"currency","type":"string"},{"name":"rate","type":"double"},{"name":"paid","type":"boolean"}]}`

func benchSerdes(b *testing.B) (*testbroker.Broker, map[string]streams.Serde[benchOrder]) {
	broker, reg := startRegistry(b)
	avroSerde, err := streamserde.NewAvro[benchOrder](reg, "bench-value", benchOrderSchema, streamserde.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return broker, map[string]streams.Serde[benchOrder]{"avro": avroSerde, "json": statestore.JSON[benchOrder]{}}
}

func sampleOrder(i int) benchOrder {
	return benchOrder{ID: int64(i), Customer: fmt.Sprintf("customer-%d", i%1000), AmountCents: int64(i * 7), Currency: "EUR", Rate: 1.07, Paid: i%2 == 0}
}

// BenchmarkSerdeRoundTrip is one Serialize and one Deserialize of an order: the per-record cost a
// serde adds to a topology step that reads and writes it.
func BenchmarkSerdeRoundTrip(b *testing.B) {
	_, serdes := benchSerdes(b)
	for _, name := range []string{"avro", "json"} {
		s := serdes[name]
		b.Run(name, func(b *testing.B) {
			o := sampleOrder(42)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				enc, err := s.Serialize(o)
				if err != nil {
					b.Fatal(err)
				}
				size = len(enc)
				if _, err := s.Deserialize(enc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "bytes/record")
		})
	}
}

// BenchmarkTopologyAvroVsJSON runs Stream → MapValues → To over the same orders with each serde
// on an in-process broker (and registry), from the first input record to the last output record.
// 20,000 records per run keep it short on a shared machine.
func BenchmarkTopologyAvroVsJSON(b *testing.B) {
	const records = 20_000
	tb, serdes := benchSerdes(b)
	for _, name := range []string{"avro", "json"} {
		s := serdes[name]
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				in, out := fmt.Sprintf("orders-%s-%d", name, i), fmt.Sprintf("paid-%s-%d", name, i)
				bld := streams.NewBuilder()
				streams.MapValues(streams.Stream(bld, in, statestore.String{}, s), func(_ string, o benchOrder) benchOrder {
					o.Paid = true
					return o
				}, s).To(out, statestore.String{}, s)
				topo, err := bld.Build()
				if err != nil {
					b.Fatal(err)
				}
				d := streamstest.New(b, topo, streamstest.Options{Broker: tb, Timeout: time.Minute,
					Config: streams.Config{ApplicationID: fmt.Sprintf("bench-%s-%d-%d", name, b.N, i)}})
				recs := make([]streams.Record[string, benchOrder], records)
				for j := range recs {
					recs[j] = streams.Record[string, benchOrder]{Key: fmt.Sprint(j % 100), Value: sampleOrder(j), Timestamp: int64(1000 + j)}
				}
				start := time.Now()
				streamstest.Input(d, in, statestore.String{}, s).PipeRecords(recs...)
				got := streamstest.Output(d, out, statestore.String{}, s).ReadUntil(records)
				elapsed := time.Since(start)
				if len(got) != records || !got[records-1].Value.Paid {
					b.Fatalf("%d records out", len(got))
				}
				b.ReportMetric(records/elapsed.Seconds(), "records/s")
			}
		})
	}
}
