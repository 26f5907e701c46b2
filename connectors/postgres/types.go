package postgres

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/pgsql"
)

// Debezium's logical type names, which the source writes and the sink reads (Kafka's own are
// connect.*SchemaName).
const (
	nameDate            = "io.debezium.time.Date"
	nameTime            = "io.debezium.time.Time"
	nameMicroTime       = "io.debezium.time.MicroTime"
	nameTimestamp       = "io.debezium.time.Timestamp"
	nameMicroTimestamp  = "io.debezium.time.MicroTimestamp"
	nameNanoTimestamp   = "io.debezium.time.NanoTimestamp"
	nameZonedTimestamp  = "io.debezium.time.ZonedTimestamp"
	nameUUID            = "io.debezium.data.Uuid"
	nameJSON            = "io.debezium.data.Json"
	nameVariableDecimal = "io.debezium.data.VariableScaleDecimal"
	nameEnum            = "io.debezium.data.Enum"
)

// unavailableValue stands for an unchanged TOASTed value pgoutput did not send, as in Debezium.
const unavailableValue = "__debezium_unavailable_value"

// valueType converts one column type's text form (pgoutput and the snapshot both read text) to a
// Connect value of schema.
type valueType struct {
	schema *connect.Schema
	decode func(text string) (any, error)
}

// typeFor returns the Connect mapping of a column type. Types outside the supported set map to
// their text form as an optional string.
func typeFor(oid uint32, typmod int32, optional bool, c *config) valueType {
	if elem, ok := pgsql.ArrayElem[oid]; ok {
		et := typeFor(elem, typmod, true, c)
		return valueType{
			schema: &connect.Schema{Type: connect.TypeArray, Optional: optional, ValueSchema: et.schema},
			decode: func(s string) (any, error) { return decodeArray(s, et.decode) },
		}
	}
	sch := func(t connect.Type, name string) *connect.Schema {
		s := &connect.Schema{Type: t, Optional: optional, Name: name}
		if name != "" && strings.HasPrefix(name, "io.debezium") {
			s.Version = 1
		}
		if name == connect.DateSchemaName || name == connect.TimeSchemaName || name == connect.TimestampSchemaName {
			s.Version = 1
		}
		return s
	}
	switch oid {
	case pgsql.OIDBool:
		return valueType{sch(connect.TypeBoolean, ""), func(s string) (any, error) { return s == "t" || s == "true", nil }}
	case pgsql.OIDInt2:
		return valueType{sch(connect.TypeInt16, ""), func(s string) (any, error) {
			n, err := strconv.ParseInt(s, 10, 16)
			return int16(n), err
		}}
	case pgsql.OIDInt4:
		return valueType{sch(connect.TypeInt32, ""), func(s string) (any, error) {
			n, err := strconv.ParseInt(s, 10, 32)
			return int32(n), err
		}}
	case pgsql.OIDInt8, pgsql.OIDOID:
		return valueType{sch(connect.TypeInt64, ""), func(s string) (any, error) { return strconv.ParseInt(s, 10, 64) }}
	case pgsql.OIDFloat4:
		return valueType{sch(connect.TypeFloat32, ""), func(s string) (any, error) {
			f, err := strconv.ParseFloat(s, 32)
			return float32(f), err
		}}
	case pgsql.OIDFloat8:
		return valueType{sch(connect.TypeFloat64, ""), func(s string) (any, error) { return strconv.ParseFloat(s, 64) }}
	case pgsql.OIDNumeric:
		return numericType(typmod, optional, c)
	case pgsql.OIDText, pgsql.OIDVarchar, pgsql.OIDBPChar, pgsql.OIDName:
		return valueType{sch(connect.TypeString, ""), func(s string) (any, error) { return s, nil }}
	case pgsql.OIDUUID:
		return valueType{sch(connect.TypeString, nameUUID), func(s string) (any, error) { return s, nil }}
	case pgsql.OIDJSON, pgsql.OIDJSONB:
		return valueType{sch(connect.TypeString, nameJSON), func(s string) (any, error) { return s, nil }}
	case pgsql.OIDBytea:
		return valueType{sch(connect.TypeBytes, ""), decodeBytea}
	case pgsql.OIDDate:
		name := nameDate
		if c.timeMode == "connect" {
			name = connect.DateSchemaName
		}
		return valueType{sch(connect.TypeInt32, name), func(s string) (any, error) {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				return nil, err
			}
			return int32(d.Unix() / 86400), nil
		}}
	case pgsql.OIDTime:
		precision := timePrecision(typmod)
		switch {
		case c.timeMode == "connect":
			return valueType{sch(connect.TypeInt32, connect.TimeSchemaName), func(s string) (any, error) {
				us, err := parseTimeOfDay(s)
				return int32(us / 1000), err
			}}
		case c.timeMode == "adaptive" && precision <= 3:
			return valueType{sch(connect.TypeInt32, nameTime), func(s string) (any, error) {
				us, err := parseTimeOfDay(s)
				return int32(us / 1000), err
			}}
		default:
			return valueType{sch(connect.TypeInt64, nameMicroTime), func(s string) (any, error) { return parseTimeOfDay(s) }}
		}
	case pgsql.OIDTimestamp:
		precision := timePrecision(typmod)
		parse := func(s string) (time.Time, error) { return time.Parse("2006-01-02 15:04:05.999999999", s) }
		switch {
		case c.timeMode == "connect" || precision <= 3:
			name := nameTimestamp
			if c.timeMode == "connect" {
				name = connect.TimestampSchemaName
			}
			return valueType{sch(connect.TypeInt64, name), func(s string) (any, error) {
				t, err := parse(s)
				return t.UnixMilli(), err
			}}
		default:
			return valueType{sch(connect.TypeInt64, nameMicroTimestamp), func(s string) (any, error) {
				t, err := parse(s)
				return t.UnixMicro(), err
			}}
		}
	case pgsql.OIDTimestamptz:
		return valueType{sch(connect.TypeString, nameZonedTimestamp), func(s string) (any, error) {
			t, err := parseTimestamptz(s)
			if err != nil {
				return nil, err
			}
			return t.UTC().Format("2006-01-02T15:04:05.999999Z"), nil
		}}
	}
	return valueType{sch(connect.TypeString, ""), func(s string) (any, error) { return s, nil }}
}

