package connectconv

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/sr"
)

// TestProtobufConverterRoundTripsNestedStructs: a struct with scalars, proto3 optional fields (set
// and unset), a nested message, repeated and map fields and a Timestamp goes through
// ProtobufConverter and a real registry and comes back equal; the registry holds a proto3 file and
// the record carries Confluent's message indexes.
func TestProtobufConverterRoundTripsNestedStructs(t *testing.T) {
	url := startRegistry(t)
	address := connect.NewStructSchema("shop.Address").Optional().
		Field("city", connect.StringSchema).Field("zip", &connect.Schema{Type: connect.TypeInt32, Optional: true}).Build()
	ts := connect.TimestampSchema()
	schema := connect.NewStructSchema("shop.Customer").
		Field("id", connect.Int64Schema).
		Field("name", connect.StringSchema).
		Field("nickname", connect.OptionalStringSchema).
		Field("score", &connect.Schema{Type: connect.TypeFloat64}).
		Field("vip", &connect.Schema{Type: connect.TypeBoolean, Optional: true}).
		Field("photo", connect.OptionalBytesSchema).
		Field("address", address).
		Field("tags", &connect.Schema{Type: connect.TypeArray, ValueSchema: connect.StringSchema, Optional: true}).
		Field("visits", &connect.Schema{Type: connect.TypeMap, KeySchema: connect.StringSchema, ValueSchema: connect.Int64Schema, Optional: true}).
		Field("joined", ts).
		Build()
	addr := connect.NewStruct(address)
	rec := connect.NewStruct(schema)
	for _, kv := range []struct {
		s *connect.Struct
		k string
		v any
	}{
		{addr, "city", "Zürich"}, {addr, "zip", int32(8001)},
		{rec, "id", int64(-7)}, {rec, "name", "Ada"}, {rec, "score", 0.5}, {rec, "vip", false},
		{rec, "photo", []byte{0, 1, 2}}, {rec, "address", addr}, {rec, "tags", []any{"a", "b"}},
		{rec, "visits", map[any]any{"mon": int64(2)}}, {rec, "joined", time.UnixMilli(-1_500).UTC()},
	} {
		if err := kv.s.Put(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	conv := newConverter(t, ProtobufConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	data, err := conv.FromConnect("customers", schema, rec)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 0 || data[5] != 0 {
		t.Fatalf("header % x: want magic byte and message indexes [0]", data[:6])
	}
	back := newConverter(t, ProtobufConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	gotSchema, got, err := back.ToConnect("customers", data)
	if err != nil {
		t.Fatal(err)
	}
	gs := got.(*connect.Struct)
	for _, f := range schema.Fields {
		g, w := gs.Get(f.Name), rec.Get(f.Name)
		if f.Name == "address" {
			ga := g.(*connect.Struct)
			if ga.Get("city") != "Zürich" || ga.Get("zip") != int32(8001) {
				t.Errorf("address %v %v", ga.Get("city"), ga.Get("zip"))
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s: %#v, want %#v", f.Name, g, w)
		}
	}
	if gotSchema.Name != "shop.Customer" || !gotSchema.Field("nickname").Schema.Optional || gotSchema.Field("name").Schema.Optional ||
		gotSchema.Field("joined").Schema.Name != connect.TimestampSchemaName {
		t.Errorf("schema %+v", gotSchema)
	}
	cl, _ := sr.NewClient(sr.URLs(url))
	ss, err := cl.SchemaByVersion(context.Background(), "customers-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Type != sr.TypeProtobuf || !strings.Contains(ss.Schema.Schema, "optional string nickname = 3;") ||
		!strings.Contains(ss.Schema.Schema, "map<string, int64> visits") || !strings.Contains(ss.Schema.Schema, "google.protobuf.Timestamp joined") {
		t.Errorf("registered %s:\n%s", ss.Type, ss.Schema.Schema)
	}
}
