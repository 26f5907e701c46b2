package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Converter turns Connect data into the bytes of a Kafka record key or value and back. It is
// configured once with its prefixed properties stripped (for value.converter.schemas.enable=false it
// sees schemas.enable=false) and isKey. Implementations must be safe for use by one task at a time.
type Converter interface {
	Configure(config map[string]string, isKey bool) error
	FromConnect(topic string, schema *Schema, value any) ([]byte, error)
	ToConnect(topic string, data []byte) (*Schema, any, error)
}

// Kafka's converter class names.
const (
	JSONConverterClass      = "org.apache.kafka.connect.json.JsonConverter"
	StringConverterClass    = "org.apache.kafka.connect.storage.StringConverter"
	ByteArrayConverterClass = "org.apache.kafka.connect.converters.ByteArrayConverter"
)

// ErrUnknownConverter reports a converter class that is not built in.
var ErrUnknownConverter = errors.New("connect: unknown converter class")

// NewConverter returns a configured converter for a Kafka class name (or the short names JsonConverter,
// StringConverter, ByteArrayConverter).
func NewConverter(class string, config map[string]string, isKey bool) (Converter, error) {
	var c Converter
	switch class {
	case JSONConverterClass, "JsonConverter":
		c = &JSONConverter{}
	case StringConverterClass, "StringConverter":
		c = StringConverter{}
	case ByteArrayConverterClass, "ByteArrayConverter":
		c = ByteArrayConverter{}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownConverter, class)
	}
	if err := c.Configure(config, isKey); err != nil {
		return nil, err
	}
	return c, nil
}

// StringConverter writes values as UTF-8 strings (any non-string via fmt) and reads them as
// optional strings.
type StringConverter struct{}

// Configure implements Converter.
func (StringConverter) Configure(map[string]string, bool) error { return nil }

// FromConnect implements Converter.
func (StringConverter) FromConnect(_ string, _ *Schema, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	default:
		return []byte(fmt.Sprint(v)), nil
	}
}

// ToConnect implements Converter.
func (StringConverter) ToConnect(_ string, data []byte) (*Schema, any, error) {
	if data == nil {
		return OptionalStringSchema, nil, nil
	}
	return OptionalStringSchema, string(data), nil
}

// ByteArrayConverter passes bytes through unchanged.
type ByteArrayConverter struct{}

// Configure implements Converter.
func (ByteArrayConverter) Configure(map[string]string, bool) error { return nil }

// FromConnect implements Converter.
func (ByteArrayConverter) FromConnect(_ string, schema *Schema, value any) ([]byte, error) {
	if schema != nil && schema.Type != TypeBytes {
		return nil, fmt.Errorf("%w: ByteArrayConverter needs a bytes schema, got %s", ErrDataInvalid, schema.Type)
	}
	switch v := value.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	default:
		return nil, fmt.Errorf("%w: ByteArrayConverter needs []byte, got %T", ErrDataInvalid, value)
	}
}

// ToConnect implements Converter.
func (ByteArrayConverter) ToConnect(_ string, data []byte) (*Schema, any, error) {
	return OptionalBytesSchema, data, nil
}

// JSONConverter is Kafka's JsonConverter. With schemas.enable=true (the default) it writes and reads
// the {"schema": ..., "payload": ...} envelope; with false, plain JSON.
type JSONConverter struct {
	SchemasEnable bool

	lastSchema     *Schema // cache of the last schema rendered, see FromConnect
	lastSchemaJSON []byte
	lastParsed     *Schema // cache of the last schema parsed, see ToConnect
	lastParsedJSON []byte
}

// Configure implements Converter.
func (c *JSONConverter) Configure(config map[string]string, _ bool) error {
	c.SchemasEnable = true
	if v, ok := config["schemas.enable"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("schemas.enable: %q is not a boolean", v)
		}
		c.SchemasEnable = b
	}
	return nil
}

