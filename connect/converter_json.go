package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// JSONConverter is Kafka's JsonConverter. With schemas.enable=true (the default) it writes and reads
// the {"schema": ..., "payload": ...} envelope; with false, plain JSON. Its output is byte-for-byte
// what Kafka's JsonConverter writes: object keys in Kafka's order (a schema's "type" first, "field"
// last; a struct's fields in schema order; map keys sorted), Java's spelling of floating-point
// numbers (1.0, 1.0E10) and Jackson's string escapes. Logical types are written as Kafka does:
// Decimal as base64 of the unscaled two's complement bytes (or a JSON number with
// decimal.format=NUMERIC), Date, Time and Timestamp as their int32/int64 representation. Reading
// accepts a Decimal either way, as Kafka does.
//
// NB: without a schema, Kafka cannot write a java.util.Date ("does not have corresponding schema
// type"); Gregor writes a schemaless time.Time as epoch milliseconds instead, which is what a
// schemaless TimestampConverter user wants. A schemaless *big.Rat is rejected, as in Kafka.
type JSONConverter struct {
	SchemasEnable bool
	// DecimalNumeric writes Decimal values as JSON numbers (decimal.format=NUMERIC).
	DecimalNumeric bool
	// KeepNullOverDefault is replace.null.with.default=false: a null in an optional field with a
	// default stays null instead of becoming the default, writing and reading.
	KeepNullOverDefault bool

	lastSchema     *Schema // cache of the last schema rendered, see FromConnect
	lastSchemaJSON []byte
	lastParsed     *Schema // cache of the last schema parsed, see ToConnect
	lastParsedJSON []byte
}

func (c *JSONConverter) replaceNull() bool { return !c.KeepNullOverDefault }

// Configure implements Converter: schemas.enable (default true), decimal.format (BASE64 or
// NUMERIC, default BASE64) and replace.null.with.default (default true).
func (c *JSONConverter) Configure(config map[string]string, _ bool) error {
	c.SchemasEnable = true
	if v, ok := config["schemas.enable"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("schemas.enable: %q is not a boolean", v)
		}
		c.SchemasEnable = b
	}
	c.KeepNullOverDefault = false
	if v, ok := config["replace.null.with.default"]; ok {
		r, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("replace.null.with.default: %q is not a boolean", v)
		}
		c.KeepNullOverDefault = !r
	}
	c.DecimalNumeric = false
	if v, ok := config["decimal.format"]; ok {
		switch strings.ToUpper(strings.TrimSpace(v)) {
		case "BASE64", "":
		case "NUMERIC":
			c.DecimalNumeric = true
		default:
			return fmt.Errorf("decimal.format: %q must be BASE64 or NUMERIC", v)
		}
	}
	return nil
}

// FromConnect implements Converter.
func (c *JSONConverter) FromConnect(_ string, schema *Schema, value any) ([]byte, error) {
	if schema == nil && value == nil {
		return nil, nil // a tombstone stays a tombstone
	}
	if !c.SchemasEnable {
		return c.appendValue(nil, schema, value)
	}
	sb := []byte("null")
	if schema != nil {
		// NB: records of one task usually share a schema; rendering it once per schema saves most of
		// the converter's time.
		if schema != c.lastSchema {
			b, err := c.appendSchema(nil, schema)
			if err != nil {
				return nil, err
			}
			c.lastSchema, c.lastSchemaJSON = schema, b
		}
		sb = c.lastSchemaJSON
	}
	out := make([]byte, 0, len(sb)+64)
	out = append(out, `{"schema":`...)
	out = append(out, sb...)
	out = append(out, `,"payload":`...)
	out, err := c.appendValue(out, schema, value)
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// ToConnect implements Converter.
func (c *JSONConverter) ToConnect(_ string, data []byte) (*Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	if !c.SchemasEnable {
		v, err := decodeJSONNumbers(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: converting byte[] to Kafka Connect data failed due to serialization error: %v", ErrDataInvalid, err)
		}
		return nil, schemalessFromJSON(v), nil
	}
	rawSchema, rawPayload, ok := splitEnvelope(data)
	if !ok {
		// The slow path, which also words the errors.
		var env map[string]json.RawMessage
		if err := json.Unmarshal(data, &env); err != nil {
			if !json.Valid(data) {
				return nil, nil, fmt.Errorf("%w: converting byte[] to Kafka Connect data failed due to serialization error: %v", ErrDataInvalid, err)
			}
			env = nil // valid JSON, but not an object
		}
		var hasSchema, hasPayload bool
		rawSchema, hasSchema = env["schema"]
		rawPayload, hasPayload = env["payload"]
		if len(env) != 2 || !hasSchema || !hasPayload {
			return nil, nil, fmt.Errorf("%w: JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration", ErrDataInvalid)
		}
	}
	payload, err := decodeJSONNumbers(rawPayload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrDataInvalid, err)
	}
	if string(bytes.TrimSpace(rawSchema)) == "null" {
		return nil, schemalessFromJSON(payload), nil
	}
	// NB: records of one topic usually share a schema; parse it once per distinct schema text.
	schema := c.lastParsed
	if schema == nil || !bytes.Equal(rawSchema, c.lastParsedJSON) {
		sv, err := decodeJSONNumbers(rawSchema)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: schema: %v", ErrDataInvalid, err)
		}
		if schema, err = SchemaFromJSON(sv); err != nil {
			return nil, nil, err
		}
		c.lastParsed, c.lastParsedJSON = schema, append(c.lastParsedJSON[:0], rawSchema...)
	}
	value, err := fromJSONValue(schema, payload, !c.replaceNull())
	if err != nil {
		return nil, nil, err
	}
	return schema, value, nil
}

