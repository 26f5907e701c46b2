package transforms

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

// Kafka's logical type names; values of these schemas are time.Time (see connect/logical.go).
const (
	TimestampSchemaName = connect.TimestampSchemaName
	DateSchemaName      = connect.DateSchemaName
	TimeSchemaName      = connect.TimeSchemaName
)

func init() {
	registerTransform("InsertField", true, newInsertField)
	registerTransform("ReplaceField", true, newReplaceField)
	registerTransform("MaskField", true, newMaskField)
	registerTransform("ValueToKey", false, newValueToKey)
	registerTransform("ExtractField", true, newExtractField)
	registerTransform("HoistField", true, newHoistField)
	registerTransform("Cast", true, newCast)
	registerTransform("Flatten", true, newFlatten)
}

// ---- InsertField ----

type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) *insertSpec {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	switch {
	case strings.HasSuffix(s, "!"):
		return &insertSpec{name: s[:len(s)-1]}
	case strings.HasSuffix(s, "?"):
		return &insertSpec{name: s[:len(s)-1], optional: true}
	}
	return &insertSpec{name: s, optional: true}
}

type insertField struct {
	op                                   operand
	topic, partition, offset, ts, static *insertSpec
	staticValue                          string
}

func newInsertField(c *Config, isKey bool) Transformation {
	t := &insertField{op: operand(isKey),
		topic: parseInsertSpec(c.String("topic.field", "")), partition: parseInsertSpec(c.String("partition.field", "")),
		offset: parseInsertSpec(c.String("offset.field", "")), ts: parseInsertSpec(c.String("timestamp.field", "")),
		static: parseInsertSpec(c.String("static.field", "")), staticValue: c.String("static.value", "")}
	return t
}

func schemaFor(t connect.Type, optional bool, name string) *connect.Schema {
	if name == TimestampSchemaName {
		s := connect.TimestampSchema()
		s.Optional = optional
		return s
	}
	return &connect.Schema{Type: t, Optional: optional, Name: name}
}

func (t *insertField) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if v == nil {
		return &r, nil // tombstones pass through
	}
	if t.offset != nil && !r.Sink {
		return nil, dataErr("InsertField: offset.field is only supported for sink connectors")
	}
	type add struct {
		spec  *insertSpec
		typ   connect.Type
		lname string
		val   any
	}
	var adds []add
	if t.topic != nil {
		adds = append(adds, add{t.topic, connect.TypeString, "", r.Topic})
	}
	if t.partition != nil {
		var pv any
		if r.Partition != nil {
			pv = *r.Partition
		}
		adds = append(adds, add{t.partition, connect.TypeInt32, "", pv})
	}
	if t.offset != nil {
		adds = append(adds, add{t.offset, connect.TypeInt64, "", r.Offset})
	}
	if t.ts != nil {
		// NB: as in Kafka, a struct gets a Timestamp (time.Time) field, a schemaless map the epoch
		// milliseconds.
		var tv any
		if !r.Timestamp.IsZero() {
			if schema != nil {
				tv = time.UnixMilli(r.Timestamp.UnixMilli()).UTC()
			} else {
				tv = r.Timestamp.UnixMilli()
			}
		}
		adds = append(adds, add{t.ts, connect.TypeInt64, TimestampSchemaName, tv})
	}
	if t.static != nil {
		adds = append(adds, add{t.static, connect.TypeString, "", t.staticValue})
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "field insertion")
		if err != nil {
			return nil, err
		}
		for _, a := range adds {
			m[a.spec.name] = a.val
		}
		t.op.set(&r, nil, fromMap(m, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "field insertion")
	if err != nil {
		return nil, err
	}
	ns := structSchemaLike(st.Schema)
	for _, f := range st.Schema.Fields {
		addField(ns, f.Name, f.Schema)
	}
	for _, a := range adds {
		addField(ns, a.spec.name, schemaFor(a.typ, a.spec.optional, a.lname))
	}
	out := connect.NewStruct(ns)
	for _, f := range st.Schema.Fields {
		if err := out.Put(f.Name, st.Get(f.Name)); err != nil {
			return nil, err
		}
	}
	for _, a := range adds {
		if err := out.Put(a.spec.name, a.val); err != nil {
			return nil, err
		}
	}
	t.op.set(&r, ns, out)
	return &r, nil
}

// ---- ReplaceField ----

