package streamserde_test

import (
	"context"
	"testing"

	"github.com/gregor-streams/gregor/schemaregistry/streamserde"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestSerdesWriteSchemasWithReferences: an Avro record using a named type and a Protobuf message
// importing a file, each from another subject, register with Options.References and round-trip.
func TestSerdesWriteSchemasWithReferences(t *testing.T) {
	_, reg := startRegistry(t)
	ctx := context.Background()
	_, err := reg.Client().CreateSchema(ctx, "money", sr.Schema{Schema: `{"type":"record","name":"Money","namespace":"m","fields":[{"name":"cents","type":"long"}]}`})
	check(t, err)
	_, err = reg.Client().CreateSchema(ctx, "money.proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package m; message Money { int64 cents = 1; }`})
	check(t, err)

	a, err := streamserde.NewGenericAvro(reg, "priced-value", `{"type":"record","name":"Priced","fields":[{"name":"price","type":"m.Money"}]}`,
		streamserde.Options{References: []sr.SchemaReference{{Name: "m.Money", Subject: "money", Version: 1}}})
	check(t, err)
	b, err := a.Serialize(map[string]any{"price": map[string]any{"cents": int64(42)}})
	check(t, err)
	v, err := a.Deserialize(b)
	check(t, err)
	if v["price"].(map[string]any)["cents"] != int64(42) {
		t.Errorf("Avro with a reference read back %v", v)
	}

	p, err := streamserde.NewGenericProtobuf(reg, "priced-pb-value", `syntax = "proto3"; import "money.proto"; message Priced { m.Money price = 1; }`,
		streamserde.Options{References: []sr.SchemaReference{{Name: "money.proto", Subject: "money.proto", Version: 1}}})
	check(t, err)
	m := p.New()
	price := m.NewField(m.Descriptor().Fields().ByName("price")).Message()
	price.Set(price.Descriptor().Fields().ByName("cents"), protoreflect.ValueOfInt64(7))
	m.Set(m.Descriptor().Fields().ByName("price"), protoreflect.ValueOfMessage(price))
	pb, err := p.Serialize(m)
	check(t, err)
	got, err := p.Deserialize(pb)
	check(t, err)
	gp := got.Get(got.Descriptor().Fields().ByName("price")).Message()
	if gp.Get(gp.Descriptor().Fields().ByName("cents")).Int() != 7 {
		t.Errorf("Protobuf with a reference read back %v", got)
	}
}