// splitEnvelope finds the raw "schema" and "payload" values of {"schema":...,"payload":...} (in
// either order) without decoding them; ok is false for anything else (other or escaped keys,
// malformed JSON), which the caller handles on the slow path. The values are validated when they
// are decoded.
func splitEnvelope(data []byte) (schema, payload []byte, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, nil, false
	}
	i++
	for n := 0; n < 2; n++ {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return nil, nil, false
		}
		end := bytes.IndexByte(data[i+1:], '"')
		if end < 0 {
			return nil, nil, false
		}
		key := data[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return nil, nil, false
		}
		i = skipSpace(data, i+end+2)
		if i >= len(data) || data[i] != ':' {
			return nil, nil, false
		}
		start := skipSpace(data, i+1)
		stop := skipJSONValue(data, start)
		if stop < 0 {
			return nil, nil, false
		}
		switch string(key) {
		case "schema":
			if schema != nil {
				return nil, nil, false
			}
			schema = data[start:stop]
		case "payload":
			if payload != nil {
				return nil, nil, false
			}
			payload = data[start:stop]
		default:
			return nil, nil, false
		}
		i = skipSpace(data, stop)
		if i >= len(data) {
			return nil, nil, false
		}
		if n == 0 && data[i] != ',' || n == 1 && data[i] != '}' {
			return nil, nil, false
		}
		i++
	}
	if skipSpace(data, i) != len(data) || len(schema) == 0 || len(payload) == 0 {
		return nil, nil, false
	}
	return schema, payload, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipJSONValue returns the index just after the JSON value starting at i, or -1. It checks only
// the nesting of brackets and strings; the value's own validity is left to its decoder.
func skipJSONValue(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if i >= len(data) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar at the enclosing object's close
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	if depth != 0 {
		return -1
	}
	return i
}