// FromConnect implements Converter.
func (c *JSONConverter) FromConnect(_ string, schema *Schema, value any) ([]byte, error) {
	if schema == nil && value == nil {
		return nil, nil // a tombstone stays a tombstone
	}
	payload, err := toJSONValue(schema, value)
	if err != nil {
		return nil, err
	}
	if !c.SchemasEnable {
		return json.Marshal(payload)
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	sb := []byte("null")
	if schema != nil {
		// NB: records of one task usually share a schema; rendering it once per schema saves most of
		// the converter's time.
		if schema != c.lastSchema {
			if c.lastSchemaJSON, err = json.Marshal(SchemaToJSON(schema)); err != nil {
				return nil, err
			}
			c.lastSchema = schema
		}
		sb = c.lastSchemaJSON
	}
	out := make([]byte, 0, len(sb)+len(pb)+24)
	out = append(out, `{"schema":`...)
	out = append(out, sb...)
	out = append(out, `,"payload":`...)
	out = append(out, pb...)
	return append(out, '}'), nil
}

// ToConnect implements Converter.
func (c *JSONConverter) ToConnect(_ string, data []byte) (*Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	if !c.SchemasEnable {
		v, err := decodeJSON(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: converting byte[] to Kafka Connect data failed due to serialization error: %v", ErrDataInvalid, err)
		}
		return nil, schemalessFromJSON(v), nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		if !json.Valid(data) {
			return nil, nil, fmt.Errorf("%w: converting byte[] to Kafka Connect data failed due to serialization error: %v", ErrDataInvalid, err)
		}
		env = nil // valid JSON, but not an object
	}
	rawSchema, hasSchema := env["schema"]
	rawPayload, hasPayload := env["payload"]
	if len(env) != 2 || !hasSchema || !hasPayload {
		return nil, nil, fmt.Errorf("%w: JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration", ErrDataInvalid)
	}
	payload, err := decodeJSON(rawPayload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrDataInvalid, err)
	}
	if string(bytes.TrimSpace(rawSchema)) == "null" {
		return nil, schemalessFromJSON(payload), nil
	}
	// NB: records of one topic usually share a schema; parse it once per distinct schema text.
	schema := c.lastParsed
	if schema == nil || !bytes.Equal(rawSchema, c.lastParsedJSON) {
		sv, err := decodeJSON(rawSchema)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: schema: %v", ErrDataInvalid, err)
		}
		if schema, err = SchemaFromJSON(sv); err != nil {
			return nil, nil, err
		}
		c.lastParsed, c.lastParsedJSON = schema, append(c.lastParsedJSON[:0], rawSchema...)
	}
	value, err := fromJSONValue(schema, payload)
	if err != nil {
		return nil, nil, err
	}
	return schema, value, nil
}

// SchemaToJSON renders a schema in JsonConverter's schema format.
func SchemaToJSON(s *Schema) map[string]any {
	m := map[string]any{"type": string(s.Type), "optional": s.Optional}
	if s.Name != "" {
		m["name"] = s.Name
	}
	if s.Version != 0 {
		m["version"] = s.Version
	}
	if s.Doc != "" {
		m["doc"] = s.Doc
	}
	if len(s.Parameters) > 0 {
		m["parameters"] = s.Parameters
	}
	if s.Default != nil {
		if d, err := toJSONValue(s, s.Default); err == nil {
			m["default"] = d
		}
	}
	switch s.Type {
	case TypeArray:
		if s.ValueSchema != nil {
			m["items"] = SchemaToJSON(s.ValueSchema)
		}
	case TypeMap:
		if s.KeySchema != nil {
			m["keys"] = SchemaToJSON(s.KeySchema)
		}
		if s.ValueSchema != nil {
			m["values"] = SchemaToJSON(s.ValueSchema)
		}
	case TypeStruct:
		fields := make([]any, 0, len(s.Fields))
		for _, f := range s.Fields {
			fm := SchemaToJSON(f.Schema)
			fm["field"] = f.Name
			fields = append(fields, fm)
		}
		m["fields"] = fields
	}
	return m
}

