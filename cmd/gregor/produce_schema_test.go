package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// startTestRegistry starts a Schema Registry on the broker at bootstrap and returns its URL and a
// client of it.
func startTestRegistry(t *testing.T, bootstrap string) (string, *sr.Client) {
	t.Helper()
	reg, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{bootstrap},
		Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg.URL(), cl
}

func registerSchema(t *testing.T, cl *sr.Client, subject string, s sr.Schema) int {
	t.Helper()
	ss, err := cl.CreateSchema(context.Background(), subject, s)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss.ID
}

// rawValues reads n records of topic from the start as franz-go gives them.
func rawRecords(t *testing.T, bootstrap, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		out = append(out, fs.Records()...)
	}
	if len(out) < n {
		t.Fatalf("%s: read %d records, want %d", topic, len(out), n)
	}
	return out
}

const cliOrderAvro = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"long"},{"name":"customer","type":"string"},
	{"name":"note","type":["null","string"],"default":null}]}`

type cliOrder struct {
	ID       int64   `avro:"id"`
	Customer string  `avro:"customer"`
	Note     *string `avro:"note"`
}

const cliOrderProto = `syntax = "proto3";
package shop;
message Order { int64 id = 1; string customer = 2; Line line = 3; }
message Line { string sku = 1; }`

// TestProduceEncodesWithRegistrySchemasAndConsumeDecodes is issue 14's console producer and
// consumer: JSON lines encoded with a registry schema id (Avro key and value, Protobuf, JSON
// Schema), decoded by franz-go's pkg/sr Serde — proving the bytes are Confluent's framing,
// Protobuf message indexes included — and by `gregor consume --schema-registry-url` back to JSON.
func TestProduceEncodesWithRegistrySchemasAndConsumeDecodes(t *testing.T) {
	bs := startTestCluster(t)
	url, cl := startTestRegistry(t, bs)
	keyID := registerSchema(t, cl, "orders-avro-key", sr.Schema{Schema: `"string"`})
	avroID := registerSchema(t, cl, "orders-avro-value", sr.Schema{Schema: cliOrderAvro})
	protoID := registerSchema(t, cl, "orders-proto-value", sr.Schema{Type: sr.TypeProtobuf, Schema: cliOrderProto})
	jsonID := registerSchema(t, cl, "orders-json-value", sr.Schema{Type: sr.TypeJSON,
		Schema: `{"type":"object","properties":{"id":{"type":"integer"},"customer":{"type":"string"}},"required":["id"]}`})
	for _, topic := range []string{"orders-avro", "orders-proto", "orders-json"} {
		mustGregor(t, "", "topics", "create", "--topic", topic, "--partitions", "1", "-b", bs)
	}

	// Avro key and value, flags as Gregor spells them; a tombstone stays null.
	mustGregor(t, `"k1"|{"id":1,"customer":"ada","note":{"string":"gift"}}`+"\n"+`"k2"|{"id":2,"customer":"bob"}`+"\n"+`"k3"|NULL`+"\n",
		"produce", "--topic", "orders-avro", "-b", bs, "--schema-registry-url", url,
		"--key-separator", "|", "--key-schema-id", fmt.Sprint(keyID), "--value-schema-id", fmt.Sprint(avroID), "--null-marker", "NULL")
	// Protobuf and JSON Schema, the second as Confluent's console producer's properties.
	mustGregor(t, `{"id":"3","customer":"cy","line":{"sku":"X1"}}`+"\n", "produce", "--topic", "orders-proto", "-b", bs,
		"--schema-registry-url", url, "--value-schema-id", fmt.Sprint(protoID))
	mustGregor(t, `{"id": 4, "customer": "dee"}`+"\n", "produce", "--topic", "orders-json", "-b", bs,
		"--property", "schema.registry.url="+url, "--property", fmt.Sprintf("value.schema.id=%d", jsonID))

	// franz-go's Serde reads what was written.
	serde := sr.NewSerde()
	avroSchema := avro.MustParse(cliOrderAvro)
	serde.Register(avroID, cliOrder{}, sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(avroSchema, b, v) }))
	serde.Register(keyID, "", sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(avro.MustParse(`"string"`), b, v) }))
	files, err := (&protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{"o.proto": cliOrderProto})}}).Compile(t.Context(), "o.proto")
	if err != nil {
		t.Fatal(err)
	}
	orderMD := files[0].Messages().Get(0)
	serde.Register(protoID, &dynamicpb.Message{}, sr.Index(0), sr.DecodeFn(func(b []byte, v any) error {
		return proto.Unmarshal(b, v.(*dynamicpb.Message))
	}))
	serde.Register(jsonID, map[string]any{}, sr.DecodeFn(func(b []byte, v any) error { return json.Unmarshal(b, v) }))

	avroRecs := rawRecords(t, bs, "orders-avro", 3)
	var o cliOrder
	var key string
	if err := serde.Decode(avroRecs[0].Value, &o); err != nil || o.ID != 1 || o.Customer != "ada" || o.Note == nil || *o.Note != "gift" {
		t.Errorf("Avro value read by sr.Serde: %+v, %v", o, err)
	}
	if err := serde.Decode(avroRecs[0].Key, &key); err != nil || key != "k1" {
		t.Errorf("Avro key read by sr.Serde: %q, %v", key, err)
	}
	if avroRecs[2].Value != nil {
		t.Errorf("tombstone value %q, want null", avroRecs[2].Value)
	}
	msg := dynamicpb.NewMessage(orderMD)
	if err := serde.Decode(rawRecords(t, bs, "orders-proto", 1)[0].Value, msg); err != nil ||
		msg.Get(orderMD.Fields().ByName("id")).Int() != 3 || msg.Get(orderMD.Fields().ByName("line")).Message().Get(orderMD.Fields().ByName("line").Message().Fields().ByName("sku")).String() != "X1" {
		t.Errorf("Protobuf value read by sr.Serde: %v, %v", msg, err)
	}
	var doc map[string]any
	if err := serde.Decode(rawRecords(t, bs, "orders-json", 1)[0].Value, &doc); err != nil || doc["customer"] != "dee" {
		t.Errorf("JSON Schema value read by sr.Serde: %v, %v", doc, err)
	}

	// gregor consume decodes through the registry, by the id in each frame.
	r := mustGregor(t, "", "consume", "--topic", "orders-avro", "--from-beginning", "--max-messages", "3", "--print-key", "-b", bs, "--schema-registry-url", url)
	want := `"k1"` + "\t" + `{"id":1,"customer":"ada","note":{"string":"gift"}}` + "\n" +
		`"k2"` + "\t" + `{"id":2,"customer":"bob","note":null}` + "\n" +
		`"k3"` + "\tnull\n"
	if r.stdout != want {
		t.Errorf("consume Avro:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = mustGregor(t, "", "consume", "--topic", "orders-proto", "--from-beginning", "--max-messages", "1", "-b", bs, "--schema-registry-url", url)
	if r.stdout != `{"id":"3","customer":"cy","line":{"sku":"X1"}}`+"\n" {
		t.Errorf("consume Protobuf: %s", r.stdout)
	}
	r = mustGregor(t, "", "consume", "--topic", "orders-json", "--from-beginning", "--max-messages", "1", "-b", bs, "--schema-registry-url", url)
	if r.stdout != `{"id":4,"customer":"dee"}`+"\n" {
		t.Errorf("consume JSON Schema: %q", r.stdout)
	}
}

// TestProduceWithSchemaIDErrorsNameTheProblem: an unknown id fails before any record with the
// registry's 40403 message; a value that does not fit names the line and the field and writes
// nothing of that line; a consumer of unframed values names the record.
func TestProduceWithSchemaIDErrorsNameTheProblem(t *testing.T) {
	bs := startTestCluster(t)
	url, cl := startTestRegistry(t, bs)
	id := registerSchema(t, cl, "t-value", sr.Schema{Schema: cliOrderAvro})
	mustGregor(t, "", "topics", "create", "--topic", "t", "--partitions", "1", "-b", bs)

	r := gregor(t, `{"id":1,"customer":"a"}`+"\n", "produce", "--topic", "t", "-b", bs, "--schema-registry-url", url, "--value-schema-id", "4242")
	if r.err == nil || !strings.Contains(r.err.Error(), "40403") || !strings.Contains(r.err.Error(), "Schema 4242 not found") {
		t.Errorf("unknown id: %v, want the registry's 40403 message", r.err)
	}
	r = gregor(t, `{"id":1,"customer":"a"}`+"\n"+`{"id":"two","customer":"b"}`+"\n", "produce", "--topic", "t", "-b", bs,
		"--schema-registry-url", url, "--value-schema-id", fmt.Sprint(id))
	if r.err == nil || !strings.Contains(r.err.Error(), "line 2") || !strings.Contains(r.err.Error(), "field /id") || !strings.Contains(r.err.Error(), "want a long") {
		t.Errorf("bad value: %v, want line 2 and field /id named", r.err)
	}
	r = gregor(t, "", "produce", "--topic", "t", "-b", bs, "--key-schema-id", fmt.Sprint(id), "--schema-registry-url", url)
	if r.err == nil || !strings.Contains(r.err.Error(), "--key-separator") {
		t.Errorf("key schema without keys: %v", r.err)
	}

	mustGregor(t, "plain text\n", "produce", "--topic", "t", "-b", bs)
	r = gregor(t, "", "consume", "--topic", "t", "--from-beginning", "--max-messages", "2", "-b", bs, "--schema-registry-url", url)
	if r.err == nil || !strings.Contains(r.err.Error(), "offset 1") || !strings.Contains(r.err.Error(), "Confluent wire format") {
		t.Errorf("unframed value: %v\nstdout %q", r.err, r.stdout)
	}
	if r.stdout != `{"id":1,"customer":"a","note":null}`+"\n" {
		t.Errorf("records before the bad one: %q", r.stdout)
	}
}

// TestProduceRegistersTheGivenSchemaUnderTheTopicsSubject: as kafka-avro-console-producer's
// value.schema, a schema given as text (or file, any type) is registered under <topic>-value (and
// <topic>-key) and the lines are encoded with it; the same schema again reuses its id; with
// auto.register.schemas=false an unregistered schema is refused with the registry's error.
func TestProduceRegistersTheGivenSchemaUnderTheTopicsSubject(t *testing.T) {
	bs := startTestCluster(t)
	url, cl := startTestRegistry(t, bs)
	for _, topic := range []string{"a", "p"} {
		mustGregor(t, "", "topics", "create", "--topic", topic, "--partitions", "1", "-b", bs)
	}
	for range 2 {
		mustGregor(t, `"k"|{"id":1,"customer":"ada"}`+"\n", "produce", "--topic", "a", "-b", bs, "--key-separator", "|",
			"--property", "schema.registry.url="+url, "--property", "value.schema="+cliOrderAvro, "--property", `key.schema="string"`)
	}
	protoFile := t.TempDir() + "/order.proto"
	if err := os.WriteFile(protoFile, []byte(cliOrderProto), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGregor(t, `{"id":"5","line":{"sku":"Z"}}`+"\n", "produce", "--topic", "p", "-b", bs, "--schema-registry-url", url,
		"--value-schema-file", protoFile, "--schema-type", "protobuf")

	ctx := t.Context()
	for subject, want := range map[string]sr.SchemaType{"a-value": sr.TypeAvro, "a-key": sr.TypeAvro, "p-value": sr.TypeProtobuf} {
		versions, err := cl.SubjectVersions(ctx, subject)
		if err != nil || len(versions) != 1 {
			t.Errorf("%s: versions %v, %v (want one: the second run reuses the schema)", subject, versions, err)
			continue
		}
		if ss, err := cl.SchemaByVersion(ctx, subject, 1); err != nil || ss.Type != want {
			t.Errorf("%s: %v %v", subject, ss.Type, err)
		}
	}
	r := mustGregor(t, "", "consume", "--topic", "a", "--from-beginning", "--max-messages", "2", "--print-key", "-b", bs, "--schema-registry-url", url)
	if want := "\"k\"\t{\"id\":1,\"customer\":\"ada\",\"note\":null}\n"; r.stdout != want+want {
		t.Errorf("consume: %q", r.stdout)
	}
	r = mustGregor(t, "", "consume", "--topic", "p", "--from-beginning", "--max-messages", "1", "-b", bs, "--schema-registry-url", url)
	if r.stdout != `{"id":"5","line":{"sku":"Z"}}`+"\n" {
		t.Errorf("consume Protobuf: %q", r.stdout)
	}
	r = gregor(t, `{"x":1}`+"\n", "produce", "--topic", "a", "-b", bs, "--schema-registry-url", url, "--property", "auto.register.schemas=false",
		"--value-schema", `{"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]}`)
	if r.err == nil || !strings.Contains(r.err.Error(), "subject a-value") || !strings.Contains(r.err.Error(), "40403") {
		t.Errorf("lookup of an unregistered schema: %v", r.err)
	}
}
