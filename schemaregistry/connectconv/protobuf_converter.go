package connectconv

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// ProtobufConverterClass is Confluent's class name for the Protobuf converter.
const ProtobufConverterClass = "io.confluent.connect.protobuf.ProtobufConverter"

// ProtobufConverter is Confluent's io.confluent.connect.protobuf.ProtobufConverter for struct
// keys and values: Connect data as Protobuf in the Confluent wire format (with message indexes),
// the .proto registered in the registry. See ProtobufSchema for the mapping; Connect schema names
// other than the message names and Timestamp, and schema parameters, do not survive (Confluent
// keeps them in its own field options, not supported yet).
type ProtobufConverter struct {
	cfg     serdeConfig
	isKey   bool
	written map[writtenKey]*protoWriter
	read    map[int]protoreflect.FileDescriptor
}

type protoWriter struct {
	id int
	md protoreflect.MessageDescriptor
}

// Configure implements connect.Converter.
func (c *ProtobufConverter) Configure(config map[string]string, isKey bool) error {
	cfg, err := parseSerdeConfig(config, isKey)
	if err != nil {
		return err
	}
	c.cfg, c.isKey = cfg, isKey
	c.written, c.read = map[writtenKey]*protoWriter{}, map[int]protoreflect.FileDescriptor{}
	return nil
}

// FromConnect implements connect.Converter.
func (c *ProtobufConverter) FromConnect(topic string, schema *connect.Schema, value any) ([]byte, error) {
	if c.cfg.client == nil {
		return nil, fmt.Errorf("%w: ProtobufConverter is not configured (%s is required)", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	if value == nil {
		return nil, nil
	}
	w, ok := c.written[writtenKey{topic, schema}]
	if !ok {
		text, err := ProtobufSchema(schema)
		if err != nil {
			return nil, err
		}
		subject, err := c.cfg.strategy(topic, c.isKey, schema.Name)
		if err != nil {
			return nil, err
		}
		ss, err := c.cfg.writerSchema(subject, sr.Schema{Schema: text, Type: sr.TypeProtobuf})
		if err != nil {
			return nil, err
		}
		fd, err := c.cfg.compileProtobuf(ss.Schema)
		if err != nil {
			return nil, fmt.Errorf("%w: schema %d of subject %s: %v", connect.ErrDataInvalid, ss.ID, subject, err)
		}
		if fd.Messages().Len() == 0 {
			return nil, fmt.Errorf("%w: schema %d of subject %s has no message", connect.ErrDataInvalid, ss.ID, subject)
		}
		if len(c.written) >= maxCachedSchemas {
			clear(c.written)
		}
		w = &protoWriter{id: ss.ID, md: fd.Messages().Get(0)}
		c.written[writtenKey{topic, schema}] = w
	}
	st, ok := value.(*connect.Struct)
	if !ok {
		return nil, fmt.Errorf("%w: ProtobufConverter needs a Struct, got %T", connect.ErrDataInvalid, value)
	}
	msg, err := toProto(w.md, st, 0)
	if err != nil {
		return nil, fmt.Errorf("converting Kafka Connect data to Protobuf for topic %s: %w", topic, err)
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	return append(serde.AppendProtobufHeader(make([]byte, 0, 6+len(enc)), uint32(w.id), []int{0}), enc...), nil
}

// ToConnect implements connect.Converter.
func (c *ProtobufConverter) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if c.cfg.client == nil {
		return nil, nil, fmt.Errorf("%w: ProtobufConverter is not configured (%s is required)", connect.ErrInvalidConfig, ConfigSchemaRegistryURL)
	}
	if data == nil {
		return nil, nil, nil
	}
	id, indexes, payload, err := serde.DecodeProtobuf(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: topic %s: %v", connect.ErrDataInvalid, topic, err)
	}
	fd, ok := c.read[int(id)]
	if !ok {
		s, err := c.cfg.compiledByID(int(id), sr.TypeProtobuf)
		if err != nil {
			return nil, nil, err
		}
		fd = s.Protobuf
		if len(c.read) >= maxCachedSchemas {
			clear(c.read)
		}
		c.read[int(id)] = fd
	}
	md, err := messageAt(fd, indexes)
	if err != nil {
		return nil, nil, err
	}
	cs, err := connectFromProto(md, false, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("schema %d: %w", id, err)
	}
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, msg); err != nil {
		return nil, nil, fmt.Errorf("%w: decoding Protobuf of schema %d for topic %s: %v", connect.ErrDataInvalid, id, topic, err)
	}
	v, err := fromProto(cs, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("converting Protobuf of schema %d for topic %s: %w", id, topic, err)
	}
	return cs, v, nil
}

func toProto(md protoreflect.MessageDescriptor, st *connect.Struct, depth int) (*dynamicpb.Message, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%w: value nests deeper than %d", connect.ErrDataInvalid, maxSchemaDepth)
	}
	msg := dynamicpb.NewMessage(md)
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		cf := st.Schema.Field(string(fd.Name()))
		if cf == nil {
			continue
		}
		v := st.Get(cf.Name)
		if v == nil {
			continue
		}
		switch {
		case fd.IsList():
			a, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: field %s needs []any, got %T", connect.ErrDataInvalid, cf.Name, v)
			}
			list := msg.Mutable(fd).List()
			for _, e := range a {
				pv, err := protoValue(fd, cf.Schema.ValueSchema, e, msg, depth)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", cf.Name, err)
				}
				list.Append(pv)
			}
		case fd.IsMap():
			m, ok := v.(map[any]any)
			if !ok {
				return nil, fmt.Errorf("%w: field %s needs map[any]any, got %T", connect.ErrDataInvalid, cf.Name, v)
			}
			pm := msg.Mutable(fd).Map()
			for k, mv := range m {
				pk, err := protoValue(fd.MapKey(), cf.Schema.KeySchema, k, msg, depth)
				if err != nil {
					return nil, err
				}
				pv, err := protoValue(fd.MapValue(), cf.Schema.ValueSchema, mv, msg, depth)
				if err != nil {
					return nil, err
				}
				pm.Set(pk.MapKey(), pv)
			}
		default:
			pv, err := protoValue(fd, cf.Schema, v, msg, depth)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", cf.Name, err)
			}
			msg.Set(fd, pv)
		}
	}
	return msg, nil
}

