package connect_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// The expected bytes are what Kafka's JsonConverter writes for the same Connect data (its own tests
// use 1.56 at scale 2 → bytes {0, -100}, i.e. "AJw="; the others were checked against
// BigInteger.toByteArray semantics computed independently).
func TestJSONConverterLogicalTypesMatchKafkaAndRoundTrip(t *testing.T) {
	const decSchema = `{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}}`
	cases := []struct {
		name   string
		schema *connect.Schema
		value  any
		want   string
	}{
		{"decimal", connect.DecimalSchema(2), rat("1.56"), `{"schema":` + decSchema + `,"payload":"AJw="}`},
		{"negative decimal", connect.DecimalSchema(2), rat("-1.56"), `{"schema":` + decSchema + `,"payload":"/2Q="}`},
		{"zero decimal", connect.DecimalSchema(2), rat("0"), `{"schema":` + decSchema + `,"payload":"AA=="}`},
		{"decimal -1.28 is one byte", connect.DecimalSchema(2), rat("-1.28"), `{"schema":` + decSchema + `,"payload":"gA=="}`},
		{"decimal 1.28 needs a sign byte", connect.DecimalSchema(2), rat("1.28"), `{"schema":` + decSchema + `,"payload":"AIA="}`},
		{"big decimal", connect.DecimalSchema(0), rat("123456789012345678901234567890"),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"}},"payload":"AY7pD/bDc+DuTj8K0g=="}`},
		{"date", connect.DateSchema(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10957}`},
		{"date before the epoch", connect.DateSchema(), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":-1}`},
		{"time", connect.TimeSchema(), time.Date(1970, 1, 1, 4, 0, 0, 5e6, time.UTC),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400005}`},
		{"timestamp", connect.TimestampSchema(), time.Date(2024, 2, 29, 12, 30, 15, 123e6, time.UTC),
			`{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":1709209815123}`},
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
			s, v, err := c.ToConnect("t", got)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != tc.schema.Name || s.Version != 1 || s.Type != tc.schema.Type {
				t.Fatalf("schema back = %+v", s)
			}
			switch want := tc.value.(type) {
			case *big.Rat:
				if d, ok := v.(*big.Rat); !ok || d.Cmp(want) != 0 {
					t.Fatalf("value back = %#v, want %s", v, want.RatString())
				}
			case time.Time:
				if tm, ok := v.(time.Time); !ok || !tm.Equal(want) || tm.Location() != time.UTC {
					t.Fatalf("value back = %#v, want %v", v, want)
				}
			}
		})
	}
}