// timePrecision is the fractional-second precision of a time/timestamp typmod (-1: default 6).
func timePrecision(typmod int32) int {
	if typmod < 0 {
		return 6
	}
	return int(typmod)
}

func parseTimeOfDay(s string) (int64, error) {
	if s == "24:00:00" {
		return 24 * 3600 * 1e6, nil
	}
	t, err := time.Parse("15:04:05.999999999", s)
	if err != nil {
		return 0, err
	}
	return int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000), nil
}

func parseTimestamptz(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func decodeBytea(s string) (any, error) {
	if !strings.HasPrefix(s, `\x`) {
		return nil, fmt.Errorf("bytea %q is not in hex format (set bytea_output=hex)", truncate(s))
	}
	return hex.DecodeString(s[2:])
}

func numericType(typmod int32, optional bool, c *config) valueType {
	switch c.decimalMode {
	case "double":
		return valueType{&connect.Schema{Type: connect.TypeFloat64, Optional: optional}, func(s string) (any, error) { return strconv.ParseFloat(s, 64) }}
	case "string":
		return valueType{&connect.Schema{Type: connect.TypeString, Optional: optional}, func(s string) (any, error) { return s, nil }}
	}
	if typmod >= 4 {
		precision := ((typmod - 4) >> 16) & 0xffff
		scale := (typmod - 4) & 0xffff
		return valueType{
			schema: &connect.Schema{Type: connect.TypeBytes, Optional: optional, Name: connect.DecimalSchemaName, Version: 1,
				Parameters: map[string]string{"scale": strconv.Itoa(int(scale)), "connect.decimal.precision": strconv.Itoa(int(precision))}},
			decode: func(s string) (any, error) {
				unscaled, sc, err := parseDecimal(s)
				if err != nil {
					return nil, err
				}
				if sc != int(scale) {
					return nil, fmt.Errorf("numeric %q has scale %d, column scale is %d", s, sc, scale)
				}
				return twosComplement(unscaled), nil
			},
		}
	}
	// Unconstrained numeric: each value carries its own scale, as Debezium's VariableScaleDecimal.
	vs := &connect.Schema{Type: connect.TypeStruct, Optional: optional, Name: nameVariableDecimal, Version: 1, Doc: "Variable scaled decimal"}
	vs.Fields = []connect.Field{
		{Name: "scale", Index: 0, Schema: &connect.Schema{Type: connect.TypeInt32}},
		{Name: "value", Index: 1, Schema: &connect.Schema{Type: connect.TypeBytes}},
	}
	return valueType{schema: vs, decode: func(s string) (any, error) {
		unscaled, sc, err := parseDecimal(s)
		if err != nil {
			return nil, err
		}
		st := connect.NewStruct(vs)
		if err := st.Put("scale", int32(sc)); err != nil {
			return nil, err
		}
		if err := st.Put("value", twosComplement(unscaled)); err != nil {
			return nil, err
		}
		return st, nil
	}}
}

// parseDecimal parses Postgres's numeric text form into an unscaled integer and a scale.
func parseDecimal(s string) (*big.Int, int, error) {
	if s == "NaN" || strings.Contains(s, "Infinity") {
		return nil, 0, fmt.Errorf("numeric %s cannot be represented as a Connect Decimal (use decimal.handling.mode=double or string)", s)
	}
	digits, scale := s, 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		digits, scale = s[:i]+s[i+1:], len(s)-i-1
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, 0, fmt.Errorf("numeric %q is not a decimal number", truncate(s))
	}
	return n, scale, nil
}

