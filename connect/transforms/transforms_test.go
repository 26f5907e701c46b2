package transforms

import (
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

// one builds a single-transform chain of class with the given transform keys.
func one(t *testing.T, class string, kv ...string) *Chain {
	t.Helper()
	cfg := map[string]string{"transforms": "t", "transforms.t.type": class}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg["transforms.t."+kv[i]] = kv[i+1]
	}
	ch, errs := NewChain(cfg)
	if errs != nil {
		t.Fatalf("NewChain(%v): %v", cfg, errs)
	}
	return ch
}

func apply(t *testing.T, ch *Chain, r Record) *Record {
	t.Helper()
	out, err := ch.Apply(r)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return out
}

func p32(i int32) *int32 { return &i }

var ts = time.UnixMilli(1700000000123).UTC()

func TestSchemalessTransformsKafkaExamples(t *testing.T) {
	cases := []struct {
		name      string
		class     string
		kv        []string
		in        Record
		wantKey   any
		wantValue any
		wantTopic string
		wantHdrs  []connect.Header
		dropped   bool
	}{
		{name: "InsertField static", class: "org.apache.kafka.connect.transforms.InsertField$Value",
			kv:        []string{"static.field", "MessageSource", "static.value", "Kafka Connect framework"},
			in:        Record{Topic: "t", Value: map[string]any{"foo": "bar"}},
			wantValue: map[string]any{"foo": "bar", "MessageSource": "Kafka Connect framework"}},
		{name: "InsertField topic partition offset timestamp (sink)", class: "InsertField$Value",
			kv:        []string{"topic.field", "topic!", "partition.field", "part", "offset.field", "off?", "timestamp.field", "ts"},
			in:        Record{Topic: "orders", Partition: p32(3), Offset: 42, Sink: true, Timestamp: ts, Value: map[any]any{"a": int64(1)}},
			wantValue: map[any]any{"a": int64(1), "topic": "orders", "part": int32(3), "off": int64(42), "ts": ts.UnixMilli()}},
		{name: "InsertField tombstone passes", class: "InsertField$Value", kv: []string{"topic.field", "t"},
			in: Record{Topic: "x"}, wantValue: nil},
		{name: "InsertField key", class: "InsertField$Key", kv: []string{"topic.field", "t"},
			in: Record{Topic: "x", Key: map[string]any{}}, wantKey: map[string]any{"t": "x"}},
		{name: "ReplaceField exclude", class: "ReplaceField$Value", kv: []string{"exclude", "c2"},
			in:        Record{Value: map[string]any{"c1": "a", "c2": "b", "c3": "c"}},
			wantValue: map[string]any{"c1": "a", "c3": "c"}},
		{name: "ReplaceField include + renames", class: "ReplaceField$Value", kv: []string{"include", "foo,bar", "renames", "foo:c1,bar:c2"},
			in:        Record{Value: map[string]any{"foo": int64(1), "bar": "x", "baz": true}},
			wantValue: map[string]any{"c1": int64(1), "c2": "x"}},
		{name: "MaskField zero", class: "MaskField$Value", kv: []string{"fields", "string_field,int_field,bool_field"},
			in:        Record{Value: map[string]any{"string_field": "secret", "int_field": int64(42), "bool_field": true, "other": "x"}},
			wantValue: map[string]any{"string_field": "", "int_field": int64(0), "bool_field": false, "other": "x"}},
		{name: "MaskField replacement", class: "MaskField$Value", kv: []string{"fields", "ssn", "replacement", "<redacted>"},
			in: Record{Value: map[string]any{"ssn": "123-45-6789"}}, wantValue: map[string]any{"ssn": "<redacted>"}},
		{name: "ValueToKey", class: "org.apache.kafka.connect.transforms.ValueToKey", kv: []string{"fields", "userId,city,state"},
			in:        Record{Value: map[string]any{"userId": int64(1), "city": "Oslo", "state": "NO", "x": 1.5}},
			wantKey:   map[string]any{"userId": int64(1), "city": "Oslo", "state": "NO"},
			wantValue: map[string]any{"userId": int64(1), "city": "Oslo", "state": "NO", "x": 1.5}},
		{name: "ExtractField$Key", class: "ExtractField$Key", kv: []string{"field", "id"},
			in: Record{Key: map[string]any{"id": int64(42)}, Value: "v"}, wantKey: int64(42), wantValue: "v"},
		{name: "HoistField$Value", class: "HoistField$Value", kv: []string{"field", "line"},
			in: Record{Value: "hello"}, wantValue: map[string]any{"line": "hello"}},
		{name: "Cast fields", class: "Cast$Value", kv: []string{"spec", "age:int32,price:float64,flag:string,n:boolean"},
			in:        Record{Value: map[string]any{"age": "42", "price": int64(3), "flag": true, "n": int64(0), "o": "x"}},
			wantValue: map[string]any{"age": int32(42), "price": float64(3), "flag": "true", "n": false, "o": "x"}},
		{name: "Cast whole value", class: "Cast$Key", kv: []string{"spec", "int64"},
			in: Record{Key: 12.9}, wantKey: int64(12)},
		{name: "RegexRouter", class: "org.apache.kafka.connect.transforms.RegexRouter", kv: []string{"regex", `([^.]+)\.([^.]+)\.([^.]+)`, "replacement", "$3"},
			in: Record{Topic: "server.db.customers"}, wantTopic: "customers"},
		{name: "RegexRouter no match keeps topic", class: "RegexRouter", kv: []string{"regex", `(.*)-raw`, "replacement", "$1-clean"},
			in: Record{Topic: "orders-raw-x"}, wantTopic: "orders-raw-x"},
		{name: "RegexRouter prefix", class: "RegexRouter", kv: []string{"regex", `(.*)`, "replacement", "prefix_$1"},
			in: Record{Topic: "orders"}, wantTopic: "prefix_orders"},
		{name: "TimestampRouter", class: "TimestampRouter", kv: []string{"topic.format", "foo-${topic}-${timestamp}", "timestamp.format", "YYYYMM"},
			in: Record{Topic: "t", Timestamp: ts}, wantTopic: "foo-t-202311"},
		{name: "TimestampRouter default", class: "TimestampRouter",
			in: Record{Topic: "t", Timestamp: ts}, wantTopic: "t-20231114"},
		{name: "Filter", class: "Filter", in: Record{Topic: "t", Value: "x"}, dropped: true},
		{name: "DropHeaders", class: "DropHeaders", kv: []string{"headers", "a,b"},
			in:       Record{Headers: []connect.Header{{Key: "a", Value: []byte("1")}, {Key: "c", Value: []byte("3")}, {Key: "b"}}},
			wantHdrs: []connect.Header{{Key: "c", Value: []byte("3")}}},
		{name: "InsertHeader", class: "InsertHeader", kv: []string{"header", "app.id", "value.literal", "best-app-ever"},
			in: Record{}, wantHdrs: []connect.Header{{Key: "app.id", Value: []byte("best-app-ever")}}},
		{name: "HeaderFrom move", class: "HeaderFrom$Value", kv: []string{"fields", "id,ts", "headers", "record_id,ts", "operation", "move"},
			in:        Record{Value: map[string]any{"id": "abc", "ts": int64(7), "x": "y"}},
			wantValue: map[string]any{"x": "y"}, wantHdrs: []connect.Header{{Key: "record_id", Value: []byte("abc")}, {Key: "ts", Value: []byte("7")}}},
		{name: "HeaderFrom copy", class: "HeaderFrom$Key", kv: []string{"fields", "id", "headers", "id", "operation", "copy"},
			in:      Record{Key: map[string]any{"id": "k1"}},
			wantKey: map[string]any{"id": "k1"}, wantHdrs: []connect.Header{{Key: "id", Value: []byte("k1")}}},
		{name: "Flatten", class: "Flatten$Value",
			in:        Record{Value: map[string]any{"content": map[string]any{"id": int64(42), "name": map[string]any{"first": "David", "middle": nil, "last": "Wong"}}}},
			wantValue: map[string]any{"content.id": int64(42), "content.name.first": "David", "content.name.middle": nil, "content.name.last": "Wong"}},
		{name: "Flatten delimiter", class: "Flatten$Value", kv: []string{"delimiter", "_"},
			in: Record{Value: map[string]any{"a": map[string]any{"b": int64(1)}}}, wantValue: map[string]any{"a_b": int64(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := apply(t, one(t, tc.class, tc.kv...), tc.in)
			if tc.dropped {
				if out != nil {
					t.Fatalf("record not dropped: %+v", out)
				}
				return
			}
			if out == nil {
				t.Fatal("record dropped")
			}
			if !reflect.DeepEqual(out.Key, tc.wantKey) {
				t.Errorf("key = %#v, want %#v", out.Key, tc.wantKey)
			}
			if !reflect.DeepEqual(out.Value, tc.wantValue) {
				t.Errorf("value = %#v, want %#v", out.Value, tc.wantValue)
			}
			wantTopic := tc.wantTopic
			if wantTopic == "" {
				wantTopic = tc.in.Topic
			}
			if out.Topic != wantTopic {
				t.Errorf("topic = %q, want %q", out.Topic, wantTopic)
			}
			if tc.wantHdrs != nil && !reflect.DeepEqual(out.Headers, tc.wantHdrs) {
				t.Errorf("headers = %v, want %v", out.Headers, tc.wantHdrs)
			}
		})
	}
}

func TestTransformsDoNotMutateInput(t *testing.T) {
	in := map[string]any{"a": "x", "b": "y"}
	hdrs := []connect.Header{{Key: "h"}}
	for _, ch := range []*Chain{one(t, "ReplaceField$Value", "exclude", "a"), one(t, "MaskField$Value", "fields", "a"),
		one(t, "InsertField$Value", "static.field", "s", "static.value", "v"), one(t, "DropHeaders", "headers", "h"),
		one(t, "HeaderFrom$Value", "fields", "a", "headers", "a", "operation", "move")} {
		apply(t, ch, Record{Value: in, Headers: hdrs})
	}
	if !reflect.DeepEqual(in, map[string]any{"a": "x", "b": "y"}) || len(hdrs) != 1 || hdrs[0].Key != "h" {
		t.Fatalf("input mutated: %v %v", in, hdrs)
	}
}

func personSchema() *connect.Schema {
	return connect.NewStructSchema("person").Field("name", connect.StringSchema).Field("age", connect.Int32Schema).
		Field("ssn", connect.OptionalStringSchema).Build()
}

func person(t *testing.T) (*connect.Schema, *connect.Struct) {
	s := personSchema()
	st := connect.NewStruct(s)
	for k, v := range map[string]any{"name": "Ann", "age": int32(30), "ssn": "123"} {
		if err := st.Put(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return s, st
}

// fields returns a struct's field names and values, in schema order.
func fields(st *connect.Struct) ([]string, []any) {
	var names []string
	var vals []any
	for _, f := range st.Schema.Fields {
		names = append(names, f.Name)
		vals = append(vals, st.Get(f.Name))
	}
	return names, vals
}

func TestStructTransforms(t *testing.T) {
	cases := []struct {
		name      string
		class     string
		kv        []string
		wantNames []string
		wantVals  []any
		check     func(t *testing.T, out *Record)
	}{
		{name: "InsertField", class: "InsertField$Value", kv: []string{"topic.field", "topic", "timestamp.field", "ts!", "static.field", "src", "static.value", "gregor"},
			wantNames: []string{"name", "age", "ssn", "topic", "ts", "src"}, wantVals: []any{"Ann", int32(30), "123", "people", ts, "gregor"},
			check: func(t *testing.T, out *Record) {
				f := out.ValueSchema.Field("ts")
				if f.Schema.Name != TimestampSchemaName || f.Schema.Optional {
					t.Errorf("ts schema = %+v", f.Schema)
				}
			}},
		{name: "ReplaceField", class: "ReplaceField$Value", kv: []string{"exclude", "ssn", "renames", "name:full_name"},
			wantNames: []string{"full_name", "age"}, wantVals: []any{"Ann", int32(30)}},
		{name: "MaskField", class: "MaskField$Value", kv: []string{"fields", "ssn,age"},
			wantNames: []string{"name", "age", "ssn"}, wantVals: []any{"Ann", int32(0), ""}},
		{name: "Cast", class: "Cast$Value", kv: []string{"spec", "age:string"},
			wantNames: []string{"name", "age", "ssn"}, wantVals: []any{"Ann", "30", "123"},
			check: func(t *testing.T, out *Record) {
				if out.ValueSchema.Field("age").Schema.Type != connect.TypeString {
					t.Errorf("age schema not string")
				}
			}},
		{name: "HeaderFrom move", class: "HeaderFrom$Value", kv: []string{"fields", "ssn", "headers", "ssn", "operation", "move"},
			wantNames: []string{"name", "age"}, wantVals: []any{"Ann", int32(30)},
			check: func(t *testing.T, out *Record) {
				if len(out.Headers) != 1 || string(out.Headers[0].Value) != "123" {
					t.Errorf("headers = %v", out.Headers)
				}
			}},
		{name: "ValueToKey", class: "ValueToKey", kv: []string{"fields", "name"},
			wantNames: []string{"name", "age", "ssn"}, wantVals: []any{"Ann", int32(30), "123"},
			check: func(t *testing.T, out *Record) {
				k := out.Key.(*connect.Struct)
				if k.Get("name") != "Ann" || len(out.KeySchema.Fields) != 1 {
					t.Errorf("key = %+v", k)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st := person(t)
			out := apply(t, one(t, tc.class, tc.kv...), Record{Topic: "people", Timestamp: ts, ValueSchema: s, Value: st})
			ost, ok := out.Value.(*connect.Struct)
			if !ok {
				t.Fatalf("value = %T", out.Value)
			}
			if ost.Schema != out.ValueSchema {
				t.Fatal("struct schema differs from record schema")
			}
			if err := connect.ValidateValue(out.ValueSchema, out.Value); err != nil {
				t.Fatal(err)
			}
			names, vals := fields(ost)
			if !reflect.DeepEqual(names, tc.wantNames) || !reflect.DeepEqual(vals, tc.wantVals) {
				t.Errorf("got %v %v, want %v %v", names, vals, tc.wantNames, tc.wantVals)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

func TestStructExtractHoistFlatten(t *testing.T) {
	s, st := person(t)
	out := apply(t, one(t, "ExtractField$Value", "field", "name"), Record{ValueSchema: s, Value: st})
	if out.Value != "Ann" || out.ValueSchema != connect.StringSchema {
		t.Fatalf("extract = %v %v", out.Value, out.ValueSchema)
	}
	out = apply(t, one(t, "HoistField$Value", "field", "line"), Record{ValueSchema: connect.StringSchema, Value: "hi"})
	if hs := out.Value.(*connect.Struct); hs.Get("line") != "hi" || out.ValueSchema.Field("line").Schema != connect.StringSchema {
		t.Fatalf("hoist = %+v", out.Value)
	}
	outer := connect.NewStructSchema("outer").Field("id", connect.Int64Schema).Field("person", s).Build()
	os := connect.NewStruct(outer)
	if err := os.Put("id", int64(1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Put("person", st); err != nil {
		t.Fatal(err)
	}
	out = apply(t, one(t, "Flatten$Value"), Record{ValueSchema: outer, Value: os})
	names, vals := fields(out.Value.(*connect.Struct))
	if want := []string{"id", "person.name", "person.age", "person.ssn"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("flatten names = %v", names)
	}
	if want := []any{int64(1), "Ann", int32(30), "123"}; !reflect.DeepEqual(vals, want) {
		t.Fatalf("flatten vals = %v", vals)
	}
}

func TestPredicatesAndNegate(t *testing.T) {
	base := func(extra ...string) map[string]string {
		cfg := map[string]string{
			"transforms": "drop", "transforms.drop.type": "org.apache.kafka.connect.transforms.Filter",
			"predicates":            "isFoo,tomb,hasH",
			"predicates.isFoo.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "predicates.isFoo.pattern": "foo.*",
			"predicates.tomb.type": "RecordIsTombstone",
			"predicates.hasH.type": "HasHeaderKey", "predicates.hasH.name": "skip",
		}
		for i := 0; i+1 < len(extra); i += 2 {
			cfg[extra[i]] = extra[i+1]
		}
		return cfg
	}
	cases := []struct {
		name    string
		cfg     map[string]string
		in      Record
		dropped bool
	}{
		{"TopicNameMatches matches", base("transforms.drop.predicate", "isFoo"), Record{Topic: "foobar", Value: "v"}, true},
		{"TopicNameMatches whole name only", base("transforms.drop.predicate", "isFoo"), Record{Topic: "xfoo", Value: "v"}, false},
		{"negate", base("transforms.drop.predicate", "isFoo", "transforms.drop.negate", "true"), Record{Topic: "xfoo", Value: "v"}, true},
		{"negate keeps match", base("transforms.drop.predicate", "isFoo", "transforms.drop.negate", "true"), Record{Topic: "foo", Value: "v"}, false},
		{"RecordIsTombstone", base("transforms.drop.predicate", "tomb"), Record{Topic: "a"}, true},
		{"RecordIsTombstone not", base("transforms.drop.predicate", "tomb"), Record{Topic: "a", Value: "x"}, false},
		{"HasHeaderKey", base("transforms.drop.predicate", "hasH"), Record{Headers: []connect.Header{{Key: "skip"}}, Value: "x"}, true},
		{"HasHeaderKey not", base("transforms.drop.predicate", "hasH"), Record{Headers: []connect.Header{{Key: "other"}}, Value: "x"}, false},
		{"no predicate applies always", base(), Record{Topic: "x", Value: "x"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, errs := NewChain(tc.cfg)
			if errs != nil {
				t.Fatal(errs)
			}
			out, err := ch.Apply(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if (out == nil) != tc.dropped {
				t.Fatalf("dropped = %v, want %v", out == nil, tc.dropped)
			}
		})
	}
}

func TestChainOrder(t *testing.T) {
	ch, errs := NewChain(map[string]string{
		"transforms":            "hoist, insert,route",
		"transforms.hoist.type": "HoistField$Value", "transforms.hoist.field": "line",
		"transforms.insert.type": "InsertField$Value", "transforms.insert.topic.field": "from",
		"transforms.route.type": "RegexRouter", "transforms.route.regex": "(.*)", "transforms.route.replacement": "$1-out",
	})
	if errs != nil {
		t.Fatal(errs)
	}
	out := apply(t, ch, Record{Topic: "in", Value: "hello"})
	if out.Topic != "in-out" || !reflect.DeepEqual(out.Value, map[string]any{"line": "hello", "from": "in"}) {
		t.Fatalf("got %q %v", out.Topic, out.Value)
	}
	if ch, errs := NewChain(map[string]string{"transforms": ""}); ch != nil || errs != nil {
		t.Fatalf("empty chain = %v %v", ch, errs)
	}
}

func TestInvalidConfigsNameTheField(t *testing.T) {
	cases := []struct {
		name    string
		cfg     map[string]string
		wantKey string
		wantMsg string
	}{
		{"missing type", map[string]string{"transforms": "a"}, "transforms.a.type", "transforms.a.type"},
		{"unknown class", map[string]string{"transforms": "a", "transforms.a.type": "com.example.Nope"}, "transforms.a.type", "com.example.Nope"},
		{"keyed class without variant", map[string]string{"transforms": "a", "transforms.a.type": "InsertField"}, "transforms.a.type", "InsertField"},
		{"variant on plain class", map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter$Value"}, "transforms.a.type", "RegexRouter$Value"},
		{"bad regex", map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"}, "transforms.a.regex", "transforms.a.regex"},
		{"missing replacement", map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": ".*"}, "transforms.a.replacement", "transforms.a.replacement"},
		{"missing field", map[string]string{"transforms": "a", "transforms.a.type": "HoistField$Value"}, "transforms.a.field", "transforms.a.field"},
		{"missing fields", map[string]string{"transforms": "a", "transforms.a.type": "MaskField$Key"}, "transforms.a.fields", "transforms.a.fields"},
		{"bad cast spec", map[string]string{"transforms": "a", "transforms.a.type": "Cast$Value", "transforms.a.spec": "x:uuid"}, "transforms.a.spec", "transforms.a.spec"},
		{"bad renames", map[string]string{"transforms": "a", "transforms.a.type": "ReplaceField$Value", "transforms.a.renames": "foo"}, "transforms.a.renames", "transforms.a.renames"},
		{"bad negate", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "maybe"}, "transforms.a.negate", "transforms.a.negate"},
		{"unknown predicate", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"}, "transforms.a.predicate", "transforms.a.predicate"},
		{"predicate missing type", map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p", "predicates": "p"}, "predicates.p.type", "predicates.p.type"},
		{"predicate bad pattern", map[string]string{"predicates": "p", "predicates.p.type": "TopicNameMatches", "predicates.p.pattern": "["}, "predicates.p.pattern", "predicates.p.pattern"},
		{"predicate unknown class", map[string]string{"predicates": "p", "predicates.p.type": "Nope"}, "predicates.p.type", "Nope"},
		{"bad timestamp.format", map[string]string{"transforms": "a", "transforms.a.type": "TimestampRouter", "transforms.a.timestamp.format": "qq"}, "transforms.a.timestamp.format", "transforms.a.timestamp.format"},
		{"HeaderFrom bad operation", map[string]string{"transforms": "a", "transforms.a.type": "HeaderFrom$Value", "transforms.a.fields": "a", "transforms.a.headers": "a", "transforms.a.operation": "swap"}, "transforms.a.operation", "swap"},
		{"duplicate alias", map[string]string{"transforms": "a,a", "transforms.a.type": "Filter"}, "transforms", "Duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, errs := NewChain(tc.cfg)
			if ch != nil {
				t.Fatal("chain built despite errors")
			}
			msgs, ok := errs[tc.wantKey]
			if !ok {
				t.Fatalf("errors %v have no key %s", errs, tc.wantKey)
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.wantMsg) {
				t.Fatalf("errors %v do not mention %q", msgs, tc.wantMsg)
			}
			if _, err := (provider{}).NewTransformer(tc.cfg); err == nil {
				t.Fatal("NewTransformer accepted an invalid config")
			}
		})
	}
}

func TestSourceAndSinkRecordRoundTrip(t *testing.T) {
	ch := one(t, "RegexRouter", "regex", "(.*)", "replacement", "x-$1")
	sr, err := ch.TransformSource(connect.SourceRecord{Topic: "a", SourcePartition: map[string]any{"f": "x"}, SourceOffset: map[string]any{"p": int64(1)}, Value: "v"})
	if err != nil || sr.Topic != "x-a" || sr.SourcePartition["f"] != "x" || sr.SourceOffset["p"] != int64(1) || sr.Value != "v" {
		t.Fatalf("source = %+v %v", sr, err)
	}
	kr, err := ch.TransformSink(connect.SinkRecord{Topic: "a", Partition: 2, Offset: 9, Value: "v"})
	if err != nil || kr.Topic != "x-a" || kr.Partition != 2 || kr.Offset != 9 {
		t.Fatalf("sink = %+v %v", kr, err)
	}
	// offset.field is sink-only, as in Kafka.
	if _, err := one(t, "InsertField$Value", "offset.field", "o").TransformSource(connect.SourceRecord{Topic: "a", Value: map[string]any{}}); err == nil {
		t.Fatal("offset.field on a source record succeeded")
	}
}

func TestTimestampConverter(t *testing.T) {
	ms := ts.UnixMilli() // 2023-11-14T22:13:20.123Z
	cases := []struct {
		name string
		kv   []string
		in   any
		want any
	}{
		{"unix millis to string", []string{"field", "ts", "target.type", "string", "format", "yyyy-MM-dd"}, map[string]any{"ts": ms}, map[string]any{"ts": "2023-11-14"}},
		{"string to unix", []string{"field", "ts", "target.type", "unix", "format", "yyyy-MM-dd HH:mm:ss.SSS"}, map[string]any{"ts": "2023-11-14 22:13:20.123"}, map[string]any{"ts": ms}},
		{"unix seconds to Timestamp", []string{"field", "ts", "target.type", "Timestamp", "unix.precision", "seconds"}, map[string]any{"ts": int64(1700000000)}, map[string]any{"ts": time.UnixMilli(1700000000000).UTC()}},
		{"whole value unix seconds to Timestamp", []string{"target.type", "Timestamp", "unix.precision", "seconds"}, int64(1700000000), time.UnixMilli(1700000000000).UTC()},
		{"whole value string to unix micros", []string{"target.type", "unix", "unix.precision", "microseconds", "format", "yyyy-MM-dd'T'HH:mm:ss"}, "2023-11-14T22:13:20", int64(1700000000000000)},
		{"Date truncates", []string{"field", "ts", "target.type", "Date"}, map[string]any{"ts": ms}, map[string]any{"ts": time.UnixMilli(1699920000000).UTC()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := apply(t, one(t, "org.apache.kafka.connect.transforms.TimestampConverter$Value", tc.kv...), Record{Value: tc.in})
			if !reflect.DeepEqual(out.Value, tc.want) {
				t.Fatalf("value = %#v, want %#v", out.Value, tc.want)
			}
		})
	}
	// With a schema: a Timestamp field becomes a Date (a UTC midnight, written as int32 days), a
	// Time (written as int32 millis of the day), or a formatted string.
	s := connect.NewStructSchema("e").Field("ts", connect.TimestampSchema()).Build()
	st := connect.NewStruct(s)
	if err := st.Put("ts", ts); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]any{
		"Date":      time.Date(2023, 11, 14, 0, 0, 0, 0, time.UTC),
		"Time":      time.Date(1970, 1, 1, 22, 13, 20, 123e6, time.UTC),
		"Timestamp": ts,
		"unix":      ms,
	} {
		out := apply(t, one(t, "TimestampConverter$Value", "field", "ts", "target.type", target), Record{ValueSchema: s, Value: st})
		got := out.Value.(*connect.Struct).Get("ts")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ts = %#v, want %#v", target, got, want)
		}
		if err := connect.ValidateValue(out.ValueSchema, out.Value); err != nil {
			t.Errorf("%s: output does not match its schema: %v", target, err)
		}
		c := &connect.JSONConverter{SchemasEnable: true}
		data, err := c.FromConnect("t", out.ValueSchema, out.Value)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		wantJSON := map[string]string{
			"Date":      `{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"ts"}],"optional":false,"name":"e"},"payload":{"ts":19675}}`,
			"Time":      `{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"ts"}],"optional":false,"name":"e"},"payload":{"ts":80000123}}`,
			"Timestamp": `{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"}],"optional":false,"name":"e"},"payload":{"ts":1700000000123}}`,
			"unix":      `{"type":"int64","optional":false,"field":"ts"}],"optional":false,"name":"e"},"payload":{"ts":1700000000123}}`,
		}[target]
		if want := `{"schema":{"type":"struct","fields":[` + wantJSON; string(data) != want {
			t.Errorf("%s: JSON\n got %s\nwant %s", target, data, want)
		}
	}
	if _, errs := NewChain(map[string]string{"transforms": "a", "transforms.a.type": "TimestampConverter$Value", "transforms.a.target.type": "string"}); errs["transforms.a.format"] == nil {
		t.Fatalf("string target without format accepted: %v", errs)
	}
}

func TestCastHandlesLogicalTypesAsKafka(t *testing.T) {
	dec := connect.DecimalSchema(2)
	s := connect.NewStructSchema("e").Field("d", connect.DateSchema()).Field("t", connect.TimeSchema()).
		Field("ts", connect.TimestampSchema()).Field("amount", dec).Field("raw", connect.OptionalBytesSchema).Build()
	st := connect.NewStruct(s)
	amount, _ := new(big.Rat).SetString("-12.50")
	for k, v := range map[string]any{"d": time.Date(2023, 11, 14, 0, 0, 0, 0, time.UTC), "t": time.Date(1970, 1, 1, 1, 2, 3, 4e6, time.UTC),
		"ts": ts, "amount": amount, "raw": []byte("hi")} {
		if err := st.Put(k, v); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		spec string
		want []any
	}{
		{"d:string,t:string,ts:string,amount:string,raw:string", []any{"2023-11-14", "01:02:03.004Z", "2023-11-14T22:13:20.123Z", "-12.50", "aGk="}},
		{"d:int32,t:int32,ts:int64,amount:float64", []any{int32(19675), int32(3723004), ts.UnixMilli(), -12.5, []byte("hi")}},
		{"amount:int32", []any{nil, nil, nil, int32(-12), nil}},
	}
	for _, tc := range cases {
		out := apply(t, one(t, "Cast$Value", "spec", tc.spec), Record{ValueSchema: s, Value: st})
		o := out.Value.(*connect.Struct)
		for i, f := range []string{"d", "t", "ts", "amount", "raw"} {
			if tc.spec == "amount:int32" && f != "amount" {
				continue
			}
			if got := o.Get(f); !reflect.DeepEqual(got, tc.want[i]) {
				t.Errorf("%s: %s = %#v, want %#v", tc.spec, f, got, tc.want[i])
			}
		}
		if err := connect.ValidateValue(out.ValueSchema, out.Value); err != nil {
			t.Errorf("%s: output does not match its schema: %v", tc.spec, err)
		}
	}
	if _, err := one(t, "Cast$Value", "spec", "raw:int32").TransformSink(connect.SinkRecord{ValueSchema: s, Value: st}); err == nil {
		t.Error("bytes cast to int32")
	}
}