func TestJSONConverterLogicalTypesInAStructWithDefaults(t *testing.T) {
	dec := connect.DecimalSchema(3)
	dec.Optional = true
	ts := connect.TimestampSchema()
	ts.Default = time.UnixMilli(0).UTC()
	schema := connect.NewStructSchema("order").Field("amount", dec).Field("at", ts).Build()
	v := connect.NewStruct(schema)
	if err := v.Put("amount", rat("-12.5")); err != nil {
		t.Fatal(err)
	}
	c := jsonConv(t, true)
	got, err := c.FromConnect("t", schema, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[` +
		`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3"},"field":"amount"},` +
		`{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"default":0,"field":"at"}],` +
		`"optional":false,"name":"order"},"payload":{"amount":"zyw=","at":0}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	s, back, err := c.ToConnect("t", got)
	if err != nil {
		t.Fatal(err)
	}
	st := back.(*connect.Struct)
	if st.Get("amount").(*big.Rat).Cmp(rat("-12.5")) != 0 || !st.Get("at").(time.Time).Equal(time.UnixMilli(0)) {
		t.Fatalf("struct back = %v %v", st.Get("amount"), st.Get("at"))
	}
	if d, ok := s.Field("at").Schema.Default.(time.Time); !ok || !d.Equal(time.UnixMilli(0)) {
		t.Fatalf("default back = %#v", s.Field("at").Schema.Default)
	}
}

func TestJSONConverterDecimalFormatNumeric(t *testing.T) {
	c, err := connect.NewConverter(connect.JSONConverterClass, map[string]string{"decimal.format": "NUMERIC"}, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.FromConnect("t", connect.DecimalSchema(4), rat("10.2"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"4"}},"payload":10.2000}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Reading takes a Decimal as a number or as base64, whatever decimal.format says, and keeps every digit.
	for _, payload := range []string{`12345678901234567890.1234`, `"GiSbHxCgbJav8g=="`} {
		_, v, err := c.ToConnect("t", []byte(`{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"4"}},"payload":`+payload+`}`))
		if err != nil {
			t.Fatal(err)
		}
		if v.(*big.Rat).Cmp(rat("12345678901234567890.1234")) != 0 {
			t.Fatalf("%s read as %s", payload, v.(*big.Rat).FloatString(4))
		}
	}
	if _, err := connect.NewConverter(connect.JSONConverterClass, map[string]string{"decimal.format": "HEX"}, false); err == nil {
		t.Fatal("decimal.format=HEX accepted")
	}
}

func TestLogicalValuesThatKafkaRejectsAreRejected(t *testing.T) {
	cases := []struct {
		name   string
		schema *connect.Schema
		value  any
	}{
		{"decimal finer than its scale", connect.DecimalSchema(2), rat("1.005")},
		{"decimal that is neither a *big.Rat nor bytes", connect.DecimalSchema(2), "1.00"},
		{"date with a time of day", connect.DateSchema(), time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"date as int64", connect.DateSchema(), int64(3)},
		{"time on another day", connect.TimeSchema(), time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"timestamp as a string", connect.TimestampSchema(), "5"},
	}
	c := jsonConv(t, true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := connect.ValidateValue(tc.schema, tc.value); !errors.Is(err, connect.ErrDataInvalid) {
				t.Errorf("ValidateValue = %v", err)
			}
			if _, err := c.FromConnect("t", tc.schema, tc.value); !errors.Is(err, connect.ErrDataInvalid) {
				t.Errorf("FromConnect = %v", err)
			}
		})
	}
	for _, bad := range []string{
		`{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Time"},"payload":86400000}`,
		`{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal"},"payload":"AA=="}`,
		`{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"x"}},"payload":"AA=="}`,
	} {
		if _, _, err := c.ToConnect("t", []byte(bad)); !errors.Is(err, connect.ErrDataInvalid) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

// Jackson writes doubles and floats with Java's toString and escapes only what JSON requires.
func TestJSONConverterWritesNumbersAndStringsAsJackson(t *testing.T) {
	f32 := &connect.Schema{Type: connect.TypeFloat32}
	cases := []struct {
		schema *connect.Schema
		value  any
		want   string
	}{
		{&connect.Schema{Type: connect.TypeFloat64}, 1.0, `1.0`},
		{&connect.Schema{Type: connect.TypeFloat64}, -0.5, `-0.5`},
		{&connect.Schema{Type: connect.TypeFloat64}, 1e7, `1.0E7`},
		{&connect.Schema{Type: connect.TypeFloat64}, 123456789.25, `1.2345678925E8`},
		{&connect.Schema{Type: connect.TypeFloat64}, 0.0001, `1.0E-4`},
		{&connect.Schema{Type: connect.TypeFloat64}, 0.001, `0.001`},
		{f32, float32(0.1), `0.1`},
		{f32, float32(3), `3.0`},
		{connect.StringSchema, "<a & b>\t\"é\"\x01", `"<a & b>\t\"é\"\u0001"`},
	}
	c := &connect.JSONConverter{}
	for _, tc := range cases {
		got, err := c.FromConnect("t", tc.schema, tc.value)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%v: got %s, want %s", tc.value, got, tc.want)
		}
		_, back, err := c.ToConnect("t", got)
		if err != nil {
			t.Fatal(err)
		}
		_ = back
	}
}

// Unlike Kafka's ConnectSchema, a logical value may also be given in its primitive representation
// (unscaled two's complement bytes, int32 days or millis, int64 millis), as connectors such as the
// Postgres CDC source build them; it is written unchanged.
func TestLogicalValuesInTheirPrimitiveRepresentationAreAccepted(t *testing.T) {
	c := jsonConv(t, true)
	for _, tc := range []struct {
		schema *connect.Schema
		value  any
		want   string
	}{
		{connect.DecimalSchema(2), []byte{0x30, 0x39}, `"MDk="`},
		{connect.DateSchema(), int32(3), `3`},
		{connect.TimeSchema(), int32(1000), `1000`},
		{connect.TimestampSchema(), int64(5), `5`},
	} {
		if err := connect.ValidateValue(tc.schema, tc.value); err != nil {
			t.Errorf("%s: ValidateValue(%v) = %v", tc.schema.Name, tc.value, err)
		}
		out, err := c.FromConnect("t", tc.schema, tc.value)
		if err != nil {
			t.Fatalf("%s: FromConnect(%v) = %v", tc.schema.Name, tc.value, err)
		}
		if !strings.Contains(string(out), `"payload":`+tc.want) {
			t.Errorf("%s: %s, want payload %s", tc.schema.Name, out, tc.want)
		}
	}
}

func TestJSONConverterReplaceNullWithDefault(t *testing.T) {
	field := &connect.Schema{Type: connect.TypeInt32, Optional: true, Default: int32(7)}
	schema := connect.NewStructSchema("s").Field("n", field).Build()
	v := connect.NewStruct(schema) // n is null
	const schemaJSON = `{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"default":7,"field":"n"}],"optional":false,"name":"s"},"payload":`
	for _, tc := range []struct {
		config   map[string]string
		wantJSON string
		wantBack any
	}{
		{nil, schemaJSON + `{"n":7}}`, int32(7)},
		{map[string]string{"replace.null.with.default": "false"}, schemaJSON + `{"n":null}}`, nil},
	} {
		c, err := connect.NewConverter(connect.JSONConverterClass, tc.config, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.FromConnect("t", schema, v)
		if err != nil || string(got) != tc.wantJSON {
			t.Fatalf("%v: got %s %v, want %s", tc.config, got, err, tc.wantJSON)
		}
		_, back, err := c.ToConnect("t", []byte(schemaJSON+`{"n":null}}`))
		if err != nil {
			t.Fatal(err)
		}
		if n := back.(*connect.Struct).Get("n"); n != tc.wantBack {
			t.Errorf("%v: read null as %#v, want %#v", tc.config, n, tc.wantBack)
		}
	}
	if _, err := connect.NewConverter(connect.JSONConverterClass, map[string]string{"replace.null.with.default": "maybe"}, false); err == nil {
		t.Error("replace.null.with.default=maybe accepted")
	}
}
