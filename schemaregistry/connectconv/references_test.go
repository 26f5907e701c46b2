package connectconv

import (
	"context"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestAvroAndProtobufConvertersReadSchemasWithReferences: records written (by another
// producer) with a schema that refers to another subject's schema — an Avro named type, a
// Protobuf import — read through the converters, the references fetched from the registry.
func TestAvroAndProtobufConvertersReadSchemasWithReferences(t *testing.T) {
	url := startRegistry(t)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	register := func(subject string, s sr.Schema) int {
		t.Helper()
		ss, err := cl.CreateSchema(ctx, subject, s)
		if err != nil {
			t.Fatalf("register %s: %v", subject, err)
		}
		return ss.ID
	}

	const money = `{"type":"record","name":"Money","namespace":"m","fields":[{"name":"cents","type":"long"}]}`
	const order = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"m.Money"}]}`
	register("money", sr.Schema{Schema: money})
	avroID := register("orders-value", sr.Schema{Schema: order, References: []sr.SchemaReference{{Name: "m.Money", Subject: "money", Version: 1}}})
	cache := &avro.SchemaCache{}
	if _, err := avro.ParseWithCache(money, "", cache); err != nil {
		t.Fatal(err)
	}
	orderSchema, err := avro.ParseWithCache(order, "", cache)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := avro.Marshal(orderSchema, map[string]any{"id": "o1", "total": map[string]any{"cents": int64(250)}})
	if err != nil {
		t.Fatal(err)
	}
	conv := newConverter(t, AvroConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	_, v, err := conv.ToConnect("orders", append(serde.AppendHeader(nil, uint32(avroID)), payload...))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(*connect.Struct).Get("total").(*connect.Struct).Get("cents"); got != int64(250) {
		t.Errorf("Avro total.cents %v", got)
	}

	register("common.proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package common; message Money { int64 cents = 1; }`})
	protoSchema := sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package shop; import "common.proto"; message Order { string id = 1; common.Money total = 2; }`,
		References: []sr.SchemaReference{{Name: "common.proto", Subject: "common.proto", Version: 1}}}
	protoID := register("porders-value", protoSchema)
	c, err := compiled.Compile(ctx, cl, protoSchema)
	if err != nil {
		t.Fatal(err)
	}
	md := c.Protobuf.Messages().Get(0)
	msg := dynamicpb.NewMessage(md)
	msg.Set(md.Fields().ByName("id"), protoreflect.ValueOfString("o2"))
	total := dynamicpb.NewMessage(md.Fields().ByName("total").Message())
	total.Set(total.Descriptor().Fields().ByName("cents"), protoreflect.ValueOfInt64(99))
	msg.Set(md.Fields().ByName("total"), protoreflect.ValueOfMessage(total))
	pb, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	pconv := newConverter(t, ProtobufConverterClass, false, map[string]string{ConfigSchemaRegistryURL: url})
	_, pv, err := pconv.ToConnect("porders", append(serde.AppendProtobufHeader(nil, uint32(protoID), []int{0}), pb...))
	if err != nil {
		t.Fatal(err)
	}
	if got := pv.(*connect.Struct).Get("total").(*connect.Struct).Get("cents"); got != int64(99) {
		t.Errorf("Protobuf total.cents %v", got)
	}
}
