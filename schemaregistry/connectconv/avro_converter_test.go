package connectconv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// startRegistry starts a broker and a registry on it and returns the registry's URL.
func startRegistry(t testing.TB) string {
	t.Helper()
	b := testbroker.Start(t)
	s, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{b.Addr()}, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

func newAvroConverter(t testing.TB, isKey bool, config map[string]string) connect.Converter {
	t.Helper()
	return newConverter(t, AvroConverterClass, isKey, config)
}

func newConverter(t testing.TB, class string, isKey bool, config map[string]string) connect.Converter {
	t.Helper()
	c, err := connect.NewConverter(class, config, isKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// debeziumEnvelope builds a Debezium-shaped change event: before/after share one optional Value
// struct with logical types, int8/int16, arrays, maps and optional fields; op and ts_ms beside.
func debeziumEnvelope(t testing.TB) (*connect.Schema, *connect.Struct) {
	dec := connect.DecimalSchema(2)
	dec.Parameters[DecimalPrecisionParameter] = "12"
	optDec := *dec
	optDec.Optional = true
	value := connect.NewStructSchema("srv.public.accounts.Value").Optional().
		Field("id", connect.Int64Schema).
		Field("balance", dec).
		Field("fee", &optDec).
		Field("small", &connect.Schema{Type: connect.TypeInt8}).
		Field("medium", &connect.Schema{Type: connect.TypeInt16}).
		Field("note", connect.OptionalStringSchema).
		Field("opened_on", connect.DateSchema()).
		Field("opens_at", connect.TimeSchema()).
		Field("changed", connect.TimestampSchema()).
		Field("ratio", &connect.Schema{Type: connect.TypeFloat64}).
		Field("weight", &connect.Schema{Type: connect.TypeFloat32, Optional: true}).
		Field("code", connect.OptionalBytesSchema).
		Field("tags", &connect.Schema{Type: connect.TypeArray, ValueSchema: connect.StringSchema}).
		Field("attrs", &connect.Schema{Type: connect.TypeMap, KeySchema: connect.StringSchema, ValueSchema: connect.Int32Schema, Optional: true}).
		Field("counts", &connect.Schema{Type: connect.TypeMap, KeySchema: connect.Int32Schema, ValueSchema: connect.StringSchema}).
		Field("zoned", &connect.Schema{Type: connect.TypeString, Name: "io.debezium.time.ZonedTimestamp", Version: 1, Optional: true}).
		Build()
	env := connect.NewStructSchema("srv.public.accounts.Envelope").
		Field("before", value).Field("after", value).
		Field("op", connect.StringSchema).
		Field("ts_ms", &connect.Schema{Type: connect.TypeInt64, Optional: true}).
		Build()
	after := connect.NewStruct(value)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(after.Put("id", int64(7)))
	must(after.Put("balance", big.NewRat(-12345, 100)))
	must(after.Put("small", int8(-3)))
	must(after.Put("medium", int16(300)))
	must(after.Put("note", "Zürich"))
	must(after.Put("opened_on", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)))
	must(after.Put("opens_at", time.UnixMilli(9*3600*1000+1).UTC()))
	must(after.Put("changed", time.UnixMilli(1_700_000_000_123).UTC()))
	must(after.Put("ratio", 0.25))
	must(after.Put("code", []byte{0, 1, 0xff}))
	must(after.Put("tags", []any{"a", "b"}))
	must(after.Put("counts", map[any]any{int32(1): "one", int32(2): "two"}))
	must(after.Put("zoned", "2024-02-29T10:00:00Z"))
	rec := connect.NewStruct(env)
	must(rec.Put("after", after))
	must(rec.Put("op", "c"))
	must(rec.Put("ts_ms", int64(1_700_000_000_000)))
	return env, rec
}

// TestAvroConverterRoundTripsADebeziumEnvelope: a change event with Connect's logical types,
// optional fields and nested structs comes back equal, with the same Connect schema names and
// parameters, through a real registry; franz-go's own sr client sees an Avro schema with the
// decimal logical type and Confluent's connect.* properties.
func TestAvroConverterRoundTripsADebeziumEnvelope(t *testing.T) {
	url := startRegistry(t)
	data := roundTripEnvelope(t, AvroConverterClass, url, "srv.public.accounts")
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), "srv.public.accounts-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"logicalType":"decimal"`, `"precision":12`, `"connect.type":"int16"`, `"logicalType":"timestamp-millis"`, `"connect.name":"io.debezium.time.ZonedTimestamp"`} {
		if !strings.Contains(ss.Schema.Schema, want) {
			t.Errorf("registered schema lacks %s:\n%s", want, ss.Schema.Schema)
		}
	}
	// Generic Avro decoding of the payload after the 5-byte header works with the registered schema.
	var generic map[string]any
	if err := avro.Unmarshal(avro.MustParse(ss.Schema.Schema), data[5:], &generic); err != nil {
		t.Fatalf("generic decode: %v", err)
	}
}