// SchemaFromJSON parses JsonConverter's schema format.
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
	if n, ok := m["version"].(int64); ok {
		s.Version = int(n)
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
	if d, ok := m["default"]; ok && d != nil {
		if s.Default, err = fromJSONValue(s, d); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return s, nil
}

// decodeJSON parses JSON keeping integers as int64 and other numbers as float64.
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return normalizeJSON(v), nil
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

// schemalessFromJSON maps decoded JSON to Connect's schemaless values (objects become map[any]any).
func schemalessFromJSON(v any) any {
	switch x := v.(type) {
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

// toJSONValue renders a Connect value as a JSON-marshalable value.
func toJSONValue(schema *Schema, value any) (any, error) {
	if value == nil {
		if schema != nil && schema.Default != nil {
			return toJSONValue(schema, schema.Default)
		}
		if schema != nil && !schema.Optional {
			return nil, fmt.Errorf("%w: conversion error: null value for field that is required and has no default value", ErrDataInvalid)
		}
		return nil, nil
	}
	if err := ValidateValue(schema, value); err != nil {
		return nil, err
	}
	switch v := value.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: %v cannot be written as JSON", ErrDataInvalid, v)
		}
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: %v cannot be written as JSON", ErrDataInvalid, v)
		}
		return v, nil
	case []any:
		var es *Schema
		if schema != nil {
			es = schema.ValueSchema
		}
		out := make([]any, len(v))
		for i, e := range v {
			j, err := toJSONValue(es, e)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			j, err := toJSONValue(nil, e)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		var ks, vs *Schema
		if schema != nil {
			ks, vs = schema.KeySchema, schema.ValueSchema
		}
		stringKeys := ks == nil || ks.Type == TypeString
		for k := range v {
			if _, ok := k.(string); !ok {
				stringKeys = false
			}
		}
		if stringKeys {
			out := make(map[string]any, len(v))
			for k, e := range v {
				j, err := toJSONValue(vs, e)
				if err != nil {
					return nil, err
				}
				out[k.(string)] = j
			}
			return out, nil
		}
		// NB: JsonConverter writes maps with non-string keys as an array of [key, value] pairs.
		pairs := make([]any, 0, len(v))
		for k, e := range v {
			jk, err := toJSONValue(ks, k)
			if err != nil {
				return nil, err
			}
			jv, err := toJSONValue(vs, e)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, []any{jk, jv})
		}
		sort.Slice(pairs, func(i, j int) bool { return fmt.Sprint(pairs[i]) < fmt.Sprint(pairs[j]) })
		return pairs, nil
	case *Struct:
		out := make(map[string]any, len(v.Schema.Fields))
		for _, f := range v.Schema.Fields {
			j, err := toJSONValue(f.Schema, v.values[f.Index])
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			out[f.Name] = j
		}
		return out, nil
	case int8, int16, int32, int64, int, bool, string:
		return v, nil
	default:
		return nil, fmt.Errorf("%w: %T has no Connect representation", ErrDataInvalid, value)
	}
}

// fromJSONValue converts a decoded JSON payload to the Connect value of schema.
func fromJSONValue(schema *Schema, v any) (any, error) {
	if v == nil {
		if schema.Default != nil {
			return schema.Default, nil
		}
		if !schema.Optional {
			return nil, fmt.Errorf("%w: invalid null value for required %s field", ErrDataInvalid, schema.Type)
		}
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("%w: JSON value %v is not a valid %s", ErrDataInvalid, v, schema.Type)
	}
	integer := func(lo, hi int64) (int64, bool) {
		i, ok := v.(int64)
		return i, ok && i >= lo && i <= hi
	}
	switch schema.Type {
	case TypeInt8:
		if i, ok := integer(math.MinInt8, math.MaxInt8); ok {
			return int8(i), nil
		}
	case TypeInt16:
		if i, ok := integer(math.MinInt16, math.MaxInt16); ok {
			return int16(i), nil
		}
	case TypeInt32:
		if i, ok := integer(math.MinInt32, math.MaxInt32); ok {
			return int32(i), nil
		}
	case TypeInt64:
		if i, ok := integer(math.MinInt64, math.MaxInt64); ok {
			return i, nil
		}
	case TypeFloat32, TypeFloat64:
		var f float64
		switch n := v.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			return bad()
		}
		if schema.Type == TypeFloat32 {
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
				c, err := fromJSONValue(schema.ValueSchema, e)
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
				c, err := fromJSONValue(schema.ValueSchema, e)
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
				k, err := fromJSONValue(schema.KeySchema, pair[0])
				if err != nil {
					return nil, err
				}
				switch k.(type) {
				case []byte, []any, map[any]any:
					// NB: Go map keys must be comparable; Kafka allows these keys but we cannot hold them.
					return nil, fmt.Errorf("%w: %s map keys are not supported", ErrDataInvalid, schema.KeySchema.Type)
				}
				e, err := fromJSONValue(schema.ValueSchema, pair[1])
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
				c, err := fromJSONValue(f.Schema, m[f.Name])
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
