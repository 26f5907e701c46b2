package connectconv

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ProtobufSchema returns a proto3 file for a Connect struct schema: the struct is the file's first
// message (message indexes [0]); nested structs are further top-level messages. Fields are
// numbered by position from 1; optional scalars are proto3 optional fields; arrays are repeated;
// maps with string or integer keys are map fields. Logical types map as Confluent's
// ProtobufConverter maps them: Timestamp is google.protobuf.Timestamp, Date google.type.Date, Time
// google.type.TimeOfDay, and Decimal confluent.type.Decimal with its scale and precision in the
// field's (confluent.field_meta) params.
func ProtobufSchema(s *connect.Schema) (string, error) {
	if s == nil || s.Type != connect.TypeStruct {
		return "", fmt.Errorf("%w: the Protobuf converter needs a struct schema", connect.ErrDataInvalid)
	}
	g := &protoGen{names: map[string]*connect.Schema{}}
	if _, err := g.message(s, 0); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n")
	if ns, _ := splitName(avroFullName(s.Name)); ns != "" {
		fmt.Fprintf(&b, "package %s;\n", ns)
	}
	for _, imp := range []struct {
		used bool
		file string
	}{{g.meta, "confluent/meta.proto"}, {g.decimal, "confluent/type/decimal.proto"}, {g.date, "google/type/date.proto"},
		{g.timeOfDay, "google/type/timeofday.proto"}, {g.timestamp, "google/protobuf/timestamp.proto"}} {
		if imp.used {
			fmt.Fprintf(&b, "import %q;\n", imp.file)
		}
	}
	for _, m := range g.out {
		b.WriteString(m)
	}
	return b.String(), nil
}

type protoGen struct {
	names map[string]*connect.Schema
	out   []string
	// the imports the messages use
	timestamp, date, timeOfDay, decimal, meta bool
}

func (g *protoGen) message(s *connect.Schema, depth int) (string, error) {
	if depth > maxSchemaDepth {
		return "", fmt.Errorf("%w: schema nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	_, name := splitName(avroFullName(s.Name))
	if s.Name == "" {
		name = defaultRecordName
	}
	for i := 2; ; i++ {
		prev, taken := g.names[name]
		if !taken {
			break
		}
		if prev == s || sameSchema(prev, s) {
			return name, nil
		}
		name = fmt.Sprintf("%s%d", strings.TrimRight(name, "0123456789"), i)
	}
	g.names[name] = s
	slot := len(g.out)
	g.out = append(g.out, "")
	var b strings.Builder
	fmt.Fprintf(&b, "message %s {\n", name)
	for i, f := range s.Fields {
		typ, label, err := g.fieldType(f.Schema, depth)
		if err != nil {
			return "", fmt.Errorf("field %q: %w", f.Name, err)
		}
		fmt.Fprintf(&b, "  %s%s %s = %d%s;\n", label, typ, avroName(f.Name), i+1, g.fieldOptions(f.Schema))
	}
	b.WriteString("}\n")
	g.out[slot] = b.String()
	return name, nil
}

// fieldType returns a field's proto type and label ("optional ", "repeated " or "").
func (g *protoGen) fieldType(s *connect.Schema, depth int) (string, string, error) {
	switch s.Type {
	case connect.TypeArray:
		if s.ValueSchema.Type == connect.TypeArray || s.ValueSchema.Type == connect.TypeMap || s.ValueSchema.Optional {
			return "", "", fmt.Errorf("%w: Protobuf has no array of %s or of optional elements", connect.ErrDataInvalid, s.ValueSchema.Type)
		}
		t, _, err := g.fieldType(s.ValueSchema, depth+1)
		return t, "repeated ", err
	case connect.TypeMap:
		var k string
		switch s.KeySchema.Type {
		case connect.TypeString:
			k = "string"
		case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32:
			k = "int32"
		case connect.TypeInt64:
			k = "int64"
		case connect.TypeBoolean:
			k = "bool"
		default:
			return "", "", fmt.Errorf("%w: Protobuf map keys cannot be %s", connect.ErrDataInvalid, s.KeySchema.Type)
		}
		if s.ValueSchema.Type == connect.TypeArray || s.ValueSchema.Type == connect.TypeMap || s.ValueSchema.Optional {
			return "", "", fmt.Errorf("%w: Protobuf map values cannot be %s or optional", connect.ErrDataInvalid, s.ValueSchema.Type)
		}
		v, _, err := g.fieldType(s.ValueSchema, depth+1)
		return fmt.Sprintf("map<%s, %s>", k, v), "", err
	case connect.TypeStruct:
		name, err := g.message(s, depth+1)
		return name, "", err // message fields are nullable already
	}
	switch {
	case s.Name == connect.TimestampSchemaName && s.Type == connect.TypeInt64:
		g.timestamp = true
		return "google.protobuf.Timestamp", "", nil
	case s.Name == connect.DateSchemaName && s.Type == connect.TypeInt32:
		g.date = true
		return "google.type.Date", "", nil
	case s.Name == connect.TimeSchemaName && s.Type == connect.TypeInt32:
		g.timeOfDay = true
		return "google.type.TimeOfDay", "", nil
	case s.Name == connect.DecimalSchemaName && s.Type == connect.TypeBytes:
		g.decimal = true
		return "confluent.type.Decimal", "", nil
	}
	label := ""
	if s.Optional {
		label = "optional "
	}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32:
		return "int32", label, nil
	case connect.TypeInt64:
		return "int64", label, nil
	case connect.TypeFloat32:
		return "float", label, nil
	case connect.TypeFloat64:
		return "double", label, nil
	case connect.TypeBoolean:
		return "bool", label, nil
	case connect.TypeString:
		return "string", label, nil
	case connect.TypeBytes:
		return "bytes", label, nil
	}
	return "", "", fmt.Errorf("%w: Connect type %q has no Protobuf form", connect.ErrDataInvalid, s.Type)
}

// fieldOptions returns a field's options: a Decimal's scale and precision, and int8/int16 as
// connect.type, in Confluent's (confluent.field_meta) params, so a reader rebuilds the same
// Connect schema.
func (g *protoGen) fieldOptions(s *connect.Schema) string {
	if s.Type == connect.TypeArray && s.ValueSchema != nil {
		s = s.ValueSchema
	}
	var params []string
	switch {
	case s.Name == connect.DecimalSchemaName && s.Type == connect.TypeBytes:
		if p, ok := s.Parameters[DecimalPrecisionParameter]; ok {
			params = append(params, fmt.Sprintf(`{ key: "precision", value: %q }`, p))
		}
		params = append(params, fmt.Sprintf(`{ key: "scale", value: %q }`, s.Parameters[connect.DecimalScaleParameter]))
	case s.Type == connect.TypeInt8 || s.Type == connect.TypeInt16:
		params = append(params, fmt.Sprintf(`{ key: "connect.type", value: %q }`, s.Type))
	default:
		return ""
	}
	g.meta = true
	return " [(confluent.field_meta) = { params: [" + strings.Join(params, ", ") + "] }]"
}

// compileProto compiles one self-contained proto file (standard imports and Confluent's known
// dependencies allowed).
func compileProto(text string) (protoreflect.FileDescriptor, error) {
	return compiled.CompileProtobuf(text, nil)
}

// messageAt finds the message of Confluent's message indexes in a file.
func messageAt(fd protoreflect.FileDescriptor, indexes []int) (protoreflect.MessageDescriptor, error) {
	md, err := compiled.MessageAt(fd, indexes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", connect.ErrDataInvalid, err)
	}
	return md, nil
}

// connectFromProto returns the Connect schema of a message: a struct of its fields in number order.
func connectFromProto(md protoreflect.MessageDescriptor, optional bool, depth int) (*connect.Schema, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: message nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	var logical *connect.Schema
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		logical = connect.TimestampSchema()
	case "google.type.Date":
		logical = connect.DateSchema()
	case "google.type.TimeOfDay":
		logical = connect.TimeSchema()
	}
	if logical != nil {
		logical.Optional = optional
		return logical, nil
	}
	cs := &connect.Schema{Type: connect.TypeStruct, Name: string(md.FullName()), Optional: optional}
	fields := md.Fields()
	list := make([]protoreflect.FieldDescriptor, fields.Len())
	for i := range list {
		list[i] = fields.Get(i)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Number() < list[j].Number() })
	for i, fd := range list {
		fs, err := connectFromProtoField(fd, depth)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", fd.Name(), err)
		}
		cs.Fields = append(cs.Fields, connect.Field{Name: string(fd.Name()), Index: i, Schema: fs})
	}
	return cs, nil
}

