package connectconv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/connect"
	"github.com/hamba/avro/v2"
)

// Confluent's AvroData property names and defaults.
const (
	propConnectName       = "connect.name"
	propConnectVersion    = "connect.version"
	propConnectParameters = "connect.parameters"
	propConnectType       = "connect.type"
	propConnectDoc        = "connect.doc"

	// DecimalPrecisionParameter is the Connect Decimal parameter Confluent's converter reads the
	// Avro precision from (and writes it back to).
	DecimalPrecisionParameter = "connect.decimal.precision"
	defaultDecimalPrecision   = 64

	defaultNamespace  = "io.confluent.connect.avro"
	defaultRecordName = "ConnectDefault"
	mapEntryName      = "MapEntry"
)

// avroSchemaBuilder turns one Connect schema into an Avro schema, defining each named type once
// and referring to it by name afterwards (Debezium's before and after share one Value record).
type avroSchemaBuilder struct {
	defined  map[string]*connect.Schema
	defaults int
}

// AvroSchema returns the Avro schema JSON for a Connect schema.
func AvroSchema(s *connect.Schema) (string, error) {
	if s == nil {
		return "", fmt.Errorf("%w: the Avro converter needs a schema (schemaless values have no Avro form)", connect.ErrDataInvalid)
	}
	b := &avroSchemaBuilder{defined: map[string]*connect.Schema{}}
	v, err := b.schema(s, true)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func (b *avroSchemaBuilder) schema(s *connect.Schema, top bool) (any, error) {
	inner, err := b.nonOptional(s)
	if err != nil {
		return nil, err
	}
	if s.Optional && !top {
		return []any{"null", inner}, nil
	}
	if s.Optional && top {
		// NB: Confluent writes an optional top-level schema as the union too; a null record value
		// is a Kafka null, never encoded, so the union only widens what the schema accepts.
		return []any{"null", inner}, nil
	}
	return inner, nil
}

func (b *avroSchemaBuilder) nonOptional(s *connect.Schema) (any, error) {
	props := map[string]any{}
	if s.Name != "" && s.Type != connect.TypeStruct {
		props[propConnectName] = s.Name
	}
	if s.Version != 0 {
		props[propConnectVersion] = s.Version
	}
	if s.Doc != "" {
		props[propConnectDoc] = s.Doc
	}
	if len(s.Parameters) > 0 {
		params := map[string]string{}
		for k, v := range s.Parameters {
			params[k] = v
		}
		props[propConnectParameters] = params
	}
	prim := func(t string) any {
		if len(props) == 0 {
			return t
		}
		props["type"] = t
		return props
	}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16:
		props[propConnectType] = string(s.Type)
		return prim("int"), nil
	case connect.TypeInt32:
		switch s.Name {
		case connect.DateSchemaName:
			props["logicalType"] = "date"
		case connect.TimeSchemaName:
			props["logicalType"] = "time-millis"
		}
		return prim("int"), nil
	case connect.TypeInt64:
		if s.Name == connect.TimestampSchemaName {
			props["logicalType"] = "timestamp-millis"
		}
		return prim("long"), nil
	case connect.TypeFloat32:
		return prim("float"), nil
	case connect.TypeFloat64:
		return prim("double"), nil
	case connect.TypeBoolean:
		return prim("boolean"), nil
	case connect.TypeString:
		return prim("string"), nil
	case connect.TypeBytes:
		if s.Name == connect.DecimalSchemaName {
			scale, err := connect.DecimalScale(s)
			if err != nil {
				return nil, err
			}
			precision := defaultDecimalPrecision
			if p, ok := s.Parameters[DecimalPrecisionParameter]; ok {
				if precision, err = strconv.Atoi(p); err != nil || precision <= 0 {
					return nil, fmt.Errorf("%w: Decimal parameter %s=%q is not a positive integer", connect.ErrDataInvalid, DecimalPrecisionParameter, p)
				}
			}
			// NB: Avro's decimal needs 0 <= scale <= precision; outside that the bytes stay
			// bytes and the Connect parameters still carry the scale.
			if scale >= 0 && scale <= precision {
				props["logicalType"] = "decimal"
				props["precision"] = precision
				props["scale"] = scale
			}
		}
		return prim("bytes"), nil
	case connect.TypeArray:
		items, err := b.schema(s.ValueSchema, false)
		if err != nil {
			return nil, err
		}
		props["items"] = items
		return prim("array"), nil
	case connect.TypeMap:
		values, err := b.schema(s.ValueSchema, false)
		if err != nil {
			return nil, err
		}
		if s.KeySchema != nil && s.KeySchema.Type == connect.TypeString && !s.KeySchema.Optional {
			props["values"] = values
			return prim("map"), nil
		}
		// Confluent's form for maps whose keys are not strings: an array of key/value records.
		key, err := b.schema(s.KeySchema, false)
		if err != nil {
			return nil, err
		}
		entry, err := b.record(defaultNamespace+"."+mapEntryName, nil, []any{
			map[string]any{"name": "key", "type": key}, map[string]any{"name": "value", "type": values}}, nil)
		if err != nil {
			return nil, err
		}
		props["items"] = entry
		return prim("array"), nil
	case connect.TypeStruct:
		name := s.Name
		if name == "" {
			b.defaults++
			name = defaultNamespace + "." + defaultRecordName
			if b.defaults > 1 {
				name += strconv.Itoa(b.defaults)
			}
		}
		fields := make([]any, 0, len(s.Fields))
		for _, f := range s.Fields {
			ft, err := b.schema(f.Schema, false)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			field := map[string]any{"name": avroName(f.Name), "type": ft}
			if f.Schema.Optional {
				field["default"] = nil
			}
			fields = append(fields, field)
		}
		return b.record(name, s, fields, props)
	}
	return nil, fmt.Errorf("%w: Connect type %q has no Avro form", connect.ErrDataInvalid, s.Type)
}

