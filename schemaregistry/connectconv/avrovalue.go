package connectconv

import (
	"fmt"
	"math/big"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/hamba/avro/v2"
)

// unionBranchName is the name hamba/avro's generic codec knows a union branch by.
func unionBranchName(s avro.Schema) string {
	s = unref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		name += "." + string(ls.Logical().Type())
	}
	return name
}

// toAvro turns a Connect value of schema cs into hamba/avro's generic form for Avro schema as.
func toAvro(as avro.Schema, cs *connect.Schema, v any) (any, error) {
	as = unref(as)
	if u, ok := as.(*avro.UnionSchema); ok {
		if v == nil {
			if !u.Nullable() {
				return nil, fmt.Errorf("%w: null for a union without null", connect.ErrDataInvalid)
			}
			return nil, nil
		}
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				inner, err := toAvro(t, cs, v)
				if err != nil {
					return nil, err
				}
				return map[string]any{unionBranchName(t): inner}, nil
			}
		}
		return nil, fmt.Errorf("%w: union has only null", connect.ErrDataInvalid)
	}
	if v == nil {
		if cs != nil && cs.Default != nil {
			v = cs.Default
		} else {
			return nil, fmt.Errorf("%w: null value for required %s", connect.ErrDataInvalid, as.Type())
		}
	}
	if cs != nil && cs.IsLogical() {
		prim, err := connect.LogicalToPrimitive(cs, v)
		if err != nil {
			return nil, err
		}
		logical, err := connect.PrimitiveToLogical(cs, prim)
		if err != nil {
			return nil, err
		}
		if ls, ok := as.(*avro.PrimitiveSchema); ok && ls.Logical() != nil {
			switch ls.Logical().Type() {
			case avro.Decimal:
				return logical, nil // *big.Rat
			case avro.Date, avro.TimestampMillis:
				return logical, nil // time.Time
			case avro.TimeMillis:
				return time.Duration(prim.(int32)) * time.Millisecond, nil
			}
		}
		v = prim
	}
	switch t := as.(type) {
	case *avro.PrimitiveSchema:
		switch t.Type() {
		case avro.Int:
			switch x := v.(type) {
			case int8:
				return int32(x), nil
			case int16:
				return int32(x), nil
			case int32:
				return x, nil
			}
		case avro.Long:
			switch x := v.(type) {
			case int64:
				return x, nil
			case int32:
				return int64(x), nil
			}
		case avro.Float:
			if x, ok := v.(float32); ok {
				return x, nil
			}
		case avro.Double:
			switch x := v.(type) {
			case float64:
				return x, nil
			case float32:
				return float64(x), nil
			}
		case avro.Boolean, avro.String:
			return v, nil
		case avro.Bytes:
			if x, ok := v.([]byte); ok {
				if t.Logical() != nil && t.Logical().Type() == avro.Decimal {
					// Bytes given for a decimal: the unscaled two's complement, as Connect carries it.
					scale := t.Logical().(*avro.DecimalLogicalSchema).Scale()
					return connect.DecimalFromUnscaled(fromTwos(x), scale), nil
				}
				return x, nil
			}
		}
		return v, nil // hamba/avro reports a type mismatch by name
	case *avro.RecordSchema:
		st, ok := v.(*connect.Struct)
		if !ok {
			return nil, fmt.Errorf("%w: record %s needs a Struct, got %T", connect.ErrDataInvalid, t.FullName(), v)
		}
		out := make(map[string]any, len(t.Fields()))
		for _, f := range t.Fields() {
			var fs *connect.Schema
			var fv any
			if cf := st.Schema.Field(f.Name()); cf != nil {
				fs, fv = cf.Schema, st.Get(f.Name())
			}
			av, err := toAvro(f.Type(), fs, fv)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
			out[f.Name()] = av
		}
		return out, nil
	case *avro.ArraySchema:
		var elem *connect.Schema
		if cs != nil {
			elem = cs.ValueSchema
		}
		if m, ok := v.(map[any]any); ok && cs != nil {
			entry := unref(t.Items()).(*avro.RecordSchema)
			out := make([]any, 0, len(m))
			for k, mv := range m {
				ka, err := toAvro(entry.Fields()[0].Type(), cs.KeySchema, k)
				if err != nil {
					return nil, err
				}
				va, err := toAvro(entry.Fields()[1].Type(), cs.ValueSchema, mv)
				if err != nil {
					return nil, err
				}
				out = append(out, map[string]any{"key": ka, "value": va})
			}
			return out, nil
		}
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: array needs []any, got %T", connect.ErrDataInvalid, v)
		}
		out := make([]any, len(a))
		for i, e := range a {
			ae, err := toAvro(t.Items(), elem, e)
			if err != nil {
				return nil, err
			}
			out[i] = ae
		}
		return out, nil
	case *avro.MapSchema:
		m, ok := v.(map[any]any)
		if !ok {
			return nil, fmt.Errorf("%w: map needs map[any]any, got %T", connect.ErrDataInvalid, v)
		}
		var vs *connect.Schema
		if cs != nil {
			vs = cs.ValueSchema
		}
		out := make(map[string]any, len(m))
		for k, mv := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: Avro map keys are strings, got %T", connect.ErrDataInvalid, k)
			}
			av, err := toAvro(t.Values(), vs, mv)
			if err != nil {
				return nil, err
			}
			out[ks] = av
		}
		return out, nil
	}
	return v, nil
}

