package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
)

// SchemaToJSON renders a schema in JsonConverter's schema format as a generic JSON value (for
// callers that embed it in other JSON; FromConnect writes the same fields in Kafka's order).
func SchemaToJSON(s *Schema) map[string]any {
	b, err := (&JSONConverter{}).appendSchema(nil, s)
	if err != nil {
		return map[string]any{"type": string(s.Type), "optional": s.Optional}
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// SchemaFromJSON parses JsonConverter's schema format (a value decoded from JSON; numbers may be
// json.Number, int64 or float64).
func SchemaFromJSON(v any) (*Schema, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: schema must be a JSON object", ErrDataInvalid)
	}
	t, _ := m["type"].(string)
	s := &Schema{Type: Type(t)}
	switch s.Type {
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64, TypeFloat32, TypeFloat64, TypeBoolean, TypeString, TypeBytes, TypeArray, TypeMap, TypeStruct:
	default:
		return nil, fmt.Errorf("%w: unknown schema type %q", ErrDataInvalid, t)
	}
	s.Optional, _ = m["optional"].(bool)
	s.Name, _ = m["name"].(string)
	s.Doc, _ = m["doc"].(string)
	switch n := m["version"].(type) {
	case int64:
		s.Version = int(n)
	case float64:
		s.Version = int(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			s.Version = int(i)
		}
	}
	if p, ok := m["parameters"].(map[string]any); ok {
		s.Parameters = map[string]string{}
		for k, v := range p {
			s.Parameters[k] = fmt.Sprint(v)
		}
	}
	var err error
	switch s.Type {
	case TypeArray:
		if s.ValueSchema, err = SchemaFromJSON(m["items"]); err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
	case TypeMap:
		if s.KeySchema, err = SchemaFromJSON(m["keys"]); err != nil {
			return nil, fmt.Errorf("map keys: %w", err)
		}
		if s.ValueSchema, err = SchemaFromJSON(m["values"]); err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
	case TypeStruct:
		fields, _ := m["fields"].([]any)
		for i, f := range fields {
			fs, err := SchemaFromJSON(f)
			if err != nil {
				return nil, fmt.Errorf("struct field %d: %w", i, err)
			}
			name, _ := f.(map[string]any)["field"].(string)
			s.Fields = append(s.Fields, Field{Name: name, Index: i, Schema: fs})
		}
	}
	if s.Name == DecimalSchemaName && s.Type == TypeBytes {
		if _, err := DecimalScale(s); err != nil {
			return nil, err
		}
	}
	if d, ok := m["default"]; ok && d != nil {
		if s.Default, err = fromJSONValue(s, d, false); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return s, nil
}

// decodeJSON parses JSON keeping integers as int64 and other numbers as float64.
func decodeJSON(data []byte) (any, error) {
	v, err := decodeJSONNumbers(data)
	if err != nil {
		return nil, err
	}
	return normalizeJSON(v), nil
}

// decodeJSONNumbers parses JSON keeping numbers as json.Number, so a Decimal keeps every digit.
func decodeJSONNumbers(data []byte) (any, error) {
	if t := data[skipSpace(data, 0):]; len(t) > 0 && t[0] == '"' {
		// NB: most payloads of a line-oriented pipeline are one string; skip the Decoder for them.
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, err
		}
		return s, nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// NB: Decoder.More is false for a stray ']' or '}', so look at the rest directly.
	if skipSpace(data, int(d.InputOffset())) != len(data) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// normalizeJSON replaces json.Number with int64 (when integral and in range) or float64.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
	}
	return v
}

// schemalessFromJSON maps decoded JSON to Connect's schemaless values (objects become map[any]any,
// numbers int64 or float64).
func schemalessFromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		return normalizeJSON(x)
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = schemalessFromJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = schemalessFromJSON(e)
		}
		return x
	}
	return v
}