func protoValue(fd protoreflect.FieldDescriptor, cs *connect.Schema, v any, _ *dynamicpb.Message, depth int) (protoreflect.Value, error) {
	if cs.IsLogical() {
		if fd.Kind() == protoreflect.MessageKind {
			prim, err := connect.LogicalToPrimitive(cs, v)
			if err != nil {
				return protoreflect.Value{}, err
			}
			m, err := logicalMessage(fd.Message(), cs, prim)
			if err != nil {
				return protoreflect.Value{}, err
			}
			return protoreflect.ValueOfMessage(m), nil
		}
		prim, err := connect.LogicalToPrimitive(cs, v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		v = prim
	}
	switch x := v.(type) {
	case int8:
		return protoreflect.ValueOfInt32(int32(x)), nil
	case int16:
		return protoreflect.ValueOfInt32(int32(x)), nil
	case int32:
		return protoreflect.ValueOfInt32(x), nil
	case int64:
		return protoreflect.ValueOfInt64(x), nil
	case float32:
		return protoreflect.ValueOfFloat32(x), nil
	case float64:
		return protoreflect.ValueOfFloat64(x), nil
	case bool:
		return protoreflect.ValueOfBool(x), nil
	case string:
		return protoreflect.ValueOfString(x), nil
	case []byte:
		return protoreflect.ValueOfBytes(x), nil
	case *connect.Struct:
		if fd.Kind() != protoreflect.MessageKind {
			return protoreflect.Value{}, fmt.Errorf("%w: struct for a %s field", connect.ErrDataInvalid, fd.Kind())
		}
		m, err := toProto(fd.Message(), x, depth+1)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(m), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%w: %T has no Protobuf form", connect.ErrDataInvalid, v)
}

// maxDecimalScale bounds the scale a Decimal message may carry: 10^scale is computed, and a
// corrupt or hostile record must not make it take minutes.
const maxDecimalScale = 1000

// logicalMessage is the message of a logical value's primitive (prim: Timestamp int64 millis,
// Date int32 days, Time int32 millis of the day, Decimal two's-complement unscaled bytes), as
// Confluent's ProtobufConverter writes it.
func logicalMessage(md protoreflect.MessageDescriptor, cs *connect.Schema, prim any) (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(md)
	var err error
	set := func(name string, v protoreflect.Value, kinds ...protoreflect.Kind) {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if err != nil {
			return
		}
		if fd == nil || fd.Cardinality() == protoreflect.Repeated || !slices.Contains(kinds, fd.Kind()) {
			err = fmt.Errorf("%w: message %s has no %s field of the expected type", connect.ErrDataInvalid, md.FullName(), name)
			return
		}
		m.Set(fd, v)
	}
	set32 := func(name string, v int64) { set(name, protoreflect.ValueOfInt32(int32(v)), protoreflect.Int32Kind) }
	switch {
	case md.FullName() == "google.protobuf.Timestamp" && cs.Name == connect.TimestampSchemaName:
		ms := prim.(int64)
		set("seconds", protoreflect.ValueOfInt64(floorDiv(ms, 1000)), protoreflect.Int64Kind)
		set32("nanos", (ms-floorDiv(ms, 1000)*1000)*int64(time.Millisecond))
	case md.FullName() == "google.type.Date" && cs.Name == connect.DateSchemaName:
		d := time.UnixMilli(int64(prim.(int32)) * 24 * int64(time.Hour/time.Millisecond)).UTC()
		set32("year", int64(d.Year()))
		set32("month", int64(d.Month()))
		set32("day", int64(d.Day()))
	case md.FullName() == "google.type.TimeOfDay" && cs.Name == connect.TimeSchemaName:
		ms := int64(prim.(int32))
		set32("hours", ms/3_600_000)
		set32("minutes", ms/60_000%60)
		set32("seconds", ms/1000%60)
		set32("nanos", ms%1000*int64(time.Millisecond))
	case md.FullName() == "confluent.type.Decimal" && cs.Name == connect.DecimalSchemaName:
		unscaled := prim.([]byte)
		scale, serr := connect.DecimalScale(cs)
		if serr != nil {
			return nil, serr
		}
		set("value", protoreflect.ValueOfBytes(unscaled), protoreflect.BytesKind)
		set("precision", protoreflect.ValueOfUint32(uint32(decimalPrecision(unscaled))), protoreflect.Uint32Kind)
		set32("scale", int64(scale))
	default:
		return nil, fmt.Errorf("%w: %s has no Protobuf form as message %s", connect.ErrDataInvalid, cs.Name, md.FullName())
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// decimalPrecision is the number of decimal digits of a two's-complement unscaled value (Java's
// BigDecimal.precision(): 1 for zero).
func decimalPrecision(unscaled []byte) int {
	n := fromTwosComplement(unscaled)
	return max(len(n.Abs(n).String()), 1)
}

// fromTwosComplement reads big-endian two's-complement bytes.
func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

// logicalFromMessage is the Connect logical value of a Timestamp, Date, TimeOfDay or Decimal
// message. A Decimal reads with the scale it carries, which Confluent's writers set to the
// schema's. A field missing or of another type reads as zero.
func logicalFromMessage(cs *connect.Schema, msg protoreflect.Message) (any, error) {
	fields := msg.Descriptor().Fields()
	num := func(name string) int64 {
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil || fd.Cardinality() == protoreflect.Repeated {
			return 0
		}
		switch fd.Kind() {
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			return msg.Get(fd).Int()
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			return int64(msg.Get(fd).Uint())
		}
		return 0
	}
	switch name := msg.Descriptor().FullName(); {
	case cs.Name == connect.TimestampSchemaName && name == "google.protobuf.Timestamp":
		return time.UnixMilli(num("seconds")*1000 + num("nanos")/int64(time.Millisecond)).UTC(), nil
	case cs.Name == connect.DateSchemaName && name == "google.type.Date":
		return time.Date(int(num("year")), time.Month(num("month")), int(num("day")), 0, 0, 0, 0, time.UTC), nil
	case cs.Name == connect.TimeSchemaName && name == "google.type.TimeOfDay":
		ms := num("hours")*3_600_000 + num("minutes")*60_000 + num("seconds")*1000 + num("nanos")/int64(time.Millisecond)
		return time.UnixMilli(ms).UTC(), nil
	case cs.Name == connect.DecimalSchemaName && name == "confluent.type.Decimal":
		scale := num("scale")
		if scale < -maxDecimalScale || scale > maxDecimalScale {
			return nil, fmt.Errorf("%w: decimal scale %d is beyond ±%d", connect.ErrDataInvalid, scale, maxDecimalScale)
		}
		var unscaled []byte
		if fd := fields.ByName("value"); fd != nil && fd.Kind() == protoreflect.BytesKind && fd.Cardinality() != protoreflect.Repeated {
			unscaled = msg.Get(fd).Bytes()
		}
		return connect.DecimalFromUnscaled(fromTwosComplement(unscaled), int(scale)), nil
	}
	return nil, fmt.Errorf("%w: message %s is not a Connect %s", connect.ErrDataInvalid, msg.Descriptor().FullName(), cs.Name)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func fromProto(cs *connect.Schema, msg protoreflect.Message) (any, error) {
	if cs.IsLogical() {
		return logicalFromMessage(cs, msg)
	}
	st := connect.NewStruct(cs)
	fields := msg.Descriptor().Fields()
	for _, f := range cs.Fields {
		fd := fields.ByName(protoreflect.Name(f.Name))
		if fd == nil {
			continue
		}
		if fd.HasPresence() && !msg.Has(fd) {
			continue
		}
		v, err := fromProtoField(f.Schema, fd, msg.Get(fd))
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		if err := st.Put(f.Name, v); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func fromProtoField(cs *connect.Schema, fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch {
	case fd.IsList():
		l := v.List()
		out := make([]any, l.Len())
		for i := range out {
			e, err := fromProtoScalar(cs.ValueSchema, fd, l.Get(i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case fd.IsMap():
		out := map[any]any{}
		var err error
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			var ck, cv any
			if ck, err = fromProtoScalar(cs.KeySchema, fd.MapKey(), k.Value()); err != nil {
				return false
			}
			if cv, err = fromProtoScalar(cs.ValueSchema, fd.MapValue(), mv); err != nil {
				return false
			}
			out[ck] = cv
			return true
		})
		return out, err
	}
	return fromProtoScalar(cs, fd, v)
}

func fromProtoScalar(cs *connect.Schema, fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return fromProto(cs, v.Message())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), nil
		}
		return fmt.Sprint(int32(v.Enum())), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int32(v.Uint()), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(v.Uint()), nil
	}
	switch x := v.Interface().(type) {
	case int32:
		switch cs.Type {
		case connect.TypeInt8:
			return int8(x), nil
		case connect.TypeInt16:
			return int16(x), nil
		}
		return x, nil
	case int64, float32, float64, bool, string, []byte:
		return x, nil
	}
	return nil, fmt.Errorf("%w: Protobuf %s value has no Connect form", connect.ErrDataInvalid, fd.Kind())
}

func init() {
	connect.RegisterConverter(connect.ConverterPlugin{
		Class:     ProtobufConverterClass,
		Aliases:   []string{"ProtobufConverter"},
		New:       func() connect.Converter { return &ProtobufConverter{} },
		ConfigDef: serdeConfigDef,
	})
}