// record defines a named record once; a second use of the same Connect schema refers to it by
// name, another schema of the same name gets a numbered name.
func (b *avroSchemaBuilder) record(fullName string, s *connect.Schema, fields []any, props map[string]any) (any, error) {
	avroFull := avroFullName(fullName)
	if prev, ok := b.defined[avroFull]; ok {
		if prev == s || (s != nil && prev != nil && sameSchema(prev, s)) || (s == nil && prev == nil) {
			return avroFull, nil
		}
		for i := 2; ; i++ {
			n := avroFull + strconv.Itoa(i)
			if _, taken := b.defined[n]; !taken {
				avroFull = n
				break
			}
		}
	}
	b.defined[avroFull] = s
	rec := map[string]any{}
	for k, v := range props {
		rec[k] = v
	}
	rec["type"] = "record"
	ns, name := splitName(avroFull)
	rec["name"] = name
	if ns != "" {
		rec["namespace"] = ns
	}
	if avroFull != fullName && s != nil && s.Name != "" {
		rec[propConnectName] = s.Name
	}
	rec["fields"] = fields
	return rec, nil
}

func sameSchema(a, b *connect.Schema) bool {
	x, err1 := json.Marshal(connect.SchemaToJSON(a))
	y, err2 := json.Marshal(connect.SchemaToJSON(b))
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func splitName(full string) (namespace, name string) {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "", full
}

// avroFullName makes a Connect name a valid Avro full name: each dot-separated part starts with a
// letter or _ and holds only letters, digits and _.
func avroFullName(n string) string {
	parts := strings.Split(n, ".")
	for i, p := range parts {
		parts[i] = avroName(p)
	}
	return strings.Join(parts, ".")
}

// avroName makes s a valid Avro name, replacing other characters with _.
func avroName(s string) string {
	ok := s != ""
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var sb strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			sb.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				sb.WriteByte('_')
			}
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	if sb.Len() == 0 {
		return "_"
	}
	return sb.String()
}

// ConnectSchema returns the Connect schema of an Avro schema, reading back the connect.*
// properties AvroSchema writes (and Confluent's converter writes).
func ConnectSchema(s avro.Schema) (*connect.Schema, error) {
	return connectSchema(s, map[string]*connect.Schema{}, 0)
}

const maxSchemaDepth = 64

type propSchema interface {
	Prop(string) any
}

