package connectconv

import (
	"context"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestProtobufConverterRoundTripsADebeziumEnvelopeWithLogicalTypes: a Debezium change event goes
// through ProtobufConverter and a real registry and comes back with equal values and Connect
// schemas: Decimal as confluent.type.Decimal (scale and precision in confluent.field_meta), Date
// as google.type.Date, Time as google.type.TimeOfDay, Timestamp as google.protobuf.Timestamp,
// int8/int16 kept by connect.type, before null. The record's Decimal message carries Confluent's
// unscaled bytes, precision and scale, read back here with the registry's own schema.
func TestProtobufConverterRoundTripsADebeziumEnvelopeWithLogicalTypes(t *testing.T) {
	url := startRegistry(t)
	schema, rec := debeziumEnvelope(t)
	conv := newConverter(t, ProtobufConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	data, err := conv.FromConnect("srv.public.accounts", schema, rec)
	if err != nil {
		t.Fatal(err)
	}
	back := newConverter(t, ProtobufConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	gotSchema, gotValue, err := back.ToConnect("srv.public.accounts", data)
	if err != nil {
		t.Fatal(err)
	}
	env := gotValue.(*connect.Struct)
	if env.Get("before") != nil || env.Get("op") != "c" || env.Get("ts_ms") != int64(1_700_000_000_000) {
		t.Errorf("envelope: before %v op %v ts_ms %v", env.Get("before"), env.Get("op"), env.Get("ts_ms"))
	}
	after, want := env.Get("after").(*connect.Struct), rec.Get("after").(*connect.Struct)
	for _, f := range want.Schema.Fields {
		g, w := after.Get(f.Name), want.Get(f.Name)
		switch x := w.(type) {
		case *big.Rat:
			if gr, ok := g.(*big.Rat); !ok || gr.Cmp(x) != 0 {
				t.Errorf("field %s: %v, want %v", f.Name, g, w)
			}
			continue
		case nil:
			if m, ok := g.(map[any]any); ok && len(m) == 0 {
				continue // Protobuf has no null map: an unset map reads as empty, as in Confluent's converter
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s: %#v, want %#v", f.Name, g, w)
		}
	}
	vs := gotSchema.Field("after").Schema
	for name, w := range map[string]struct {
		typ    connect.Type
		name   string
		params map[string]string
	}{
		"balance":   {connect.TypeBytes, connect.DecimalSchemaName, map[string]string{"scale": "2", DecimalPrecisionParameter: "12"}},
		"fee":       {connect.TypeBytes, connect.DecimalSchemaName, map[string]string{"scale": "2", DecimalPrecisionParameter: "12"}},
		"opened_on": {connect.TypeInt32, connect.DateSchemaName, nil},
		"opens_at":  {connect.TypeInt32, connect.TimeSchemaName, nil},
		"changed":   {connect.TypeInt64, connect.TimestampSchemaName, nil},
		"small":     {connect.TypeInt8, "", nil},
		"medium":    {connect.TypeInt16, "", nil},
	} {
		g := vs.Field(name).Schema
		if g.Type != w.typ || g.Name != w.name || (w.params != nil && !reflect.DeepEqual(g.Parameters, w.params)) {
			t.Errorf("field %s schema %+v, want %s %s %v", name, g, w.typ, w.name, w.params)
		}
	}

	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), "srv.public.accounts-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`import "confluent/type/decimal.proto";`, `import "google/type/date.proto";`, `import "google/type/timeofday.proto";`,
		`confluent.type.Decimal balance = 2 [(confluent.field_meta) = { params: [{ key: "precision", value: "12" }, { key: "scale", value: "2" }] }];`,
		"google.type.Date opened_on", "google.type.TimeOfDay opens_at", "google.protobuf.Timestamp changed"} {
		if !strings.Contains(ss.Schema.Schema, w) {
			t.Errorf("registered schema lacks %s:\n%s", w, ss.Schema.Schema)
		}
	}
	// The Decimal message as Confluent's DecimalUtils writes it: -123.45 is unscaled -12345
	// (two's complement cf c7), precision 5, scale 2.
	c, err := compiled.Fetch(context.Background(), cl, ss.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, indexes, payload, err := serde.DecodeProtobuf(data)
	if err != nil {
		t.Fatal(err)
	}
	md, err := compiled.MessageAt(c.Protobuf, indexes)
	if err != nil {
		t.Fatal(err)
	}
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, msg); err != nil {
		t.Fatal(err)
	}
	afterMsg := msg.Get(md.Fields().ByName("after")).Message()
	bal := afterMsg.Get(afterMsg.Descriptor().Fields().ByName("balance")).Message()
	bf := bal.Descriptor().Fields()
	if v, p, s := bal.Get(bf.ByName("value")).Bytes(), bal.Get(bf.ByName("precision")).Uint(), bal.Get(bf.ByName("scale")).Int(); !reflect.DeepEqual(v, []byte{0xcf, 0xc7}) || p != 5 || s != 2 {
		t.Errorf("balance Decimal: value % x precision %d scale %d, want cf c7, 5, 2", v, p, s)
	}
	date := afterMsg.Get(afterMsg.Descriptor().Fields().ByName("opened_on")).Message()
	df := date.Descriptor().Fields()
	if date.Get(df.ByName("year")).Int() != 2024 || date.Get(df.ByName("month")).Int() != 2 || date.Get(df.ByName("day")).Int() != 29 {
		t.Errorf("opened_on Date %v", date)
	}
}