func fromTwos(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return n
}

// fromAvro turns hamba/avro's generic decoding of Avro schema as into a Connect value of cs.
func fromAvro(as avro.Schema, cs *connect.Schema, v any) (any, error) {
	as = unref(as)
	if u, ok := as.(*avro.UnionSchema); ok {
		if v == nil {
			return nil, nil
		}
		for _, t := range u.Types() {
			if t.Type() == avro.Null {
				continue
			}
			if m, ok := v.(map[string]any); ok && len(m) == 1 {
				if inner, ok := m[unionBranchName(t)]; ok {
					v = inner
				}
			}
			return fromAvro(t, cs, v)
		}
	}
	if v == nil {
		return nil, nil
	}
	if cs.IsLogical() {
		switch x := v.(type) {
		case *big.Rat:
			return x, nil
		case time.Time:
			return x.UTC(), nil
		case time.Duration:
			return time.UnixMilli(x.Milliseconds()).UTC(), nil
		}
		prim, err := primitive(cs.Type, v)
		if err != nil {
			return nil, err
		}
		return connect.PrimitiveToLogical(cs, prim)
	}
	switch cs.Type {
	case connect.TypeStruct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: record decoded as %T", connect.ErrDataInvalid, v)
		}
		rs, ok := as.(*avro.RecordSchema)
		if !ok {
			return nil, fmt.Errorf("%w: struct schema over Avro %s", connect.ErrDataInvalid, as.Type())
		}
		st := connect.NewStruct(cs)
		for i, f := range rs.Fields() {
			fv, err := fromAvro(f.Type(), cs.Fields[i].Schema, m[f.Name()])
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name(), err)
			}
			if err := st.Put(cs.Fields[i].Name, fv); err != nil {
				return nil, err
			}
		}
		return st, nil
	case connect.TypeArray, connect.TypeMap:
		switch t := as.(type) {
		case *avro.ArraySchema:
			a, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: array decoded as %T", connect.ErrDataInvalid, v)
			}
			if cs.Type == connect.TypeMap {
				entry := unref(t.Items()).(*avro.RecordSchema)
				out := make(map[any]any, len(a))
				for _, e := range a {
					em, _ := e.(map[string]any)
					k, err := fromAvro(entry.Fields()[0].Type(), cs.KeySchema, em["key"])
					if err != nil {
						return nil, err
					}
					mv, err := fromAvro(entry.Fields()[1].Type(), cs.ValueSchema, em["value"])
					if err != nil {
						return nil, err
					}
					out[k] = mv
				}
				return out, nil
			}
			out := make([]any, len(a))
			for i, e := range a {
				ce, err := fromAvro(t.Items(), cs.ValueSchema, e)
				if err != nil {
					return nil, err
				}
				out[i] = ce
			}
			return out, nil
		case *avro.MapSchema:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: map decoded as %T", connect.ErrDataInvalid, v)
			}
			out := make(map[any]any, len(m))
			for k, mv := range m {
				cv, err := fromAvro(t.Values(), cs.ValueSchema, mv)
				if err != nil {
					return nil, err
				}
				out[k] = cv
			}
			return out, nil
		}
		return nil, fmt.Errorf("%w: %s schema over Avro %s", connect.ErrDataInvalid, cs.Type, as.Type())
	}
	return primitive(cs.Type, v)
}

// primitive converts hamba/avro's decoded primitive to the Go type of a Connect type.
func primitive(t connect.Type, v any) (any, error) {
	var i int64
	isInt := true
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	default:
		isInt = false
	}
	switch t {
	case connect.TypeInt8:
		if isInt {
			return int8(i), nil
		}
	case connect.TypeInt16:
		if isInt {
			return int16(i), nil
		}
	case connect.TypeInt32:
		if isInt {
			return int32(i), nil
		}
	case connect.TypeInt64:
		if isInt {
			return i, nil
		}
	case connect.TypeFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case connect.TypeFloat64:
		switch f := v.(type) {
		case float64:
			return f, nil
		case float32:
			return float64(f), nil
		}
	case connect.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case connect.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case connect.TypeBytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: Avro value %T is not a Connect %s", connect.ErrDataInvalid, v, t)
}
