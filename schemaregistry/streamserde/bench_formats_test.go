package streamserde_test

import (
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry/streamserde"
	"github.com/gregor-streams/gregor/schemaregistry/streamserde/internal/testpb"
	"github.com/gregor-streams/gregor/statestore"
)

// roundTrip is one Serialize and one Deserialize of v, reporting the record's size.
func roundTrip[T any](b *testing.B, s statestore.Serde[T], v T) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		enc, err := s.Serialize(v)
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
		if _, err := s.Deserialize(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes/record")
}

// BenchmarkSerdeRoundTripByFormat is the per-record cost of each registry format on the same
// three-field order (a string, a long, a string), beside plain encoding/json.
func BenchmarkSerdeRoundTripByFormat(b *testing.B) {
	_, reg := startRegistry(b)
	type jsonOrder struct {
		Customer    string `json:"customer" avro:"customer"`
		AmountCents int64  `json:"amount_cents" avro:"amount_cents"`
		Currency    string `json:"currency" avro:"currency"`
	}
	v := jsonOrder{Customer: "customer-42", AmountCents: 294, Currency: "EUR"}
	b.Run("avro", func(b *testing.B) {
		s, err := streamserde.NewAvro[jsonOrder](reg, "bo-avro", orderV2, streamserde.Options{})
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(b, s, v)
	})
	b.Run("protobuf", func(b *testing.B) {
		s, err := streamserde.NewProtobuf[*testpb.Order](reg, "bo-pb", orderProto(b), streamserde.Options{})
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(b, s, &testpb.Order{Customer: v.Customer, AmountCents: v.AmountCents, Currency: v.Currency})
	})
	b.Run("jsonschema", func(b *testing.B) {
		s, err := streamserde.NewJSONSchema[jsonOrder](reg, "bo-js", `{"type":"object"}`, streamserde.Options{})
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(b, s, v)
	})
	b.Run("jsonschema-validate", func(b *testing.B) {
		s, err := streamserde.NewJSONSchema[jsonOrder](reg, "bo-jsv", `{"type":"object","properties":{"customer":{"type":"string"},"amount_cents":{"type":"integer"},"currency":{"type":"string"}},"required":["customer"]}`, streamserde.Options{Validate: true})
		if err != nil {
			b.Fatal(err)
		}
		roundTrip(b, s, v)
	})
	b.Run("json", func(b *testing.B) { roundTrip[jsonOrder](b, statestore.JSON[jsonOrder]{}, v) })
}
