package connectconv

import (
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzAvroSchemaToConnect: any Avro schema a registry could hand back maps to a Connect schema or
// an error, never a panic, and a mapped record schema's Avro form parses again.
func FuzzAvroSchemaToConnect(f *testing.F) {
	schema, _ := debeziumEnvelope(f)
	text, err := AvroSchema(schema)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text)
	f.Add(`["null","string"]`)
	f.Add(`{"type":"array","items":{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]}}`)
	f.Add(`{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}`)
	f.Fuzz(func(t *testing.T, text string) {
		parsed, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			return
		}
		cs, err := ConnectSchema(parsed)
		if err != nil {
			return
		}
		if _, err := AvroSchema(cs); err != nil {
			return // e.g. a Decimal scale Connect refuses
		}
	})
}

// FuzzAvroPayloadToConnect: arbitrary bytes under a fixed writer schema decode to Connect data or
// an error, never a panic.
func FuzzAvroPayloadToConnect(f *testing.F) {
	schema, rec := debeziumEnvelope(f)
	text, err := AvroSchema(schema)
	if err != nil {
		f.Fatal(err)
	}
	parsed := avro.MustParse(text)
	generic, err := toAvro(parsed, schema, rec)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := avro.Marshal(parsed, generic)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	cs, err := ConnectSchema(parsed)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if err := avroAPI.Unmarshal(parsed, b, &v); err != nil {
			return
		}
		_, _ = fromAvro(parsed, cs, v)
	})
}

// FuzzJSONSchemaToConnect: any JSON Schema document and payload map to Connect or an error,
// never a panic.
func FuzzJSONSchemaToConnect(f *testing.F) {
	schema, _ := debeziumEnvelope(f)
	text, err := JSONSchema(schema)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(text, `{"op":"c","after":{"id":1,"balance":1.5}}`)
	f.Add(`{"type":["null","integer"],"connect.type":"int8"}`, `300`)
	f.Fuzz(func(t *testing.T, schemaText, payload string) {
		doc, err := decodeNumbers([]byte(schemaText))
		if err != nil {
			return
		}
		cs, err := ConnectSchemaFromJSONSchema(doc)
		if err != nil {
			return
		}
		v, err := decodeNumbers([]byte(payload))
		if err != nil {
			return
		}
		if got, err := fromJSONValue(cs, v, 0); err == nil {
			_ = connect.ValidateValue(cs, got)
		}
	})
}

// FuzzProtobufPayloadToConnect: arbitrary bytes under a fixed message decode to Connect data or
// an error, never a panic.
func FuzzProtobufPayloadToConnect(f *testing.F) {
	inner := connect.NewStructSchema("x.In").Optional().Field("a", connect.OptionalStringSchema).Build()
	schema := connect.NewStructSchema("x.Out").Field("id", connect.Int64Schema).Field("in", inner).
		Field("tags", &connect.Schema{Type: connect.TypeArray, ValueSchema: connect.NewStructSchema("x.El").Field("b", connect.Int32Schema).Build(), Optional: true}).
		Field("m", &connect.Schema{Type: connect.TypeMap, KeySchema: connect.Int32Schema, ValueSchema: connect.StringSchema, Optional: true}).
		Field("at", connect.TimestampSchema()).Build()
	text, err := ProtobufSchema(schema)
	if err != nil {
		f.Fatal(err)
	}
	fd, err := compileProto(text)
	if err != nil {
		f.Fatal(err)
	}
	md := fd.Messages().Get(0)
	cs, err := connectFromProto(md, false, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0x08, 0x01, 0x12, 0x03, 0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(b, msg); err != nil {
			return
		}
		_, _ = fromProto(cs, msg)
	})
}
