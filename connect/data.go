package connect

import (
	"errors"
	"fmt"
)

// Type is a Connect schema type, spelled as Kafka Connect spells it in JSON schemas.
type Type string

// The Connect schema types.
const (
	TypeInt8    Type = "int8"
	TypeInt16   Type = "int16"
	TypeInt32   Type = "int32"
	TypeInt64   Type = "int64"
	TypeFloat32 Type = "float"
	TypeFloat64 Type = "double"
	TypeBoolean Type = "boolean"
	TypeString  Type = "string"
	TypeBytes   Type = "bytes"
	TypeArray   Type = "array"
	TypeMap     Type = "map"
	TypeStruct  Type = "struct"
)

// Schema describes a Connect value. A nil *Schema means "schemaless": the value carries its own
// shape (map[string]any, []any, string, int64, float64, bool, []byte).
//
// Values for each type are: int8, int16, int32, int64, float32, float64, bool, string, []byte,
// []any (array), map[any]any (map; JSON objects decode to map[any]any with string keys) and *Struct.
// A nil value is allowed only for an Optional schema. Kafka's logical types (see logical.go) take
// *big.Rat (Decimal) and time.Time (Date, Time, Timestamp) instead of their primitive.
type Schema struct {
	Type       Type
	Optional   bool
	Default    any
	Name       string
	Version    int
	Doc        string
	Parameters map[string]string
	// Fields lists a struct's fields in order.
	Fields []Field
	// KeySchema is a map's key schema; ValueSchema is a map's value schema or an array's element schema.
	KeySchema   *Schema
	ValueSchema *Schema
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// Predefined primitive schemas, as Kafka's Schema.*_SCHEMA constants.
var (
	StringSchema         = &Schema{Type: TypeString}
	OptionalStringSchema = &Schema{Type: TypeString, Optional: true}
	OptionalBytesSchema  = &Schema{Type: TypeBytes, Optional: true}
	Int64Schema          = &Schema{Type: TypeInt64}
	Int32Schema          = &Schema{Type: TypeInt32}
	BooleanSchema        = &Schema{Type: TypeBoolean}
)

// Field returns the named field of a struct schema, or nil.
func (s *Schema) Field(name string) *Field {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// SchemaBuilder helps build struct schemas: connect.NewStruct("name").Field("a", connect.Int32Schema).Build().
type SchemaBuilder struct{ s *Schema }

// NewStructSchema starts a struct schema with the given name (may be empty).
func NewStructSchema(name string) *SchemaBuilder {
	return &SchemaBuilder{s: &Schema{Type: TypeStruct, Name: name}}
}

// Field appends a field.
func (b *SchemaBuilder) Field(name string, schema *Schema) *SchemaBuilder {
	b.s.Fields = append(b.s.Fields, Field{Name: name, Index: len(b.s.Fields), Schema: schema})
	return b
}

// Optional marks the schema optional.
func (b *SchemaBuilder) Optional() *SchemaBuilder { b.s.Optional = true; return b }

// Build returns the schema.
func (b *SchemaBuilder) Build() *Schema { return b.s }

// Struct is a value of a struct schema.
type Struct struct {
	Schema *Schema
	values []any
}

// NewStruct returns an empty struct of the schema.
func NewStruct(schema *Schema) *Struct {
	return &Struct{Schema: schema, values: make([]any, len(schema.Fields))}
}

// Put sets a field and returns the struct for chaining. It returns an error for an unknown field or a
// value that does not match the field's schema.
func (s *Struct) Put(name string, value any) error {
	f := s.Schema.Field(name)
	if f == nil {
		return fmt.Errorf("%w: %q is not a field of %s", ErrDataInvalid, name, s.Schema.Type)
	}
	if err := ValidateValue(f.Schema, value); err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	s.values[f.Index] = value
	return nil
}

// Get returns a field's value (nil if unset or unknown).
func (s *Struct) Get(name string) any {
	f := s.Schema.Field(name)
	if f == nil {
		return nil
	}
	return s.values[f.Index]
}

// ErrDataInvalid reports a value that does not match its schema.
var ErrDataInvalid = errors.New("connect: invalid data")

// ValidateValue checks that value is a valid value of schema. A nil schema accepts anything.
func ValidateValue(schema *Schema, value any) error {
	if schema == nil {
		return nil
	}
	if value == nil {
		if schema.Optional || schema.Default != nil {
			return nil
		}
		return fmt.Errorf("%w: null value for required %s", ErrDataInvalid, schema.Type)
	}
	if schema.IsLogical() {
		_, err := LogicalToPrimitive(schema, value)
		return err
	}
	ok := false
	switch schema.Type {
	case TypeInt8:
		_, ok = value.(int8)
	case TypeInt16:
		_, ok = value.(int16)
	case TypeInt32:
		_, ok = value.(int32)
	case TypeInt64:
		_, ok = value.(int64)
	case TypeFloat32:
		_, ok = value.(float32)
	case TypeFloat64:
		_, ok = value.(float64)
	case TypeBoolean:
		_, ok = value.(bool)
	case TypeString:
		_, ok = value.(string)
	case TypeBytes:
		_, ok = value.([]byte)
	case TypeArray:
		var a []any
		if a, ok = value.([]any); ok {
			for _, e := range a {
				if err := ValidateValue(schema.ValueSchema, e); err != nil {
					return err
				}
			}
		}
	case TypeMap:
		var m map[any]any
		if m, ok = value.(map[any]any); ok {
			for k, v := range m {
				if err := ValidateValue(schema.KeySchema, k); err != nil {
					return err
				}
				if err := ValidateValue(schema.ValueSchema, v); err != nil {
					return err
				}
			}
		}
	case TypeStruct:
		var st *Struct
		if st, ok = value.(*Struct); ok && st.Schema != schema {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: %T is not a valid %s value", ErrDataInvalid, value, schema.Type)
	}
	return nil
}