// TestAvroConverterSubjectNameStrategies: each strategy registers under its subject.
func TestAvroConverterSubjectNameStrategies(t *testing.T) {
	url := startRegistry(t)
	schema := connect.NewStructSchema("com.example.Order").Field("id", connect.Int64Schema).Build()
	rec := connect.NewStruct(schema)
	if err := rec.Put("id", int64(1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		isKey    bool
		strategy string
		subject  string
	}{
		{false, "", "orders-value"},
		{true, TopicNameStrategy, "orders-key"},
		{false, RecordNameStrategy, "com.example.Order"},
		{true, "TopicRecordNameStrategy", "orders-com.example.Order"},
	} {
		key := ConfigValueSubjectStrategy
		if c.isKey {
			key = ConfigKeySubjectNameStrategy
		}
		conv := newAvroConverter(t, c.isKey, map[string]string{ConfigSchemaRegistryURL: url, key: c.strategy})
		if _, err := conv.FromConnect("orders", schema, rec); err != nil {
			t.Fatalf("%s: %v", c.strategy, err)
		}
		cl, _ := sr.NewClient(sr.URLs(url))
		if _, err := cl.SchemaByVersion(context.Background(), c.subject, 1); err != nil {
			t.Errorf("strategy %q: subject %s: %v", c.strategy, c.subject, err)
		}
	}
	if _, err := connect.NewConverter(AvroConverterClass, map[string]string{ConfigSchemaRegistryURL: url, ConfigValueSubjectStrategy: "Nope"}, false); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}

// TestAvroConverterWithoutAutoRegisterLooksUpOrUsesLatest: auto.register.schemas=false refuses a
// schema the subject does not hold; use.latest.version=true writes with the subject's latest.
func TestAvroConverterWithoutAutoRegisterLooksUpOrUsesLatest(t *testing.T) {
	url := startRegistry(t)
	schema := connect.NewStructSchema("Order").Field("id", connect.Int64Schema).Build()
	rec := connect.NewStruct(schema)
	_ = rec.Put("id", int64(5))
	noReg := newAvroConverter(t, false, map[string]string{ConfigSchemaRegistryURL: url, ConfigAutoRegisterSchemas: "false"})
	if _, err := noReg.FromConnect("t", schema, rec); err == nil {
		t.Fatal("an unregistered schema was written without auto.register.schemas")
	}
	cl, _ := sr.NewClient(sr.URLs(url))
	// The subject's latest has an extra optional field with a default.
	latest := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`
	ss, err := cl.CreateSchema(context.Background(), "t-value", sr.Schema{Schema: latest})
	if err != nil {
		t.Fatal(err)
	}
	useLatest := newAvroConverter(t, false, map[string]string{ConfigSchemaRegistryURL: url, ConfigAutoRegisterSchemas: "false", ConfigUseLatestVersion: "true"})
	data, err := useLatest.FromConnect("t", schema, rec)
	if err != nil {
		t.Fatal(err)
	}
	_, v, err := useLatest.ToConnect("t", data)
	if err != nil {
		t.Fatal(err)
	}
	if id := int(data[4]); id != ss.ID || v.(*connect.Struct).Get("id") != int64(5) {
		t.Fatalf("id %d (want %d), value %v", id, ss.ID, v)
	}
}

func TestAvroConverterRejectsUnframedData(t *testing.T) {
	conv := newAvroConverter(t, false, map[string]string{ConfigSchemaRegistryURL: "http://127.0.0.1:1"})
	if _, _, err := conv.ToConnect("t", []byte(`{"plain":"json"}`)); err == nil {
		t.Fatal("unframed data decoded")
	}
	if _, err := connect.NewConverter(AvroConverterClass, map[string]string{}, false); err == nil {
		t.Fatal("configured without schema.registry.url")
	}
}

// roundTripEnvelope writes a Debezium envelope with one converter of class and reads it back with
// another (another task, no cache), checking values, names, optionality and parameters.
func roundTripEnvelope(t *testing.T, class, url, topic string) []byte {
	t.Helper()
	conv := newConverter(t, class, false, map[string]string{ConfigSchemaRegistryURL: url})
	schema, rec := debeziumEnvelope(t)
	data, err := conv.FromConnect(topic, schema, rec)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 0 {
		t.Fatalf("no magic byte: % x", data[:5])
	}
	back := newConverter(t, class, false, map[string]string{ConfigSchemaRegistryURL: url})
	gotSchema, gotValue, err := back.ToConnect(topic, data)
	if err != nil {
		t.Fatal(err)
	}
	after := gotValue.(*connect.Struct).Get("after").(*connect.Struct)
	want := rec.Get("after").(*connect.Struct)
	for _, f := range want.Schema.Fields {
		g, w := after.Get(f.Name), want.Get(f.Name)
		if r, ok := w.(*big.Rat); ok {
			if gr, ok := g.(*big.Rat); !ok || gr.Cmp(r) != 0 {
				t.Errorf("field %s: %v, want %v", f.Name, g, w)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s: %#v, want %#v", f.Name, g, w)
		}
	}
	if gotValue.(*connect.Struct).Get("before") != nil || gotValue.(*connect.Struct).Get("op") != "c" {
		t.Errorf("envelope: before %v op %v", gotValue.(*connect.Struct).Get("before"), gotValue.(*connect.Struct).Get("op"))
	}
	if gotSchema.Name != "srv.public.accounts.Envelope" {
		t.Errorf("schema name %q", gotSchema.Name)
	}
	vs := gotSchema.Field("after").Schema
	if !vs.Optional || vs.Name != "srv.public.accounts.Value" {
		t.Errorf("after schema: optional %v name %q", vs.Optional, vs.Name)
	}
	for i, f := range want.Schema.Fields {
		if gf := vs.Fields[i]; gf.Name != f.Name {
			t.Errorf("field %d is %s, want %s", i, gf.Name, f.Name)
		}
	}
	for name, wantSchema := range map[string]*connect.Schema{"balance": want.Schema.Field("balance").Schema, "zoned": want.Schema.Field("zoned").Schema,
		"small": want.Schema.Field("small").Schema, "opened_on": connect.DateSchema()} {
		g := vs.Field(name).Schema
		if g.Type != wantSchema.Type || g.Name != wantSchema.Name || g.Optional != wantSchema.Optional || !reflect.DeepEqual(g.Parameters, wantSchema.Parameters) {
			t.Errorf("field %s schema: %+v, want %+v", name, g, wantSchema)
		}
	}
	return data
}

// TestJSONSchemaConverterRoundTripsADebeziumEnvelope: the same change event through
// io.confluent.connect.json.JsonSchemaConverter; the registry holds a JSON Schema whose payload
// is plain JSON after the 5-byte header.
func TestJSONSchemaConverterRoundTripsADebeziumEnvelope(t *testing.T) {
	url := startRegistry(t)
	data := roundTripEnvelope(t, JSONSchemaConverterClass, url, "srv.public.accounts")
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), "srv.public.accounts-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Type != sr.TypeJSON || !strings.Contains(ss.Schema.Schema, `"connect.type":"int16"`) {
		t.Errorf("registered %s schema %s", ss.Type, ss.Schema.Schema)
	}
	if !strings.Contains(string(data[5:]), `"balance":-123.45`) {
		t.Errorf("payload %s", data[5:])
	}
}

// TestConvertersAreRegisteredWithConnect: the three class names (and short names) resolve in
// connect.NewConverter, a nil-config probe (what the config validators do) succeeds without
// schema.registry.url, and each lists its config keys for GET /connector-plugins/{class}/config.
func TestConvertersAreRegisteredWithConnect(t *testing.T) {
	for _, class := range []string{AvroConverterClass, "AvroConverter", JSONSchemaConverterClass, "JsonSchemaConverter", ProtobufConverterClass, "ProtobufConverter"} {
		c, err := connect.NewConverter(class, nil, false)
		if err != nil || c == nil {
			t.Errorf("%s: probe: %v", class, err)
			continue
		}
		if _, err := c.FromConnect("t", connect.StringSchema, "x"); err == nil {
			t.Errorf("%s: an unconfigured converter wrote a record", class)
		}
		def, ok := connect.ConverterConfigDef(class)
		if !ok {
			t.Errorf("%s: no config def", class)
			continue
		}
		if def.Key(ConfigSchemaRegistryURL) == nil {
			t.Errorf("%s: config def lacks %s", class, ConfigSchemaRegistryURL)
		}
	}
}

// TestConvertersRegisterOneSchemaUnderEachTopicsSubject: a converter writing the same Connect
// schema to two topics registers it under both topics' subjects (TopicNameStrategy), as
// Confluent's does; a schema rebuilt equal per record costs no new registration.
func TestConvertersRegisterOneSchemaUnderEachTopicsSubject(t *testing.T) {
	url := startRegistry(t)
	cl, _ := sr.NewClient(sr.URLs(url))
	for _, class := range []string{AvroConverterClass, JSONSchemaConverterClass, ProtobufConverterClass} {
		conv := newConverter(t, class, false, map[string]string{ConfigSchemaRegistryURL: url})
		schema := connect.NewStructSchema("Row").Field("id", connect.Int64Schema).Build()
		rec := connect.NewStruct(schema)
		_ = rec.Put("id", int64(1))
		for _, topic := range []string{"a-" + class, "b-" + class} {
			if _, err := conv.FromConnect(topic, schema, rec); err != nil {
				t.Fatalf("%s: %v", class, err)
			}
			if _, err := cl.SchemaByVersion(context.Background(), topic+"-value", 1); err != nil {
				t.Errorf("%s: subject %s-value: %v", class, topic, err)
			}
		}
		// An equal schema built anew: same id, still one version.
		again := connect.NewStructSchema("Row").Field("id", connect.Int64Schema).Build()
		rec2 := connect.NewStruct(again)
		_ = rec2.Put("id", int64(2))
		first, _ := conv.FromConnect("a-"+class, schema, rec)
		second, err := conv.FromConnect("a-"+class, again, rec2)
		if err != nil || !bytes.Equal(first[:5], second[:5]) {
			t.Errorf("%s: rebuilt schema: % x vs % x, %v", class, first[:5], second[:5], err)
		}
		if versions, _ := cl.SubjectVersions(context.Background(), "a-"+class+"-value"); len(versions) != 1 {
			t.Errorf("%s: versions %v", class, versions)
		}
	}
}
