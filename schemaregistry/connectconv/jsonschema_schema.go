package connectconv

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/gregor-streams/gregor/connect"
)

// Confluent's JsonSchemaData keywords.
const (
	kwConnectIndex = "connect.index"
	kwTitle        = "title"
)

// JSONSchema returns the JSON Schema document for a Connect schema, as Confluent's JsonSchemaData
// writes it: connect.type tells int8…int64, float32/float64, bytes and map apart; optional
// schemas are oneOf null; struct fields carry connect.index; names are titles.
func JSONSchema(s *connect.Schema) (string, error) {
	if s == nil {
		return "", fmt.Errorf("%w: the JSON Schema converter needs a schema", connect.ErrDataInvalid)
	}
	v, err := jsonSchemaOf(s, 0)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func jsonSchemaOf(s *connect.Schema, depth int) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: schema nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	out := map[string]any{}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		out["type"], out[propConnectType] = "integer", string(s.Type)
	case connect.TypeFloat32:
		out["type"], out[propConnectType] = "number", "float32"
	case connect.TypeFloat64:
		out["type"], out[propConnectType] = "number", "float64"
	case connect.TypeBoolean:
		out["type"] = "boolean"
	case connect.TypeString:
		out["type"] = "string"
	case connect.TypeBytes:
		out["type"], out[propConnectType] = "string", "bytes"
		if s.Name == connect.DecimalSchemaName {
			out["type"] = "number"
		}
	case connect.TypeArray:
		items, err := jsonSchemaOf(s.ValueSchema, depth+1)
		if err != nil {
			return nil, err
		}
		out["type"], out["items"] = "array", items
	case connect.TypeMap:
		values, err := jsonSchemaOf(s.ValueSchema, depth+1)
		if err != nil {
			return nil, err
		}
		out[propConnectType] = "map"
		if s.KeySchema != nil && s.KeySchema.Type == connect.TypeString && !s.KeySchema.Optional {
			out["type"], out["additionalProperties"] = "object", values
		} else {
			keys, err := jsonSchemaOf(s.KeySchema, depth+1)
			if err != nil {
				return nil, err
			}
			out["type"] = "array"
			out["items"] = map[string]any{"type": "object", "properties": map[string]any{"key": keys, "value": values}}
		}
	case connect.TypeStruct:
		props := map[string]any{}
		for i, f := range s.Fields {
			fs, err := jsonSchemaOf(f.Schema, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			fs[kwConnectIndex] = i
			props[f.Name] = fs
		}
		out["type"], out["properties"] = "object", props
	default:
		return nil, fmt.Errorf("%w: Connect type %q has no JSON Schema form", connect.ErrDataInvalid, s.Type)
	}
	if s.Name != "" {
		out[kwTitle] = s.Name
	}
	if s.Version != 0 {
		out[propConnectVersion] = s.Version
	}
	if s.Doc != "" {
		out["description"] = s.Doc
	}
	if len(s.Parameters) > 0 {
		out[propConnectParameters] = s.Parameters
	}
	if s.Optional {
		// connect.index belongs to the property, outside the oneOf.
		return map[string]any{"oneOf": []any{map[string]any{"type": "null"}, out}}, nil
	}
	return out, nil
}

// ConnectSchemaFromJSONSchema returns the Connect schema of a JSON Schema document (decoded with
// UseNumber), reading back the keywords JSONSchema writes. Without connect.type an integer is
// int64 and a number float64; properties without connect.index are ordered by name.
func ConnectSchemaFromJSONSchema(doc any) (*connect.Schema, error) {
	return connectFromJSONSchema(doc, 0)
}