func connectSchema(s avro.Schema, seen map[string]*connect.Schema, depth int) (*connect.Schema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: Avro schema nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		if cs, ok := seen[ref.Schema().FullName()]; ok {
			return cs, nil
		}
		s = ref.Schema()
	}
	if u, ok := s.(*avro.UnionSchema); ok {
		types := u.Types()
		var nonNull []avro.Schema
		for _, t := range types {
			if t.Type() != avro.Null {
				nonNull = append(nonNull, t)
			}
		}
		if len(nonNull) != 1 {
			return nil, fmt.Errorf("%w: Avro union %s is not [null, T]; only optional values map to Connect", connect.ErrDataInvalid, u.String())
		}
		inner, err := connectSchema(nonNull[0], seen, depth+1)
		if err != nil {
			return nil, err
		}
		opt := *inner
		opt.Optional = len(types) > 1
		return &opt, nil
	}
	cs := &connect.Schema{}
	if p, ok := s.(propSchema); ok {
		if n, ok := p.Prop(propConnectName).(string); ok {
			cs.Name = n
		}
		if v, ok := p.Prop(propConnectVersion).(float64); ok {
			cs.Version = int(v)
		}
		if d, ok := p.Prop(propConnectDoc).(string); ok {
			cs.Doc = d
		}
		if m, ok := p.Prop(propConnectParameters).(map[string]any); ok {
			cs.Parameters = map[string]string{}
			for k, v := range m {
				cs.Parameters[k] = fmt.Sprint(v)
			}
		}
	}
	switch t := s.(type) {
	case *avro.PrimitiveSchema:
		switch t.Type() {
		case avro.Int:
			cs.Type = connect.TypeInt32
			if p, _ := t.Prop(propConnectType).(string); p == "int8" || p == "int16" {
				cs.Type = connect.Type(p)
			}
		case avro.Long:
			cs.Type = connect.TypeInt64
		case avro.Float:
			cs.Type = connect.TypeFloat32
		case avro.Double:
			cs.Type = connect.TypeFloat64
		case avro.Boolean:
			cs.Type = connect.TypeBoolean
		case avro.String:
			cs.Type = connect.TypeString
		case avro.Bytes:
			cs.Type = connect.TypeBytes
		default:
			return nil, fmt.Errorf("%w: Avro type %s has no Connect form", connect.ErrDataInvalid, t.Type())
		}
		if ls := t.Logical(); ls != nil {
			switch ls.Type() {
			case avro.Decimal:
				d := ls.(*avro.DecimalLogicalSchema)
				cs.Name = connect.DecimalSchemaName
				if cs.Parameters == nil {
					cs.Parameters = map[string]string{}
				}
				cs.Parameters[connect.DecimalScaleParameter] = strconv.Itoa(d.Scale())
				cs.Parameters[DecimalPrecisionParameter] = strconv.Itoa(d.Precision())
			case avro.Date:
				cs.Name = connect.DateSchemaName
			case avro.TimeMillis:
				cs.Name = connect.TimeSchemaName
			case avro.TimestampMillis:
				cs.Name = connect.TimestampSchemaName
			}
			if cs.IsLogical() && cs.Version == 0 {
				cs.Version = 1
			}
		}
	case *avro.FixedSchema:
		cs.Type = connect.TypeBytes
	case *avro.EnumSchema:
		cs.Type = connect.TypeString
	case *avro.ArraySchema:
		items, err := connectSchema(t.Items(), seen, depth+1)
		if err != nil {
			return nil, err
		}
		if r, ok := unref(t.Items()).(*avro.RecordSchema); ok && r.Name() == mapEntryName && r.Namespace() == defaultNamespace && len(items.Fields) == 2 {
			cs.Type, cs.KeySchema, cs.ValueSchema = connect.TypeMap, items.Fields[0].Schema, items.Fields[1].Schema
		} else {
			cs.Type, cs.ValueSchema = connect.TypeArray, items
		}
	case *avro.MapSchema:
		values, err := connectSchema(t.Values(), seen, depth+1)
		if err != nil {
			return nil, err
		}
		cs.Type, cs.KeySchema, cs.ValueSchema = connect.TypeMap, connect.StringSchema, values
	case *avro.RecordSchema:
		cs.Type = connect.TypeStruct
		if cs.Name == "" {
			cs.Name = t.FullName()
			if t.Namespace() == defaultNamespace && strings.HasPrefix(t.Name(), defaultRecordName) {
				cs.Name = ""
			}
		}
		seen[t.FullName()] = cs
		for i, f := range t.Fields() {
			fs, err := connectSchema(f.Type(), seen, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
			cs.Fields = append(cs.Fields, connect.Field{Name: f.Name(), Index: i, Schema: fs})
		}
	default:
		return nil, fmt.Errorf("%w: Avro type %s has no Connect form", connect.ErrDataInvalid, s.Type())
	}
	return cs, nil
}

func unref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}