type replaceField struct {
	op               operand
	include, exclude map[string]bool
	renames          map[string]string
}

func newReplaceField(c *Config, isKey bool) Transformation {
	t := &replaceField{op: operand(isKey), include: map[string]bool{}, exclude: map[string]bool{}, renames: map[string]string{}}
	inc, exc := "include", "exclude"
	if _, ok := c.Get(inc); !ok {
		inc = "whitelist"
	}
	if _, ok := c.Get(exc); !ok {
		exc = "blacklist"
	}
	for _, f := range c.List(inc) {
		t.include[f] = true
	}
	for _, f := range c.List(exc) {
		t.exclude[f] = true
	}
	for _, p := range c.List("renames") {
		parts := strings.Split(p, ":")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			c.Invalid("renames", "Invalid rename mapping: "+p)
			continue
		}
		t.renames[parts[0]] = parts[1]
	}
	return t
}

func (t *replaceField) keep(f string) bool {
	return !t.exclude[f] && (len(t.include) == 0 || t.include[f])
}

func (t *replaceField) rename(f string) string {
	if n, ok := t.renames[f]; ok {
		return n
	}
	return f
}

func (t *replaceField) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if v == nil {
		return &r, nil
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "field replacement")
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for k, e := range m {
			if t.keep(k) {
				out[t.rename(k)] = e
			}
		}
		t.op.set(&r, nil, fromMap(out, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "field replacement")
	if err != nil {
		return nil, err
	}
	ns := structSchemaLike(st.Schema)
	for _, f := range st.Schema.Fields {
		if t.keep(f.Name) {
			addField(ns, t.rename(f.Name), f.Schema)
		}
	}
	out := connect.NewStruct(ns)
	for _, f := range st.Schema.Fields {
		if t.keep(f.Name) {
			if err := out.Put(t.rename(f.Name), st.Get(f.Name)); err != nil {
				return nil, err
			}
		}
	}
	t.op.set(&r, ns, out)
	return &r, nil
}

// ---- MaskField ----

type maskField struct {
	op          operand
	fields      []string
	replacement *string
}

func newMaskField(c *Config, isKey bool) Transformation {
	t := &maskField{op: operand(isKey), fields: c.RequiredList("fields")}
	if rep, ok := c.Get("replacement"); ok && rep != "" {
		t.replacement = &rep
	}
	return t
}

func (t *maskField) mask(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.replacement == nil {
		switch v.(type) {
		case string:
			return "", nil
		case bool:
			return false, nil
		case int8:
			return int8(0), nil
		case int16:
			return int16(0), nil
		case int32:
			return int32(0), nil
		case int64:
			return int64(0), nil
		case int:
			return 0, nil
		case float32:
			return float32(0), nil
		case float64:
			return float64(0), nil
		case []byte:
			return []byte{}, nil
		case []any:
			return []any{}, nil
		case map[string]any:
			return map[string]any{}, nil
		case map[any]any:
			return map[any]any{}, nil
		case time.Time:
			return time.UnixMilli(0).UTC(), nil
		case *big.Rat:
			return new(big.Rat), nil
		}
		return nil, dataErr("cannot mask value of type %T", v)
	}
	rep := *t.replacement
	var err error
	var out any
	switch v.(type) {
	case string:
		out = rep
	case int8, int16, int32, int64, int:
		var n int64
		n, err = strconv.ParseInt(rep, 10, 64)
		out, _ = castValue(nil, n, typeOf(v))
	case float32, float64:
		var f float64
		f, err = strconv.ParseFloat(rep, 64)
		out, _ = castValue(nil, f, typeOf(v))
	case bool:
		out, err = strconv.ParseBool(rep)
	default:
		return nil, dataErr("cannot mask value of type %T with replacement", v)
	}
	if err != nil {
		return nil, dataErr("unable to convert %s to %T", rep, v)
	}
	return out, nil
}

func (t *maskField) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if v == nil {
		return &r, nil
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "mask fields")
		if err != nil {
			return nil, err
		}
		for _, f := range t.fields {
			if e, ok := m[f]; ok {
				if m[f], err = t.mask(e); err != nil {
					return nil, err
				}
			}
		}
		t.op.set(&r, nil, fromMap(m, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "mask fields")
	if err != nil {
		return nil, err
	}
	out := connect.NewStruct(st.Schema)
	for _, f := range st.Schema.Fields {
		val := st.Get(f.Name)
		if slices.Contains(t.fields, f.Name) {
			if val, err = t.mask(val); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, val); err != nil {
			return nil, err
		}
	}
	t.op.set(&r, st.Schema, out)
	return &r, nil
}