func connectFromJSONSchema(doc any, depth int) (*connect.Schema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: JSON Schema nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		if b, ok := doc.(bool); ok && b {
			return nil, fmt.Errorf("%w: the schema true (anything) has no Connect form", connect.ErrDataInvalid)
		}
		return nil, fmt.Errorf("%w: JSON Schema %v is not an object", connect.ErrDataInvalid, doc)
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		if alts, ok := m[kw].([]any); ok {
			var nonNull []any
			for _, a := range alts {
				if am, ok := a.(map[string]any); ok && am["type"] == "null" {
					continue
				}
				nonNull = append(nonNull, a)
			}
			if len(nonNull) != 1 {
				return nil, fmt.Errorf("%w: %s with %d non-null alternatives has no Connect form", connect.ErrDataInvalid, kw, len(nonNull))
			}
			inner, err := connectFromJSONSchema(nonNull[0], depth+1)
			if err != nil {
				return nil, err
			}
			opt := *inner
			opt.Optional = len(alts) > 1
			return &opt, nil
		}
	}
	if _, ok := m["$ref"]; ok {
		return nil, fmt.Errorf("%w: $ref is not resolved by JsonSchemaConverter yet", connect.ErrDataInvalid)
	}
	typ := m["type"]
	optional := false
	if ts, ok := typ.([]any); ok {
		var nonNull []any
		for _, t := range ts {
			if t != "null" {
				nonNull = append(nonNull, t)
			}
		}
		if len(nonNull) != 1 {
			return nil, fmt.Errorf("%w: type %v has no Connect form", connect.ErrDataInvalid, ts)
		}
		typ, optional = nonNull[0], len(ts) > 1
	}
	cs := &connect.Schema{Optional: optional}
	connectType, _ := m[propConnectType].(string)
	switch typ {
	case "boolean":
		cs.Type = connect.TypeBoolean
	case "integer":
		cs.Type = connect.TypeInt64
		switch connectType {
		case "int8", "int16", "int32", "int64":
			cs.Type = connect.Type(connectType)
		}
	case "number":
		cs.Type = connect.TypeFloat64
		switch connectType {
		case "float32":
			cs.Type = connect.TypeFloat32
		case "bytes":
			cs.Type = connect.TypeBytes // Decimal
		}
	case "string":
		cs.Type = connect.TypeString
		if connectType == "bytes" {
			cs.Type = connect.TypeBytes
		}
	case "array":
		items, err := connectFromJSONSchema(m["items"], depth+1)
		if err != nil {
			return nil, err
		}
		if connectType == "map" && items.Type == connect.TypeStruct && items.Field("key") != nil && items.Field("value") != nil {
			cs.Type, cs.KeySchema, cs.ValueSchema = connect.TypeMap, items.Field("key").Schema, items.Field("value").Schema
		} else {
			cs.Type, cs.ValueSchema = connect.TypeArray, items
		}
	case "object":
		if props, ok := m["properties"].(map[string]any); ok || connectType != "map" {
			cs.Type = connect.TypeStruct
			type prop struct {
				name  string
				index int
				doc   any
			}
			var list []prop
			for name, p := range props {
				idx := 1 << 30
				if pm, ok := p.(map[string]any); ok {
					if n, ok := pm[kwConnectIndex].(json.Number); ok {
						if i, err := strconv.Atoi(n.String()); err == nil {
							idx = i
						}
					}
				}
				list = append(list, prop{name, idx, p})
			}
			sort.Slice(list, func(i, j int) bool {
				if list[i].index != list[j].index {
					return list[i].index < list[j].index
				}
				return list[i].name < list[j].name
			})
			for i, p := range list {
				fs, err := connectFromJSONSchema(p.doc, depth+1)
				if err != nil {
					return nil, fmt.Errorf("property %q: %w", p.name, err)
				}
				cs.Fields = append(cs.Fields, connect.Field{Name: p.name, Index: i, Schema: fs})
			}
		} else {
			values, err := connectFromJSONSchema(m["additionalProperties"], depth+1)
			if err != nil {
				return nil, err
			}
			cs.Type, cs.KeySchema, cs.ValueSchema = connect.TypeMap, connect.StringSchema, values
		}
	default:
		return nil, fmt.Errorf("%w: JSON Schema type %v has no Connect form", connect.ErrDataInvalid, typ)
	}
	if t, ok := m[kwTitle].(string); ok {
		cs.Name = t
	}
	if v, ok := m[propConnectVersion].(json.Number); ok {
		if n, err := strconv.Atoi(v.String()); err == nil {
			cs.Version = n
		}
	}
	if d, ok := m["description"].(string); ok {
		cs.Doc = d
	}
	if p, ok := m[propConnectParameters].(map[string]any); ok {
		cs.Parameters = map[string]string{}
		for k, v := range p {
			cs.Parameters[k] = fmt.Sprint(v)
		}
	}
	if cs.Name == connect.DecimalSchemaName && cs.Type == connect.TypeFloat64 {
		cs.Type = connect.TypeBytes
	}
	return cs, nil
}
