package compiled_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/twmb/franz-go/pkg/sr"
)

// TestFetchCompilesEachFormatWithReferencesAndKnownDependencies, against a real registry: an
// Avro schema using a referenced record, a Protobuf schema importing a referenced file and
// Confluent's known dependencies (which the registry resolves without references), and a JSON
// Schema with a $ref to its reference; message indexes of a nested message; field_meta params;
// an unknown id keeps the registry's 40403.
func TestFetchCompilesEachFormatWithReferencesAndKnownDependencies(t *testing.T) {
	b := testbroker.Start(t)
	s, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{b.Addr()},
		Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	register := func(subject string, schema sr.Schema) int {
		t.Helper()
		ss, err := cl.CreateSchema(ctx, subject, schema)
		if err != nil {
			t.Fatalf("register %s: %v", subject, err)
		}
		return ss.ID
	}
	register("money", sr.Schema{Schema: `{"type":"record","name":"Money","namespace":"m","fields":[{"name":"cents","type":"long"}]}`})
	avroID := register("order-avro", sr.Schema{Schema: `{"type":"record","name":"Order","fields":[{"name":"total","type":"m.Money"}]}`,
		References: []sr.SchemaReference{{Name: "m.Money", Subject: "money", Version: 1}}})
	register("common.proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package common; message Id { string v = 1; }`})
	protoID := register("order-proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package shop;
import "common.proto"; import "confluent/meta.proto"; import "confluent/type/decimal.proto"; import "google/type/date.proto";
message Order {
  common.Id id = 1;
  confluent.type.Decimal amount = 2 [(confluent.field_meta) = { params: [{ key: "scale", value: "2" }] }];
  google.type.Date day = 3;
  message Line { string sku = 1; message Note { string text = 1; } }
}`, References: []sr.SchemaReference{{Name: "common.proto", Subject: "common.proto", Version: 1}}})
	register("addr.json", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`})
	jsonID := register("order-json", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"ship":{"$ref":"addr.json"}}}`,
		References: []sr.SchemaReference{{Name: "addr.json", Subject: "addr.json", Version: 1}}})

	a, err := compiled.Fetch(ctx, cl, avroID)
	if err != nil || a.Type != sr.TypeAvro || a.Avro == nil {
		t.Fatalf("Avro: %+v %v", a, err)
	}
	p, err := compiled.Fetch(ctx, cl, protoID)
	if err != nil || p.Protobuf == nil {
		t.Fatalf("Protobuf: %v", err)
	}
	idx, ok := compiled.MessageIndexes(p.Protobuf, "shop.Order.Line.Note")
	if !ok || !reflect.DeepEqual(idx, []int{0, 0, 0}) {
		t.Errorf("indexes of shop.Order.Line.Note: %v %v", idx, ok)
	}
	if md, err := compiled.MessageAt(p.Protobuf, idx); err != nil || md.FullName() != "shop.Order.Line.Note" {
		t.Errorf("MessageAt(%v): %v %v", idx, md, err)
	}
	if _, err := compiled.MessageAt(p.Protobuf, []int{0, 5}); err == nil {
		t.Error("MessageAt out of range succeeded")
	}
	amount := p.Protobuf.Messages().Get(0).Fields().ByName("amount")
	if got := compiled.FieldParams(amount); got["scale"] != "2" {
		t.Errorf("field_meta params %v", got)
	}
	j, err := compiled.Fetch(ctx, cl, jsonID)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.JSON.Validate(map[string]any{"ship": map[string]any{}}); err == nil {
		t.Error("the referenced schema's required city was not enforced")
	}
	_, err = compiled.Fetch(ctx, cl, 999)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != 40403 {
		t.Errorf("unknown id: %v", err)
	}
}