func connectFromProtoField(fd protoreflect.FieldDescriptor, depth int) (*connect.Schema, error) {
	if fd.IsMap() {
		k, err := connectFromProtoKind(fd.MapKey(), false, depth)
		if err != nil {
			return nil, err
		}
		v, err := connectFromProtoKind(fd.MapValue(), false, depth)
		if err != nil {
			return nil, err
		}
		return &connect.Schema{Type: connect.TypeMap, KeySchema: k, ValueSchema: v, Optional: true}, nil
	}
	if fd.IsList() {
		e, err := connectFromProtoKind(fd, false, depth)
		if err != nil {
			return nil, err
		}
		return &connect.Schema{Type: connect.TypeArray, ValueSchema: e, Optional: true}, nil
	}
	return connectFromProtoKind(fd, fd.HasPresence(), depth)
}

// decimalFromField is the Connect Decimal of a confluent.type.Decimal field, its scale and
// precision from the field's (confluent.field_meta) params.
//
// NB: a schema written without the params (not by a Connect converter) gives scale 0 here; each
// value still reads with the scale it carries, as Confluent's converter does.
func decimalFromField(fd protoreflect.FieldDescriptor, optional bool) *connect.Schema {
	params := compiled.FieldParams(fd)
	scale, err := strconv.Atoi(params["scale"])
	if err != nil {
		scale = 0
	}
	s := connect.DecimalSchema(scale)
	if p, ok := params["precision"]; ok {
		s.Parameters[DecimalPrecisionParameter] = p
	}
	s.Optional = optional
	return s
}

func connectFromProtoKind(fd protoreflect.FieldDescriptor, optional bool, depth int) (*connect.Schema, error) {
	var t connect.Type
	switch fd.Kind() {
	case protoreflect.BoolKind:
		t = connect.TypeBoolean
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		t = connect.TypeInt32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		t = connect.TypeInt64
	case protoreflect.FloatKind:
		t = connect.TypeFloat32
	case protoreflect.DoubleKind:
		t = connect.TypeFloat64
	case protoreflect.StringKind, protoreflect.EnumKind:
		t = connect.TypeString
	case protoreflect.BytesKind:
		t = connect.TypeBytes
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == "confluent.type.Decimal" {
			return decimalFromField(fd, optional), nil
		}
		return connectFromProto(fd.Message(), true, depth+1)
	default:
		return nil, fmt.Errorf("%w: Protobuf kind %s has no Connect form", connect.ErrDataInvalid, fd.Kind())
	}
	if t == connect.TypeInt32 {
		switch compiled.FieldParams(fd)["connect.type"] {
		case string(connect.TypeInt8):
			t = connect.TypeInt8
		case string(connect.TypeInt16):
			t = connect.TypeInt16
		}
	}
	return &connect.Schema{Type: t, Optional: optional}, nil
}