// ---- ValueToKey ----

type valueToKey struct{ fields []string }

func newValueToKey(c *Config, _ bool) Transformation {
	return &valueToKey{fields: c.RequiredList("fields")}
}

func (t *valueToKey) Apply(r Record) (*Record, error) {
	if r.ValueSchema == nil {
		m, anyKeys, err := requireMap(r.Value, "copying fields from value to key")
		if err != nil {
			return nil, err
		}
		key := map[string]any{}
		for _, f := range t.fields {
			key[f] = m[f]
		}
		r.KeySchema, r.Key = nil, fromMap(key, anyKeys)
		return &r, nil
	}
	st, err := requireStruct(r.Value, "copying fields from value to key")
	if err != nil {
		return nil, err
	}
	ks := &connect.Schema{Type: connect.TypeStruct}
	for _, f := range t.fields {
		fd := st.Schema.Field(f)
		if fd == nil {
			return nil, dataErr("field does not exist: %s", f)
		}
		addField(ks, f, fd.Schema)
	}
	key := connect.NewStruct(ks)
	for _, f := range t.fields {
		if err := key.Put(f, st.Get(f)); err != nil {
			return nil, err
		}
	}
	r.KeySchema, r.Key = ks, key
	return &r, nil
}

// ---- ExtractField ----

type extractField struct {
	op    operand
	field string
}

func newExtractField(c *Config, isKey bool) Transformation {
	return &extractField{op: operand(isKey), field: c.Required("field")}
}

func (t *extractField) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if schema == nil {
		if v == nil {
			return &r, nil
		}
		m, _, err := requireMap(v, "field extraction")
		if err != nil {
			return nil, err
		}
		t.op.set(&r, nil, m[t.field])
		return &r, nil
	}
	f := schema.Field(t.field)
	if f == nil {
		return nil, dataErr("unknown field: %s", t.field)
	}
	if v == nil {
		t.op.set(&r, f.Schema, nil)
		return &r, nil
	}
	st, err := requireStruct(v, "field extraction")
	if err != nil {
		return nil, err
	}
	t.op.set(&r, f.Schema, st.Get(t.field))
	return &r, nil
}

// ---- HoistField ----

type hoistField struct {
	op    operand
	field string
}

func newHoistField(c *Config, isKey bool) Transformation {
	return &hoistField{op: operand(isKey), field: c.Required("field")}
}

func (t *hoistField) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if schema == nil {
		t.op.set(&r, nil, map[string]any{t.field: v})
		return &r, nil
	}
	ns := &connect.Schema{Type: connect.TypeStruct}
	addField(ns, t.field, schema)
	out := connect.NewStruct(ns)
	if err := out.Put(t.field, v); err != nil {
		return nil, err
	}
	t.op.set(&r, ns, out)
	return &r, nil
}

// ---- Cast ----

type cast struct {
	op     operand
	whole  connect.Type // set when the spec is a single type for the whole value
	fields map[string]connect.Type
}

var castTypes = map[string]connect.Type{"int8": connect.TypeInt8, "int16": connect.TypeInt16, "int32": connect.TypeInt32,
	"int64": connect.TypeInt64, "float32": connect.TypeFloat32, "float64": connect.TypeFloat64, "boolean": connect.TypeBoolean,
	"string": connect.TypeString}

func newCast(c *Config, isKey bool) Transformation {
	t := &cast{op: operand(isKey), fields: map[string]connect.Type{}}
	spec := c.RequiredList("spec")
	for _, s := range spec {
		name, typ, hasField := strings.Cut(s, ":")
		if !hasField {
			ct, ok := castTypes[strings.TrimSpace(s)]
			if !ok || len(spec) > 1 {
				c.Invalid("spec", "Expected a field:type pair, or a single type for the whole value; type is one of int8, int16, int32, int64, float32, float64, boolean, string")
				return t
			}
			t.whole = ct
			continue
		}
		ct, ok := castTypes[strings.TrimSpace(typ)]
		if !ok || strings.TrimSpace(name) == "" {
			c.Invalid("spec", "Invalid cast spec "+s+"; type must be one of int8, int16, int32, int64, float32, float64, boolean, string")
			return t
		}
		t.fields[strings.TrimSpace(name)] = ct
	}
	return t
}