// appendSchema writes s with Kafka's key order: type, items|keys,values|fields, optional, name,
// version, doc, parameters, default.
func (c *JSONConverter) appendSchema(b []byte, s *Schema) ([]byte, error) {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, string(s.Type))
	var err error
	switch s.Type {
	case TypeArray:
		if s.ValueSchema != nil {
			b = append(b, `,"items":`...)
			if b, err = c.appendSchema(b, s.ValueSchema); err != nil {
				return nil, err
			}
		}
	case TypeMap:
		if s.KeySchema != nil {
			b = append(b, `,"keys":`...)
			if b, err = c.appendSchema(b, s.KeySchema); err != nil {
				return nil, err
			}
		}
		if s.ValueSchema != nil {
			b = append(b, `,"values":`...)
			if b, err = c.appendSchema(b, s.ValueSchema); err != nil {
				return nil, err
			}
		}
	case TypeStruct:
		b = append(b, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			fb, err := c.appendSchema(nil, f.Schema)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			b = append(b, fb[:len(fb)-1]...) // reopen the object to add "field" last
			b = append(b, `,"field":`...)
			b = appendJSONString(b, f.Name)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, s.Optional)
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, s.Name)
	}
	if s.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(s.Version), 10)
	}
	if s.Doc != "" {
		b = append(b, `,"doc":`...)
		b = appendJSONString(b, s.Doc)
	}
	if len(s.Parameters) > 0 {
		// NB: Kafka keeps parameters in insertion order; a Go map has none. Decimal's "scale" comes
		// first (it is the first parameter Kafka and Debezium set), the rest sorted.
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			if k != DecimalScaleParameter {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if _, ok := s.Parameters[DecimalScaleParameter]; ok {
			keys = append([]string{DecimalScaleParameter}, keys...)
		}
		b = append(b, `,"parameters":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, s.Parameters[k])
		}
		b = append(b, '}')
	}
	if s.Default != nil {
		b = append(b, `,"default":`...)
		if b, err = c.appendValue(b, s, s.Default); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return append(b, '}'), nil
}

// appendValue writes value (of schema, or schemaless if schema is nil) as JSON.
func (c *JSONConverter) appendValue(b []byte, schema *Schema, value any) ([]byte, error) {
	if value == nil {
		switch {
		case schema == nil:
		case schema.Default != nil && c.replaceNull():
			return c.appendValue(b, schema, schema.Default)
		case !schema.Optional:
			return nil, fmt.Errorf("%w: conversion error: null value for field that is required and has no default value", ErrDataInvalid)
		}
		return append(b, "null"...), nil
	}
	if schema.IsLogical() {
		prim, err := LogicalToPrimitive(schema, value)
		if err != nil {
			return nil, err
		}
		if schema.Name == DecimalSchemaName && c.DecimalNumeric {
			scale, _ := DecimalScale(schema)
			s, err := DecimalString(value.(*big.Rat), scale)
			if err != nil {
				return nil, err
			}
			return append(b, s...), nil
		}
		value = prim
	}
	if schema == nil {
		return c.appendSchemaless(b, value)
	}
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("%w: %T is not a valid %s value", ErrDataInvalid, value, schema.Type)
	}
	switch schema.Type {
	case TypeInt8:
		if v, ok := value.(int8); ok {
			return strconv.AppendInt(b, int64(v), 10), nil
		}
	case TypeInt16:
		if v, ok := value.(int16); ok {
			return strconv.AppendInt(b, int64(v), 10), nil
		}
	case TypeInt32:
		if v, ok := value.(int32); ok {
			return strconv.AppendInt(b, int64(v), 10), nil
		}
	case TypeInt64:
		if v, ok := value.(int64); ok {
			return strconv.AppendInt(b, v, 10), nil
		}
	case TypeFloat32:
		if v, ok := value.(float32); ok {
			return appendJavaFloat(b, float64(v), 32)
		}
	case TypeFloat64:
		if v, ok := value.(float64); ok {
			return appendJavaFloat(b, v, 64)
		}
	case TypeBoolean:
		if v, ok := value.(bool); ok {
			return strconv.AppendBool(b, v), nil
		}
	case TypeString:
		if v, ok := value.(string); ok {
			return appendJSONString(b, v), nil
		}
	case TypeBytes:
		if v, ok := value.([]byte); ok {
			return appendBase64(b, v), nil
		}
	case TypeArray:
		if v, ok := value.([]any); ok {
			return c.appendArray(b, schema.ValueSchema, v)
		}
	case TypeMap:
		switch v := value.(type) {
		case map[any]any:
			return c.appendMap(b, schema.KeySchema, schema.ValueSchema, v)
		case map[string]any:
			m := make(map[any]any, len(v))
			for k, e := range v {
				m[k] = e
			}
			return c.appendMap(b, schema.KeySchema, schema.ValueSchema, m)
		}
	case TypeStruct:
		if v, ok := value.(*Struct); ok {
			if v.Schema != schema {
				return nil, fmt.Errorf("%w: struct value has another schema than its field (%s)", ErrDataInvalid, schemaLabel(schema))
			}
			return c.appendStruct(b, v)
		}
	}
	return bad()
}

func schemaLabel(s *Schema) string {
	if s.Name != "" {
		return s.Name
	}
	return string(s.Type)
}

func (c *JSONConverter) appendSchemaless(b []byte, value any) ([]byte, error) {
	switch v := value.(type) {
	case int8:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case float32:
		return appendJavaFloat(b, float64(v), 32)
	case float64:
		return appendJavaFloat(b, v, 64)
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendJSONString(b, v), nil
	case []byte:
		return appendBase64(b, v), nil
	case []any:
		return c.appendArray(b, nil, v)
	case map[any]any:
		return c.appendMap(b, nil, nil, v)
	case map[string]any:
		m := make(map[any]any, len(v))
		for k, e := range v {
			m[k] = e
		}
		return c.appendMap(b, nil, nil, m)
	case *Struct:
		return c.appendStruct(b, v)
	case time.Time:
		return strconv.AppendInt(b, v.UnixMilli(), 10), nil
	}
	return nil, fmt.Errorf("%w: %T has no Connect representation without a schema", ErrDataInvalid, value)
}

func (c *JSONConverter) appendArray(b []byte, elem *Schema, v []any) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = c.appendValue(b, elem, e); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendMap writes a map as an object when its keys are strings (by schema, or all of them when
// schemaless), else as an array of [key, value] pairs, as JsonConverter does. Entries are sorted.
func (c *JSONConverter) appendMap(b []byte, ks, vs *Schema, m map[any]any) ([]byte, error) {
	objectMode := ks == nil || ks.Type == TypeString
	if ks == nil {
		for k := range m {
			if _, ok := k.(string); !ok {
				objectMode = false
				break
			}
		}
	}
	type entry struct {
		key []byte
		val any
	}
	entries := make([]entry, 0, len(m))
	for k, v := range m {
		if objectMode {
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: map key %T is not a string", ErrDataInvalid, k)
			}
			entries = append(entries, entry{appendJSONString(nil, s), v})
			continue
		}
		kb, err := c.appendValue(nil, ks, k)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		entries = append(entries, entry{kb, v})
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].key, entries[j].key) < 0 })
	var err error
	if objectMode {
		b = append(b, '{')
	} else {
		b = append(b, '[')
	}
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		if objectMode {
			b = append(b, e.key...)
			b = append(b, ':')
		} else {
			b = append(b, '[')
			b = append(b, e.key...)
			b = append(b, ',')
		}
		if b, err = c.appendValue(b, vs, e.val); err != nil {
			return nil, err
		}
		if !objectMode {
			b = append(b, ']')
		}
	}
	if objectMode {
		return append(b, '}'), nil
	}
	return append(b, ']'), nil
}

func (c *JSONConverter) appendStruct(b []byte, st *Struct) ([]byte, error) {
	b = append(b, '{')
	var err error
	for i, f := range st.Schema.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		if b, err = c.appendValue(b, f.Schema, st.values[f.Index]); err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
	}
	return append(b, '}'), nil
}

func appendBase64(b []byte, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// appendJSONString quotes s as Jackson does: '"', '\\' and control characters escaped (\b \t \n
// \f \r, others as \u00XX in upper-case hex), everything else, non-ASCII included, written as is.
// Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJavaFloat writes f as Java's Float.toString/Double.toString (which Jackson uses): at least
// one digit after the point, and "computerized scientific notation" (1.0E10, 1.5E-4) outside
// [1e-3, 1e7). NaN and infinities have no JSON form.
func appendJavaFloat(b []byte, f float64, bitSize int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %v cannot be written as JSON", ErrDataInvalid, f)
	}
	abs := math.Abs(f)
	if abs == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, bitSize)
		b = append(b, s...)
		if !strings.ContainsRune(s, '.') {
			b = append(b, ".0"...)
		}
		return b, nil
	}
	s := strconv.FormatFloat(f, 'e', -1, bitSize) // e.g. 1.2345e+07
	mant, exp, _ := strings.Cut(s, "e")
	b = append(b, mant...)
	if !strings.ContainsRune(mant, '.') {
		b = append(b, ".0"...)
	}
	b = append(b, 'E')
	if exp[0] == '-' {
		b = append(b, '-')
	}
	exp = strings.TrimLeft(exp[1:], "0")
	return append(b, exp...), nil
}
