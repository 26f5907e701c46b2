package connectconv

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
)

// JSONSchemaConverterClass is Confluent's class name for the JSON Schema converter.
const JSONSchemaConverterClass = "io.confluent.connect.json.JsonSchemaConverter"

// JSONSchemaConverter is Confluent's io.confluent.connect.json.JsonSchemaConverter: Connect data
// as JSON in the Confluent wire format, with a JSON Schema in the registry. Decimals are JSON
// numbers, bytes base64 strings, Date/Time/Timestamp their integers, as Confluent writes them.
type JSONSchemaConverter struct {
	cfg     serdeConfig
	isKey   bool
	written map[writtenKey]int
	read    map[int]*connect.Schema
}

// Configure implements connect.Converter.
func (c *JSONSchemaConverter) Configure(config map[string]string, isKey bool) error {
	cfg, err := parseSerdeConfig(config, isKey)
	if err != nil {
		return err
	}
	c.cfg, c.isKey = cfg, isKey
	c.written, c.read = map[writtenKey]int{}, map[int]*connect.Schema{}
	return nil
}

// FromConnect implements connect.Converter.
func (c *JSONSchemaConverter) FromConnect(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if c.cfg.client == nil {
		return nil, fmt.Errorf("%w: JsonSchemaConverter is not configured (%s is required)", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	if value == nil {
		return nil, nil
	}
	id, ok := c.written[writtenKey{topic, schema}]
	if !ok {
		text, err := JSONSchema(schema)
		if err != nil {
			return nil, err
		}
		record := ""
		if schema.Type == connect.TypeStruct {
			record = schema.Name
		}
		subject, err := c.cfg.strategy(topic, c.isKey, record)
		if err != nil {
			return nil, err
		}
		ss, err := c.cfg.writerSchema(subject, sr.Schema{Schema: text, Type: sr.TypeJSON})
		if err != nil {
			return nil, err
		}
		if len(c.written) >= maxCachedSchemas {
			clear(c.written)
		}
		id, c.written[writtenKey{topic, schema}] = ss.ID, ss.ID
	}
	v, err := toJSONValue(schema, value, 0)
	if err != nil {
		return nil, fmt.Errorf("converting Kafka Connect data to JSON for topic %s: %w", topic, err)
	}
	out := serde.AppendHeader(make([]byte, 0, 64), uint32(id))
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	return append(out, enc...), nil
}

// ToConnect implements connect.Converter.
func (c *JSONSchemaConverter) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if c.cfg.client == nil {
		return nil, nil, fmt.Errorf("%w: JsonSchemaConverter is not configured (%s is required)", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	if data == nil {
		return nil, nil, nil
	}
	id, payload, err := serde.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	schema, ok := c.read[int(id)]
	if !ok {
		s, err := c.cfg.schemaByID(int(id), sr.TypeJSON)
		if err != nil {
			return nil, nil, err
		}
		doc, err := decodeNumbers([]byte(s.Schema))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: schema %d: %v", connect.ErrDataInvalid, id, err)
		}
		if schema, err = ConnectSchemaFromJSONSchema(doc); err != nil {
			return nil, nil, fmt.Errorf("schema %d: %w", id, err)
		}
		if len(c.read) >= maxCachedSchemas {
			clear(c.read)
		}
		c.read[int(id)] = schema
	}
	doc, err := decodeNumbers(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	v, err := fromJSONValue(schema, doc, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("converting JSON of schema %d to Kafka Connect data for topic %s: %w", id, topic, err)
	}
	return schema, v, nil
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func toJSONValue(cs *connect.Schema, v any, depth int) (any, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: value nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	if v == nil {
		if cs.Default != nil {
			v = cs.Default
		} else if cs.Optional {
			return nil, nil
		} else {
			return nil, fmt.Errorf("%w: null value for required %s", connect.ErrDataInvalid, cs.Type)
		}
	}
	if cs.IsLogical() {
		if cs.Name == connect.DecimalSchemaName {
			prim, err := connect.LogicalToPrimitive(cs, v)
			if err != nil {
				return nil, err
			}
			rat, err := connect.PrimitiveToLogical(cs, prim)
			if err != nil {
				return nil, err
			}
			scale, _ := connect.DecimalScale(cs)
			s, err := connect.DecimalString(rat.(*big.Rat), scale)
			return json.Number(s), err
		}
		return connect.LogicalToPrimitive(cs, v)
	}
	switch cs.Type {
	case connect.TypeStruct:
		st, ok := v.(*connect.Struct)
		if !ok {
			return nil, fmt.Errorf("%w: struct needs a Struct, got %T", connect.ErrDataInvalid, v)
		}
		out := make(map[string]any, len(cs.Fields))
		for _, f := range cs.Fields {
			fv, err := toJSONValue(f.Schema, st.Get(f.Name), depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			out[f.Name] = fv
		}
		return out, nil
	case connect.TypeArray:
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: array needs []any, got %T", connect.ErrDataInvalid, v)
		}
		out := make([]any, len(a))
		for i, e := range a {
			je, err := toJSONValue(cs.ValueSchema, e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = je
		}
		return out, nil
	case connect.TypeMap:
		m, ok := v.(map[any]any)
		if !ok {
			return nil, fmt.Errorf("%w: map needs map[any]any, got %T", connect.ErrDataInvalid, v)
		}
		stringKeys := cs.KeySchema != nil && cs.KeySchema.Type == connect.TypeString && !cs.KeySchema.Optional
		obj := map[string]any{}
		var entries []any
		for k, mv := range m {
			jv, err := toJSONValue(cs.ValueSchema, mv, depth+1)
			if err != nil {
				return nil, err
			}
			if stringKeys {
				obj[k.(string)] = jv
				continue
			}
			jk, err := toJSONValue(cs.KeySchema, k, depth+1)
			if err != nil {
				return nil, err
			}
			entries = append(entries, map[string]any{"key": jk, "value": jv})
		}
		if stringKeys {
			return obj, nil
		}
		// Deterministic output for equal maps.
		sort.Slice(entries, func(i, j int) bool {
			a, _ := json.Marshal(entries[i])
			b, _ := json.Marshal(entries[j])
			return string(a) < string(b)
		})
		return entries, nil
	}
	if err := connect.ValidateValue(&connect.Schema{Type: cs.Type}, v); err != nil {
		return nil, err
	}
	return v, nil // encoding/json writes []byte as base64, as Confluent does
}

func fromJSONValue(cs *connect.Schema, v any, depth int) (any, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: value nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	if v == nil {
		if !cs.Optional && cs.Default == nil {
			return nil, fmt.Errorf("%w: null for required %s", connect.ErrDataInvalid, cs.Type)
		}
		return cs.Default, nil
	}
	if cs.Name == connect.DecimalSchemaName && cs.Type == connect.TypeBytes {
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: Decimal needs a number, got %T", connect.ErrDataInvalid, v)
		}
		r, ok := new(big.Rat).SetString(n.String())
		if !ok {
			return nil, fmt.Errorf("%w: Decimal %s", connect.ErrDataInvalid, n)
		}
		return r, nil
	}
	switch cs.Type {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs a number, got %T", connect.ErrDataInvalid, cs.Type, v)
		}
		bits := map[connect.Type]int{connect.TypeInt8: 8, connect.TypeInt16: 16, connect.TypeInt32: 32, connect.TypeInt64: 64}[cs.Type]
		i, err := strconv.ParseInt(n.String(), 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", connect.ErrDataInvalid, cs.Type, n, err)
		}
		var prim any
		switch cs.Type {
		case connect.TypeInt8:
			prim = int8(i)
		case connect.TypeInt16:
			prim = int16(i)
		case connect.TypeInt32:
			prim = int32(i)
		default:
			prim = i
		}
		if cs.IsLogical() {
			return connect.PrimitiveToLogical(cs, prim)
		}
		return prim, nil
	case connect.TypeFloat32, connect.TypeFloat64:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs a number, got %T", connect.ErrDataInvalid, cs.Type, v)
		}
		bits := 64
		if cs.Type == connect.TypeFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(n.String(), bits)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", connect.ErrDataInvalid, cs.Type, n, err)
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case connect.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case connect.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case connect.TypeBytes:
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%w: bytes are not base64: %v", connect.ErrDataInvalid, err)
			}
			return b, nil
		}
	case connect.TypeArray:
		if a, ok := v.([]any); ok {
			out := make([]any, len(a))
			for i, e := range a {
				ce, err := fromJSONValue(cs.ValueSchema, e, depth+1)
				if err != nil {
					return nil, err
				}
				out[i] = ce
			}
			return out, nil
		}
	case connect.TypeMap:
		out := map[any]any{}
		switch m := v.(type) {
		case map[string]any:
			for k, mv := range m {
				cv, err := fromJSONValue(cs.ValueSchema, mv, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = cv
			}
			return out, nil
		case []any:
			for _, e := range m {
				em, _ := e.(map[string]any)
				k, err := fromJSONValue(cs.KeySchema, em["key"], depth+1)
				if err != nil {
					return nil, err
				}
				mv, err := fromJSONValue(cs.ValueSchema, em["value"], depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = mv
			}
			return out, nil
		}
	case connect.TypeStruct:
		if m, ok := v.(map[string]any); ok {
			st := connect.NewStruct(cs)
			for _, f := range cs.Fields {
				fv, err := fromJSONValue(f.Schema, m[f.Name], depth+1)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", f.Name, err)
				}
				if err := st.Put(f.Name, fv); err != nil {
					return nil, err
				}
			}
			return st, nil
		}
	}
	return nil, fmt.Errorf("%w: JSON %T is not a Connect %s", connect.ErrDataInvalid, v, cs.Type)
}

func init() {
	connect.RegisterConverter(connect.ConverterPlugin{
		Class:     JSONSchemaConverterClass,
		Aliases:   []string{"JsonSchemaConverter"},
		New:       func() connect.Converter { return &JSONSchemaConverter{} },
		ConfigDef: serdeConfigDef,
	})
}