func typeOf(v any) connect.Type {
	switch v.(type) {
	case int8:
		return connect.TypeInt8
	case int16:
		return connect.TypeInt16
	case int32:
		return connect.TypeInt32
	case int64, int:
		return connect.TypeInt64
	case float32:
		return connect.TypeFloat32
	case float64:
		return connect.TypeFloat64
	case bool:
		return connect.TypeBoolean
	case string:
		return connect.TypeString
	}
	return ""
}

// castValue converts a primitive or logical value (of schema, nil if schemaless) to the target
// type, as Kafka's Cast does: to a string, a Date, Time or Timestamp is formatted in ISO 8601
// (2006-01-02, 15:04:05.000Z, 2006-01-02T15:04:05.000Z) and a Decimal written at its scale; to
// anything else they are first encoded (days, milliseconds, the decimal's value), and bytes only
// cast to a base64 string.
func castValue(schema *connect.Schema, v any, to connect.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case time.Time:
		if to == connect.TypeString {
			return isoFormat(x), nil
		}
		var err error
		if schema.IsLogical() {
			v, err = connect.LogicalToPrimitive(schema, x)
		} else {
			v, err = x.UnixMilli(), nil
		}
		if err != nil {
			return nil, err
		}
	case *big.Rat:
		switch to {
		case connect.TypeString:
			if scale, err := connect.DecimalScale(schema); err == nil {
				return connect.DecimalString(x, scale)
			}
			return x.RatString(), nil
		case connect.TypeFloat32, connect.TypeFloat64:
			f, _ := x.Float64()
			v = f
		default:
			// NB: BigDecimal.longValue truncates toward zero, and so does big.Int.Quo.
			v = new(big.Int).Quo(x.Num(), x.Denom()).Int64()
		}
	case []byte:
		if to == connect.TypeString {
			return base64.StdEncoding.EncodeToString(x), nil
		}
		return nil, dataErr("Cast transformation can only cast bytes to string, not to %s", to)
	}
	var i int64
	var f float64
	isInt, isFloat := false, false
	switch x := v.(type) {
	case int8:
		i, isInt = int64(x), true
	case int16:
		i, isInt = int64(x), true
	case int32:
		i, isInt = int64(x), true
	case int64:
		i, isInt = x, true
	case int:
		i, isInt = int64(x), true
	case float32:
		f, isFloat = float64(x), true
	case float64:
		f, isFloat = x, true
	case bool:
		if x {
			i = 1
		}
		isInt = true
		if to == connect.TypeString {
			return strconv.FormatBool(x), nil
		}
	case string:
		switch to {
		case connect.TypeString:
			return x, nil
		case connect.TypeBoolean:
			return strconv.ParseBool(x)
		case connect.TypeFloat32, connect.TypeFloat64:
			p, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, dataErr("cannot cast %q to %s", x, to)
			}
			f, isFloat = p, true
		default:
			p, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return nil, dataErr("cannot cast %q to %s", x, to)
			}
			i, isInt = p, true
		}
	default:
		return nil, dataErr("Cast transformation does not support casting from %T", v)
	}
	if isFloat && !isInt {
		switch to {
		case connect.TypeString:
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		case connect.TypeBoolean:
			return f != 0, nil
		case connect.TypeFloat32:
			return float32(f), nil
		case connect.TypeFloat64:
			return f, nil
		}
		i = int64(math.Trunc(f))
	} else if to == connect.TypeFloat32 || to == connect.TypeFloat64 {
		if to == connect.TypeFloat32 {
			return float32(i), nil
		}
		return float64(i), nil
	}
	switch to {
	case connect.TypeInt8:
		return int8(i), nil
	case connect.TypeInt16:
		return int16(i), nil
	case connect.TypeInt32:
		return int32(i), nil
	case connect.TypeInt64:
		return i, nil
	case connect.TypeBoolean:
		return i != 0, nil
	case connect.TypeString:
		return strconv.FormatInt(i, 10), nil
	}
	return nil, dataErr("cannot cast to %s", to)
}

