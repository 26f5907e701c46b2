package recordjson_test

import (
	"context"
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry/recordjson"
	"github.com/twmb/franz-go/pkg/sr"
)

// BenchmarkEncodeDecode is what `gregor produce --value-schema-id` and `gregor consume
// --schema-registry-url` add per record: JSON text to a framed record and back, the schema cached.
func BenchmarkEncodeDecode(b *testing.B) {
	cl := startRegistry(b)
	c := recordjson.New(cl)
	for _, tc := range []struct {
		name string
		s    sr.Schema
		text string
	}{
		{"avro", sr.Schema{Schema: `{"type":"record","name":"O","fields":[{"name":"customer","type":"string"},{"name":"amount_cents","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`},
			`{"customer":"customer-42","amount_cents":294,"note":{"string":"gift"}}`},
		{"protobuf", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; message O { string customer = 1; int64 amount_cents = 2; string note = 3; }`},
			`{"customer":"customer-42","amount_cents":"294","note":"gift"}`},
		{"jsonschema", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"customer":{"type":"string"},"amount_cents":{"type":"integer"}}}`},
			`{"customer":"customer-42","amount_cents":294,"note":"gift"}`},
	} {
		id := register(b, cl, "bench-"+tc.name, tc.s)
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				framed, err := c.Encode(ctx, id, []byte(tc.text))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Decode(ctx, framed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
