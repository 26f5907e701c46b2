package connect

import (
	"errors"
	"fmt"
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
		if rc, ok, err := newRegisteredConverter(class, config, isKey); ok {
			return rc, err
		}
		return nil, fmt.Errorf("%w %q", ErrUnknownConverter, class)
	}
	if err := c.Configure(config, isKey); err != nil {
		return nil, err
	}
	return c, nil
}

// ConverterConfigDef returns the config keys of a built-in converter (Kafka's class or short name),
// as GET /connector-plugins/{converter}/config lists them.
func ConverterConfigDef(class string) (*ConfigDef, bool) {
	converterType := ConfigKey{Name: "converter.type", Type: TypeConfigString, Default: NoDefault, Importance: Low,
		Documentation: "Whether the converter is used for keys, values or headers; the worker sets it.", Validator: OneOf("key", "value", "header")}
	switch class {
	case JSONConverterClass, "JsonConverter":
		return NewConfigDef().
			Define(converterType).
			Define(ConfigKey{Name: "schemas.enable", Type: TypeConfigBoolean, Default: "true", Importance: High, Group: "Schemas", OrderInGroup: 0, Width: WidthMedium,
				DisplayName: "Enable Schemas", Documentation: "Write and expect the {\"schema\", \"payload\"} envelope around every key or value."}).
			Define(ConfigKey{Name: "schemas.cache.size", Type: TypeConfigInt, Default: "1000", Importance: High, Group: "Schemas", OrderInGroup: 1, Width: WidthMedium,
				DisplayName: "Schema Cache Size", Documentation: "Accepted for compatibility; this converter caches the last schema it saw.", Validator: AtLeast(0)}).
			Define(ConfigKey{Name: "decimal.format", Type: TypeConfigString, Default: "BASE64", Importance: Low, Group: "Serialization", OrderInGroup: 0, Width: WidthMedium,
				DisplayName: "Decimal Format", Documentation: "How Decimal values are written: BASE64 (the unscaled value's bytes) or NUMERIC (a JSON number); case-insensitive.",
				Validator: ValidatorFunc(func(_ string, v any) error {
					if s, _ := v.(string); !strings.EqualFold(s, "BASE64") && !strings.EqualFold(s, "NUMERIC") {
						return errors.New("String must be one of (case insensitive): BASE64, NUMERIC")
					}
					return nil
				})}).
			Define(ConfigKey{Name: "replace.null.with.default", Type: TypeConfigBoolean, Default: "true", Importance: Low, Group: "Serialization", OrderInGroup: 1, Width: WidthMedium,
				DisplayName: "Replace null with default", Documentation: "Whether a null field that has a default value is written and read as that default (true) or as null (false)."}), true
	case StringConverterClass, "StringConverter":
		return NewConfigDef().
			Define(ConfigKey{Name: "converter.encoding", Type: TypeConfigString, Default: "UTF-8", Importance: High, Group: "Converter", OrderInGroup: 0, Width: WidthMedium,
				DisplayName: "Encoding", Documentation: "The character encoding of strings; only UTF-8 is supported.", Validator: OneOf("UTF-8", "UTF8")}).
			Define(converterType), true
	case ByteArrayConverterClass, "ByteArrayConverter":
		return NewConfigDef().Define(converterType), true
	}
	if p, ok := lookupConverterPlugin(class); ok && p.ConfigDef != nil {
		return p.ConfigDef(), true
	}
	return nil, false
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
