package recordjson_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/schemaregistry"
	"github.com/gregor-streams/gregor/schemaregistry/recordjson"
	"github.com/twmb/franz-go/pkg/sr"
)

// startRegistry starts a broker and a registry on it and returns a client of the registry.
func startRegistry(t testing.TB) *sr.Client {
	t.Helper()
	b := testbroker.Start(t)
	s, err := schemaregistry.Start(context.Background(), schemaregistry.Config{BootstrapServers: []string{b.Addr()},
		Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func register(t testing.TB, cl *sr.Client, subject string, s sr.Schema) int {
	t.Helper()
	ss, err := cl.CreateSchema(context.Background(), subject, s)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return ss.ID
}

const orderAvro = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"long"},
	{"name":"customer","type":"string"},
	{"name":"note","type":["null","string"],"default":null},
	{"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]}},
	{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
	{"name":"tags","type":{"type":"array","items":"string"}},
	{"name":"attrs","type":{"type":"map","values":"int"}},
	{"name":"rate","type":"double"},
	{"name":"raw","type":"bytes"},
	{"name":"line","type":["null",{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"}]}]},
	{"name":"currency","type":"string","default":"EUR"}]}`

// TestAvroRoundTripsAvroJSONEncoding: a value in Avro's JSON encoding — unions, an enum, a
// decimal, arrays, maps, bytes, a nested record, a field left to its default — encodes and decodes
// back to the same JSON with the default filled in.
func TestAvroRoundTripsAvroJSONEncoding(t *testing.T) {
	cl := startRegistry(t)
	id := register(t, cl, "orders-value", sr.Schema{Schema: orderAvro})
	c := recordjson.New(cl)
	in := `{"id":9007199254740993,"customer":"ada","note":{"string":"fragile"},"status":"PAID","amount":-12.34,` +
		`"tags":["a","b"],"attrs":{"x":1,"y":-2},"rate":1.5,"raw":"\u0000ÿ","line":{"shop.Line":{"sku":"X1"}}}`
	framed, err := c.Encode(context.Background(), id, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(context.Background(), framed)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(in, "}") + `,"currency":"EUR"}`
	if string(got) != want {
		t.Errorf("decoded\n%s\nwant\n%s", got, want)
	}
	// A bare value for a ["null", T] union is accepted.
	framed2, err := c.Encode(context.Background(), id, []byte(strings.Replace(in, `{"string":"fragile"}`, `"fragile"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if string(framed2) != string(framed) {
		t.Errorf("bare union value encodes differently")
	}
}

// TestEncodeErrorsNameTheProblem: an unknown id gives the registry's 40403; a value that does not
// fit the schema names the field and what it wanted, for each schema type.
func TestEncodeErrorsNameTheProblem(t *testing.T) {
	cl := startRegistry(t)
	avroID := register(t, cl, "a-value", sr.Schema{Schema: orderAvro})
	protoID := register(t, cl, "p-value", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package shop; message Order { int64 id = 1; string customer = 2; }`})
	jsonID := register(t, cl, "j-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"id":{"type":"integer"},"customer":{"type":"string"}},"required":["id"]}`})
	c := recordjson.New(cl)
	ctx := context.Background()
	_, err := c.Encode(ctx, 999, []byte(`{}`))
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != 40403 || !strings.Contains(err.Error(), "40403") {
		t.Errorf("unknown id: %v, want the registry's 40403", err)
	}
	for _, tc := range []struct {
		id   int
		in   string
		want []string
	}{
		{avroID, `{"id":"seven"}`, []string{"field /id", "want a long", `"seven"`}},
		{avroID, `{"id":1,"customer":"a","status":"LOST"}`, []string{"field /status", "NEW PAID"}},
		{avroID, `{"id":1,"customer":"a","status":"NEW","amount":1}`, []string{"field /tags is missing"}},
		{avroID, `{"id":1,"customer":"a","bogus":1}`, []string{`no field "bogus"`}},
		{avroID, `{"id":1,"customer":"a","status":"NEW","amount":1.001}`, []string{"field /amount", "scale"}},
		{protoID, `{"id":"x"}`, []string{"shop.Order", "id"}},
		{protoID, `{"nope":1}`, []string{"nope"}},
		{jsonID, `{"id":1.5}`, []string{"'/id'", "integer"}},
		{jsonID, `{"customer":"a"}`, []string{"missing", "id"}},
	} {
		_, err := c.Encode(ctx, tc.id, []byte(tc.in))
		if !errors.Is(err, recordjson.ErrData) {
			t.Errorf("%s: err %v, want ErrData", tc.in, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.in, err, w)
			}
		}
	}
}

// TestProtobufAndJSONSchemaRoundTrip: Protobuf (with a reference and message indexes) and JSON
// Schema values encode and decode back to their JSON.
func TestProtobufAndJSONSchemaRoundTrip(t *testing.T) {
	cl := startRegistry(t)
	register(t, cl, "money.proto", sr.Schema{Type: sr.TypeProtobuf, Schema: `syntax = "proto3"; package common; message Money { string currency = 1; int64 cents = 2; }`})
	protoID := register(t, cl, "orders-value", sr.Schema{Type: sr.TypeProtobuf,
		Schema:     `syntax = "proto3"; package shop; import "money.proto"; message Order { int64 id = 1; common.Money total = 2; repeated string tags = 3; }`,
		References: []sr.SchemaReference{{Name: "money.proto", Subject: "money.proto", Version: 1}}})
	jsonID := register(t, cl, "j-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"id":{"type":"integer"}}}`})
	c := recordjson.New(cl)
	ctx := context.Background()
	for _, tc := range []struct {
		id       int
		in, want string
	}{
		{protoID, `{"id":"7","total":{"currency":"EUR","cents":"250"},"tags":["x"]}`, `{"id":"7","total":{"currency":"EUR","cents":"250"},"tags":["x"]}`},
		{protoID, `{"id":7}`, `{"id":"7"}`},
		{jsonID, `{ "id": 7 }`, `{"id":7}`},
	} {
		framed, err := c.Encode(ctx, tc.id, []byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got, err := c.Decode(ctx, framed)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if compact(string(got)) != tc.want {
			t.Errorf("%s decoded as %s, want %s", tc.in, got, tc.want)
		}
	}
}

// compact drops protojson's randomised whitespace.
func compact(s string) string { return strings.Join(strings.Fields(s), "") }
