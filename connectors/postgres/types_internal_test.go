package postgres

import (
	"math/big"
	"reflect"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/pgsql"
)

func TestArrayLiteralsDecodeQuotedEscapedAndNullElements(t *testing.T) {
	id := func(s string) (any, error) { return s, nil }
	for _, tc := range []struct {
		in   string
		want []any
	}{
		{`{}`, []any{}},
		{`{a}`, []any{"a"}},
		{`{a,b,NULL}`, []any{"a", "b", nil}},
		{`{"NULL",NULL}`, []any{"NULL", nil}},
		{`{"a,b","c\"d","e\\f"}`, []any{"a,b", `c"d`, `e\f`}},
		{`{"",x}`, []any{"", "x"}},
		{`[0:1]={x,y}`, []any{"x", "y"}},
	} {
		got, err := decodeArray(tc.in, id)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decodeArray(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a`, `{{1,2},{3,4}}`, `{"a"b}`} {
		if _, err := decodeArray(bad, id); err == nil {
			t.Errorf("decodeArray(%q) accepted a malformed literal", bad)
		}
	}
}

func TestDecimalsEncodeAsJavaBigIntegerBytes(t *testing.T) {
	for _, tc := range []struct {
		text  string
		scale int
		bytes []byte
	}{
		{"0", 0, []byte{0}},
		{"1.50", 2, []byte{0, 150}},
		{"-2.25", 2, []byte{0xff, 0x1f}},
		{"127", 0, []byte{127}},
		{"128", 0, []byte{0, 128}},
		{"-128", 0, []byte{0x80}},
		{"-129", 0, []byte{0xff, 0x7f}},
		{"-0.001", 3, []byte{0xff}},
	} {
		n, scale, err := parseDecimal(tc.text)
		if err != nil || scale != tc.scale {
			t.Fatalf("parseDecimal(%s) = %v, %d, %v", tc.text, n, scale, err)
		}
		if got := twosComplement(n); !reflect.DeepEqual(got, tc.bytes) {
			t.Errorf("%s: bytes %x, want %x", tc.text, got, tc.bytes)
		}
		// Round trip through Java's interpretation.
		back := new(big.Int).SetBytes(tc.bytes)
		if tc.bytes[0]&0x80 != 0 {
			back.Sub(back, new(big.Int).Lsh(big.NewInt(1), uint(8*len(tc.bytes))))
		}
		if back.Cmp(n) != 0 {
			t.Errorf("%s: bytes read back as %v", tc.text, back)
		}
	}
	for _, bad := range []string{"NaN", "Infinity", "-Infinity", "1e5x"} {
		if _, _, err := parseDecimal(bad); err == nil {
			t.Errorf("parseDecimal(%q) accepted it", bad)
		}
	}
}

func TestTimeValuesFollowTimePrecisionMode(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		oid    uint32
		typmod int32
		text   string
		name   string
		want   any
	}{
		{"adaptive", pgsql.OIDTime, -1, "00:00:01.5", nameMicroTime, int64(1_500_000)},
		{"adaptive", pgsql.OIDTime, 3, "00:00:01.5", nameTime, int32(1500)},
		{"adaptive_time_microseconds", pgsql.OIDTime, 3, "00:00:01.5", nameMicroTime, int64(1_500_000)},
		{"connect", pgsql.OIDTime, -1, "00:00:01.5", connect.TimeSchemaName, int32(1500)},
		{"adaptive", pgsql.OIDTimestamp, -1, "1970-01-01 00:00:01.000002", nameMicroTimestamp, int64(1_000_002)},
		{"adaptive", pgsql.OIDTimestamp, 0, "1970-01-01 00:00:01", nameTimestamp, int64(1000)},
		{"connect", pgsql.OIDTimestamp, -1, "1970-01-01 00:00:01.000002", connect.TimestampSchemaName, int64(1000)},
		{"connect", pgsql.OIDDate, -1, "1970-01-03", connect.DateSchemaName, int32(2)},
		{"adaptive", pgsql.OIDTimestamptz, -1, "2024-01-01 05:30:00+05:30", nameZonedTimestamp, "2024-01-01T00:00:00Z"},
	} {
		vt := typeFor(tc.oid, tc.typmod, true, &config{timeMode: tc.mode})
		got, err := vt.decode(tc.text)
		if err != nil || got != tc.want || vt.schema.Name != tc.name {
			t.Errorf("%s %d(%d) %q: %#v (%s), %v; want %#v (%s)", tc.mode, tc.oid, tc.typmod, tc.text, got, vt.schema.Name, err, tc.want, tc.name)
		}
	}
}

func TestDecimalHandlingModes(t *testing.T) {
	typmod := int32((10<<16 | 2) + 4) // numeric(10,2)
	if got, _ := typeFor(pgsql.OIDNumeric, typmod, true, &config{decimalMode: "double"}).decode("-12.50"); got != -12.5 {
		t.Errorf("double: %#v", got)
	}
	if got, _ := typeFor(pgsql.OIDNumeric, typmod, true, &config{decimalMode: "string"}).decode("-12.50"); got != "-12.50" {
		t.Errorf("string: %#v", got)
	}
	vt := typeFor(pgsql.OIDNumeric, typmod, true, &config{decimalMode: "precise"})
	if vt.schema.Parameters["scale"] != "2" || vt.schema.Parameters["connect.decimal.precision"] != "10" {
		t.Errorf("precise schema parameters %v", vt.schema.Parameters)
	}
}

func FuzzDecodeArrayNeverPanics(f *testing.F) {
	for _, s := range []string{`{}`, `{a,"b\"c",NULL}`, `[1:2]={1,2}`, `{"`, `{{1}}`} {
		f.Add(s)
	}
	dec := typeFor(1007, -1, true, &config{}).decode // int[]
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = decodeArray(s, func(e string) (any, error) { return e, nil })
		_, _ = dec(s)
	})
}
