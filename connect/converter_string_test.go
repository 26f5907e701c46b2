package connect_test

import (
	"math/big"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

// A Struct through the String converter reads as Kafka's Struct.toString, nested values included,
// not as Go pointer text.
func TestStringConverterWritesStructsMapsAndArraysAsKafkaToString(t *testing.T) {
	source := connect.NewStructSchema("source").Field("table", connect.StringSchema).Build()
	row := connect.NewStructSchema("row").
		Field("id", connect.Int32Schema).
		Field("name", connect.OptionalStringSchema).
		Field("price", connect.DecimalSchema(2)).
		Field("tags", &connect.Schema{Type: connect.TypeArray, ValueSchema: connect.StringSchema}).
		Field("attrs", &connect.Schema{Type: connect.TypeMap, KeySchema: connect.StringSchema, ValueSchema: connect.Int64Schema}).
		Field("note", connect.OptionalStringSchema).Build()
	envelope := connect.NewStructSchema("envelope").
		Field("before", &connect.Schema{Type: connect.TypeStruct, Optional: true, Fields: row.Fields}).
		Field("after", row).
		Field("source", source).
		Field("op", connect.StringSchema).Build()

	r := connect.NewStruct(row)
	src := connect.NewStruct(source)
	env := connect.NewStruct(envelope)
	for _, put := range []struct {
		s     *connect.Struct
		field string
		value any
	}{
		{r, "id", int32(1)}, {r, "name", "apples"}, {r, "price", big.NewRat(3, 2)},
		{r, "tags", []any{"fruit", "red"}}, {r, "attrs", map[any]any{"stock": int64(7), "aisle": int64(3)}},
		{src, "table", "items"}, {env, "after", r}, {env, "source", src}, {env, "op", "c"},
	} {
		if err := put.s.Put(put.field, put.value); err != nil {
			t.Fatalf("Put %s: %v", put.field, err)
		}
	}
	c, err := connect.NewConverter(connect.StringConverterClass, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		schema *connect.Schema
		value  any
		want   string
	}{
		{"struct", envelope, env, "Struct{after=Struct{id=1,name=apples,price=1.50,tags=[fruit, red],attrs={aisle=3, stock=7}},source=Struct{table=items},op=c}"},
		{"schemaless map", nil, map[string]any{"b": []any{1.5, true}, "a": nil}, "{a=null, b=[1.5, true]}"},
		{"int", connect.Int64Schema, int64(42), "42"},
		{"string", connect.StringSchema, "as is", "as is"},
	} {
		got, err := c.FromConnect("t", tc.schema, tc.value)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if got := env.String(); got != "Struct{after=Struct{id=1,name=apples,price=1.50,tags=[fruit, red],attrs={aisle=3, stock=7}},source=Struct{table=items},op=c}" {
		t.Errorf("Struct.String() = %q", got)
	}
}
