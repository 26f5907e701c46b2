package connect_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

func jsonConv(t *testing.T, schemas bool) connect.Converter {
	t.Helper()
	enable := "false"
	if schemas {
		enable = "true"
	}
	c, err := connect.NewConverter(connect.JSONConverterClass, map[string]string{"schemas.enable": enable}, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJSONConverterWritesKafkaEnvelope(t *testing.T) {
	arr := &connect.Schema{Type: connect.TypeArray, ValueSchema: connect.Int32Schema}
	mp := &connect.Schema{Type: connect.TypeMap, KeySchema: connect.StringSchema, ValueSchema: connect.BooleanSchema}
	intKeyed := &connect.Schema{Type: connect.TypeMap, KeySchema: connect.Int32Schema, ValueSchema: connect.StringSchema}
	cases := []struct {
		name   string
		schema *connect.Schema
		value  any
		want   string
	}{
		{"string", connect.StringSchema, "hi", `{"schema":{"type":"string","optional":false},"payload":"hi"}`},
		{"int64", connect.Int64Schema, int64(42), `{"schema":{"type":"int64","optional":false},"payload":42}`},
		{"bytes are base64", connect.OptionalBytesSchema, []byte("hi"), `{"schema":{"type":"bytes","optional":true},"payload":"aGk="}`},
		{"array", arr, []any{int32(1), int32(2)}, `{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2]}`},
		{"string map is an object", mp, map[any]any{"a": true}, `{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"boolean","optional":false},"optional":false},"payload":{"a":true}}`},
		{"other maps are pairs", intKeyed, map[any]any{int32(1): "x"}, `{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":false},"optional":false},"payload":[[1,"x"]]}`},
		{"optional null", connect.OptionalStringSchema, nil, `{"schema":{"type":"string","optional":true},"payload":null}`},
		{"schemaless", nil, map[string]any{"a": int64(1)}, `{"schema":null,"payload":{"a":1}}`},
	}
	c := jsonConv(t, true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.FromConnect("t", tc.schema, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if tc.schema == nil {
				return
			}
			s, v, err := c.ToConnect("t", got)
			if err != nil {
				t.Fatal(err)
			}
			if s.Type != tc.schema.Type || !reflect.DeepEqual(v, tc.value) {
				t.Fatalf("round trip = %v %#v, want %v %#v", s.Type, v, tc.schema.Type, tc.value)
			}
		})
	}
}

func TestJSONConverterStructRoundTrip(t *testing.T) {
	schema := connect.NewStructSchema("com.example.Person").
		Field("name", connect.StringSchema).
		Field("age", &connect.Schema{Type: connect.TypeInt8, Optional: true}).
		Field("score", &connect.Schema{Type: connect.TypeFloat64}).Build()
	v := connect.NewStruct(schema)
	for k, val := range map[string]any{"name": "Ada", "age": int8(36), "score": 1.5} {
		if err := v.Put(k, val); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Put("age", "old"); !errors.Is(err, connect.ErrDataInvalid) {
		t.Fatalf("Put wrong type = %v", err)
	}
	c := jsonConv(t, true)
	data, err := c.FromConnect("t", schema, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"name"},{"type":"int8","optional":true,"field":"age"},{"type":"double","optional":false,"field":"score"}],"optional":false,"name":"com.example.Person"},"payload":{"name":"Ada","age":36,"score":1.5}}`
	if string(data) != want {
		t.Fatalf("got  %s\nwant %s", data, want)
	}
	s, back, err := c.ToConnect("t", data)
	if err != nil {
		t.Fatal(err)
	}
	st := back.(*connect.Struct)
	if s.Name != "com.example.Person" || st.Get("name") != "Ada" || st.Get("age") != int8(36) || st.Get("score") != 1.5 {
		t.Fatalf("round trip = %+v %+v", s, st)
	}
}

func TestJSONConverterRejectsPlainJSONWhenSchemasEnabled(t *testing.T) {
	_, _, err := jsonConv(t, true).ToConnect("t", []byte(`{"a":1}`))
	if !errors.Is(err, connect.ErrDataInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{`{"schema":{"type":"int8"},"payload":300}`, `{"schema":{"type":"nope"},"payload":1}`, `{"schema":{"type":"int32"},"payload":null}`, `not json`} {
		if _, _, err := jsonConv(t, true).ToConnect("t", []byte(bad)); !errors.Is(err, connect.ErrDataInvalid) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestJSONConverterSchemalessIsPlainJSON(t *testing.T) {
	c := jsonConv(t, false)
	s, v, err := c.ToConnect("t", []byte(`{"a":[1,2.5,"x",true,null]}`))
	if err != nil || s != nil {
		t.Fatal(s, err)
	}
	want := map[any]any{"a": []any{int64(1), 2.5, "x", true, nil}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	out, err := c.FromConnect("t", nil, v)
	if err != nil || string(out) != `{"a":[1,2.5,"x",true,null]}` {
		t.Fatalf("got %s %v", out, err)
	}
	if out, _ := c.FromConnect("t", nil, nil); out != nil {
		t.Fatalf("tombstone = %q", out)
	}
}

func TestStringAndByteArrayConverters(t *testing.T) {
	sc, _ := connect.NewConverter(connect.StringConverterClass, nil, true)
	if b, _ := sc.FromConnect("t", nil, int64(7)); string(b) != "7" {
		t.Fatalf("string converter = %q", b)
	}
	if s, v, _ := sc.ToConnect("t", []byte("x")); s.Type != connect.TypeString || v != "x" {
		t.Fatalf("string to connect = %v %v", s, v)
	}
	bc, _ := connect.NewConverter(connect.ByteArrayConverterClass, nil, false)
	if _, err := bc.FromConnect("t", connect.StringSchema, "x"); !errors.Is(err, connect.ErrDataInvalid) {
		t.Fatalf("byte array converter accepted a string: %v", err)
	}
	if s, v, _ := bc.ToConnect("t", []byte{1}); s.Type != connect.TypeBytes || !reflect.DeepEqual(v, []byte{1}) {
		t.Fatalf("bytes to connect = %v %v", s, v)
	}
	if _, err := connect.NewConverter("com.example.Nope", nil, false); !errors.Is(err, connect.ErrUnknownConverter) {
		t.Fatalf("unknown converter err = %v", err)
	}
}

func FuzzJSONConverterToConnect(f *testing.F) {
	for _, s := range []string{`{"schema":{"type":"map","keys":{"type":"array","items":{"type":"int8"}},"values":{"type":"string"}},"payload":[[[1],"x"]]}`,
		`{"schema":{"type":"struct","fields":[{"field":"a","type":"bytes"}]},"payload":{"a":"AA=="}}`, `{"a":1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, schemas := range []bool{true, false} {
			c := &connect.JSONConverter{SchemasEnable: schemas}
			s, v, err := c.ToConnect("t", data)
			if err != nil {
				continue
			}
			if !json.Valid(data) {
				t.Fatalf("schemas.enable=%v accepted invalid JSON %q", schemas, data)
			}
			if _, err := c.FromConnect("t", s, v); err != nil && !errors.Is(err, connect.ErrDataInvalid) {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func BenchmarkJSONConverter(b *testing.B) {
	c := &connect.JSONConverter{SchemasEnable: true}
	line := "line 012345 xxxxxxxxxxxxxxxxxxxxxxxxx"
	data, err := c.FromConnect("t", connect.StringSchema, line)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("FromConnect", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.FromConnect("t", connect.StringSchema, line); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("ToConnect", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := c.ToConnect("t", data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