// twosComplement is Java's BigInteger.toByteArray: minimal big-endian two's complement.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n = ~(n-1): take |n|-1, invert the bytes, and make sure the sign bit is set.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// decodeArray parses a one-dimensional array literal ({a,"b c",NULL}) and decodes each element.
func decodeArray(s string, elem func(string) (any, error)) (any, error) {
	if i := strings.Index(s, "="); i >= 0 && strings.HasPrefix(s, "[") {
		s = s[i+1:] // explicit bounds: [0:2]={...}
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("array literal %q is malformed", truncate(s))
	}
	body := s[1 : len(s)-1]
	out := []any{}
	if body == "" {
		return out, nil
	}
	if strings.HasPrefix(body, "{") {
		return nil, fmt.Errorf("multi-dimensional arrays are not supported (%q)", truncate(s))
	}
	i := 0
	for {
		var raw string
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			var b strings.Builder
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			if i >= len(body) {
				return nil, fmt.Errorf("array literal %q has an unterminated quote", truncate(s))
			}
			i++ // closing quote
			raw = b.String()
		} else {
			j := strings.IndexByte(body[i:], ',')
			if j < 0 {
				j = len(body) - i
			}
			raw = strings.TrimSpace(body[i : i+j])
			i += j
		}
		if !quoted && raw == "NULL" {
			out = append(out, nil)
		} else {
			v, err := elem(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if i >= len(body) {
			return out, nil
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("array literal %q is malformed", truncate(s))
		}
		i++
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// zeroValue is a required field's value when the row image lacks it (a key-only old tuple).
func zeroValue(s *connect.Schema) any {
	switch s.Type {
	case connect.TypeInt8:
		return int8(0)
	case connect.TypeInt16:
		return int16(0)
	case connect.TypeInt32:
		return int32(0)
	case connect.TypeInt64:
		return int64(0)
	case connect.TypeFloat32:
		return float32(0)
	case connect.TypeFloat64:
		return float64(0)
	case connect.TypeBoolean:
		return false
	case connect.TypeString:
		return ""
	case connect.TypeBytes:
		return []byte{}
	case connect.TypeArray:
		return []any{}
	case connect.TypeStruct:
		return connect.NewStruct(s)
	}
	return nil
}