// isoFormat formats a time as Kafka's Values.dateFormatFor chooses: a time of day on 1970-01-01,
// a date at UTC midnight, a timestamp otherwise.
func isoFormat(t time.Time) string {
	t = t.UTC()
	ms := t.UnixMilli()
	switch {
	case ms >= 0 && ms < 24*60*60*1000:
		return t.Format("15:04:05.000Z")
	case ms%(24*60*60*1000) == 0:
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func (t *cast) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if t.whole != "" {
		nv, err := castValue(schema, v, t.whole)
		if err != nil {
			return nil, err
		}
		var ns *connect.Schema
		if schema != nil {
			ns = &connect.Schema{Type: t.whole, Optional: schema.Optional}
		}
		t.op.set(&r, ns, nv)
		return &r, nil
	}
	if v == nil {
		return &r, nil
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "cast")
		if err != nil {
			return nil, err
		}
		for f, to := range t.fields {
			if e, ok := m[f]; ok {
				if m[f], err = castValue(nil, e, to); err != nil {
					return nil, fmt.Errorf("field %s: %w", f, err)
				}
			}
		}
		t.op.set(&r, nil, fromMap(m, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "cast")
	if err != nil {
		return nil, err
	}
	ns := structSchemaLike(st.Schema)
	for _, f := range st.Schema.Fields {
		fs := f.Schema
		if to, ok := t.fields[f.Name]; ok {
			fs = &connect.Schema{Type: to, Optional: f.Schema.Optional}
		}
		addField(ns, f.Name, fs)
	}
	out := connect.NewStruct(ns)
	for _, f := range st.Schema.Fields {
		val := st.Get(f.Name)
		if to, ok := t.fields[f.Name]; ok {
			if val, err = castValue(f.Schema, val, to); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		if err := out.Put(f.Name, val); err != nil {
			return nil, err
		}
	}
	t.op.set(&r, ns, out)
	return &r, nil
}

// ---- Flatten ----

type flatten struct {
	op    operand
	delim string
}

func newFlatten(c *Config, isKey bool) Transformation {
	return &flatten{op: operand(isKey), delim: c.String("delimiter", ".")}
}

func (t *flatten) flatMap(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + t.delim + k
		}
		if sub, _, ok := asMap(v); ok {
			t.flatMap(name, sub, out)
			continue
		}
		out[name] = v
	}
}

func (t *flatten) flatSchema(prefix string, s *connect.Schema, optional bool, out *connect.Schema) {
	for _, f := range s.Fields {
		name := f.Name
		if prefix != "" {
			name = prefix + t.delim + f.Name
		}
		if f.Schema.Type == connect.TypeStruct {
			t.flatSchema(name, f.Schema, optional || f.Schema.Optional, out)
			continue
		}
		fs := f.Schema
		if optional && !fs.Optional {
			c := *fs
			c.Optional = true
			fs = &c
		}
		addField(out, name, fs)
	}
}

func (t *flatten) flatStruct(prefix string, s *connect.Schema, st *connect.Struct, out *connect.Struct) error {
	for _, f := range s.Fields {
		name := f.Name
		if prefix != "" {
			name = prefix + t.delim + f.Name
		}
		var v any
		if st != nil {
			v = st.Get(f.Name)
		}
		if f.Schema.Type == connect.TypeStruct {
			sub, _ := v.(*connect.Struct)
			if err := t.flatStruct(name, f.Schema, sub, out); err != nil {
				return err
			}
			continue
		}
		if err := out.Put(name, v); err != nil {
			return err
		}
	}
	return nil
}

// Apply implements Transformation. NB: its opening (nothing to do for a null value, then the
// schemaless map or the struct) is every field transform's, as in Kafka's SMTs; what follows each
// opening is the transform itself, so they stay apart.
func (t *flatten) Apply(r Record) (*Record, error) {
	schema, v := t.op.get(&r)
	if v == nil {
		return &r, nil
	}
	if schema == nil {
		m, anyKeys, err := requireMap(v, "flattening")
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		t.flatMap("", m, out)
		t.op.set(&r, nil, fromMap(out, anyKeys))
		return &r, nil
	}
	st, err := requireStruct(v, "flattening")
	if err != nil {
		return nil, err
	}
	ns := structSchemaLike(st.Schema)
	t.flatSchema("", st.Schema, false, ns)
	out := connect.NewStruct(ns)
	if err := t.flatStruct("", st.Schema, st, out); err != nil {
		return nil, err
	}
	t.op.set(&r, ns, out)
	return &r, nil
}
