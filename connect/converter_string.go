package connect

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// StringConverter writes values as UTF-8 strings and reads them as optional strings. Like Kafka's
// StringConverter, which writes a value's toString, a Struct is written as Struct{id=1,name=apples}
// (null fields left out), a map as {k=v, k2=v2} (keys sorted) and an array as [a, b].
type StringConverter struct{}

// Configure implements Converter.
func (StringConverter) Configure(map[string]string, bool) error { return nil }

// FromConnect implements Converter. A Decimal is written in plain notation at its scale ("1.50"),
// a time.Time in RFC 3339 (UTC, millisecond precision), bytes inside a struct, map or array in
// base64; a top-level string or []byte is written as is.
func (StringConverter) FromConnect(_ string, schema *Schema, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	}
	return appendConnectString(nil, schema, value), nil
}

// ToConnect implements Converter.
func (StringConverter) ToConnect(_ string, data []byte) (*Schema, any, error) {
	if data == nil {
		return OptionalStringSchema, nil, nil
	}
	return OptionalStringSchema, string(data), nil
}

// appendConnectString appends value rendered as Kafka's toString renders Connect data. schema may
// be nil (schemaless).
func appendConnectString(buf []byte, schema *Schema, value any) []byte {
	switch v := value.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return append(buf, v...)
	case []byte:
		return base64.StdEncoding.AppendEncode(buf, v)
	case *big.Rat:
		if scale, err := DecimalScale(schema); err == nil {
			if s, err := DecimalString(v, scale); err == nil {
				return append(buf, s...)
			}
		}
		return append(buf, v.RatString()...)
	case time.Time:
		return v.UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z07:00")
	case bool:
		return strconv.AppendBool(buf, v)
	case float32:
		return strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(buf, v, 'g', -1, 64)
	case *Struct:
		if v == nil {
			return append(buf, "null"...)
		}
		return v.appendString(buf)
	case []any:
		var elem *Schema
		if schema != nil {
			elem = schema.ValueSchema
		}
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendConnectString(buf, elem, e)
		}
		return append(buf, ']')
	}
	rv := reflect.ValueOf(value)
	if rv.Kind() == reflect.Map {
		return appendConnectMap(buf, schema, rv)
	}
	return fmt.Append(buf, value)
}

// appendString appends s as Kafka's Struct.toString does: Struct{name=value,...}, null fields left out.
func (s *Struct) appendString(buf []byte) []byte {
	buf = append(buf, "Struct{"...)
	first := true
	for i, f := range s.Schema.Fields {
		if i >= len(s.values) || s.values[i] == nil {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, f.Name...)
		buf = append(buf, '=')
		buf = appendConnectString(buf, f.Schema, s.values[i])
	}
	return append(buf, '}')
}

// appendConnectMap appends a map as {k=v, k2=v2}, ordered by the rendered keys so the output is stable.
func appendConnectMap(buf []byte, schema *Schema, m reflect.Value) []byte {
	var keySchema, valueSchema *Schema
	if schema != nil {
		keySchema, valueSchema = schema.KeySchema, schema.ValueSchema
	}
	type entry struct{ key, value []byte }
	entries := make([]entry, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		entries = append(entries, entry{
			key:   appendConnectString(nil, keySchema, it.Key().Interface()),
			value: appendConnectString(nil, valueSchema, it.Value().Interface()),
		})
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(string(a.key), string(b.key)) })
	buf = append(buf, '{')
	for i, e := range entries {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(append(append(buf, e.key...), '='), e.value...)
	}
	return append(buf, '}')
}

// String renders s as Kafka's Struct.toString does, so a struct printed in a log or by %v reads
// Struct{id=1,name=apples}.
func (s *Struct) String() string {
	if s == nil {
		return "null"
	}
	return string(s.appendString(nil))
}