// jsonNumber returns the text of a decoded JSON number (json.Number, int64 or float64).
func jsonNumber(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return n.String(), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

// fromJSONValue converts a decoded JSON payload to the Connect value of schema. A null becomes the
// schema's default unless keepNull (replace.null.with.default=false) and the schema is optional.
func fromJSONValue(schema *Schema, v any, keepNull bool) (any, error) {
	if v == nil {
		if schema.Default != nil && !keepNull {
			return schema.Default, nil
		}
		if !schema.Optional {
			return nil, fmt.Errorf("%w: invalid null value for required %s field", ErrDataInvalid, schema.Type)
		}
		return nil, nil
	}
	if schema.Name == DecimalSchemaName && schema.Type == TypeBytes {
		// Kafka reads a Decimal from a JSON number as well as from base64 bytes.
		if num, ok := jsonNumber(v); ok {
			d, ok := new(big.Rat).SetString(num)
			if !ok {
				return nil, fmt.Errorf("%w: JSON number %s is not a valid Decimal", ErrDataInvalid, num)
			}
			return d, nil
		}
	}
	prim, err := fromJSONPrimitive(schema, v, keepNull)
	if err != nil {
		return nil, err
	}
	return PrimitiveToLogical(schema, prim)
}

func fromJSONPrimitive(schema *Schema, v any, keepNull bool) (any, error) {
	bad := func() (any, error) {
		return nil, fmt.Errorf("%w: JSON value %v is not a valid %s", ErrDataInvalid, v, schema.Type)
	}
	integer := func(bits int) (int64, bool) {
		num, ok := jsonNumber(v)
		if !ok {
			return 0, false
		}
		i, err := strconv.ParseInt(num, 10, bits)
		return i, err == nil
	}
	switch schema.Type {
	case TypeInt8:
		if i, ok := integer(8); ok {
			return int8(i), nil
		}
	case TypeInt16:
		if i, ok := integer(16); ok {
			return int16(i), nil
		}
	case TypeInt32:
		if i, ok := integer(32); ok {
			return int32(i), nil
		}
	case TypeInt64:
		if i, ok := integer(64); ok {
			return i, nil
		}
	case TypeFloat32, TypeFloat64:
		num, ok := jsonNumber(v)
		if !ok {
			return bad()
		}
		bits := 64
		if schema.Type == TypeFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(num, bits)
		if err != nil {
			return bad()
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeBytes:
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%w: bytes field is not base64: %v", ErrDataInvalid, err)
			}
			return b, nil
		}
	case TypeArray:
		if a, ok := v.([]any); ok {
			out := make([]any, len(a))
			for i, e := range a {
				c, err := fromJSONValue(schema.ValueSchema, e, keepNull)
				if err != nil {
					return nil, err
				}
				out[i] = c
			}
			return out, nil
		}
	case TypeMap:
		out := map[any]any{}
		switch m := v.(type) {
		case map[string]any:
			if schema.KeySchema.Type != TypeString {
				return bad()
			}
			for k, e := range m {
				c, err := fromJSONValue(schema.ValueSchema, e, keepNull)
				if err != nil {
					return nil, err
				}
				out[k] = c
			}
			return out, nil
		case []any:
			for _, p := range m {
				pair, ok := p.([]any)
				if !ok || len(pair) != 2 {
					return bad()
				}
				k, err := fromJSONValue(schema.KeySchema, pair[0], keepNull)
				if err != nil {
					return nil, err
				}
				switch k.(type) {
				case []byte, []any, map[any]any, *big.Rat:
					// NB: Go map keys must be comparable; Kafka allows these keys but we cannot hold them.
					return nil, fmt.Errorf("%w: %s map keys are not supported", ErrDataInvalid, schema.KeySchema.Type)
				}
				e, err := fromJSONValue(schema.ValueSchema, pair[1], keepNull)
				if err != nil {
					return nil, err
				}
				out[k] = e
			}
			return out, nil
		}
	case TypeStruct:
		if m, ok := v.(map[string]any); ok {
			st := NewStruct(schema)
			for _, f := range schema.Fields {
				c, err := fromJSONValue(f.Schema, m[f.Name], keepNull)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", f.Name, err)
				}
				st.values[f.Index] = c
			}
			return st, nil
		}
	}
	return bad()
}
