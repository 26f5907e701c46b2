package connect

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ConfigType is a config key's type, spelled as Kafka's ConfigDef.Type in REST responses.
type ConfigType string

// Config key types.
const (
	TypeConfigString   ConfigType = "STRING"
	TypeConfigInt      ConfigType = "INT"
	TypeConfigLong     ConfigType = "LONG"
	TypeConfigDouble   ConfigType = "DOUBLE"
	TypeConfigBoolean  ConfigType = "BOOLEAN"
	TypeConfigList     ConfigType = "LIST"
	TypeConfigPassword ConfigType = "PASSWORD"
	TypeConfigClass    ConfigType = "CLASS"
)

// Importance is a config key's importance.
type Importance string

// Importances.
const (
	High   Importance = "HIGH"
	Medium Importance = "MEDIUM"
	Low    Importance = "LOW"
)

// Width is a UI hint for a config key's value width.
type Width string

// Widths.
const (
	WidthNone   Width = "NONE"
	WidthShort  Width = "SHORT"
	WidthMedium Width = "MEDIUM"
	WidthLong   Width = "LONG"
)

// noDefault marks a required key.
type noDefault struct{}

// NoDefault is the Default of a required key.
var NoDefault any = noDefault{}

// Validator checks a parsed config value. Validate returns a message (without the key name) for an
// invalid value, or nil.
type Validator interface {
	Validate(name string, value any) error
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(name string, value any) error

// Validate implements Validator.
func (f ValidatorFunc) Validate(name string, value any) error { return f(name, value) }

// ConfigKey defines one config key.
type ConfigKey struct {
	Name          string
	Type          ConfigType
	Default       any // NoDefault for required keys; otherwise a Go value of the type or its string form
	Importance    Importance
	Documentation string
	Group         string
	OrderInGroup  int
	Width         Width
	DisplayName   string
	Dependents    []string
	Validator     Validator
}

// Required reports whether the key has no default.
func (k *ConfigKey) Required() bool { return k.Default == NoDefault }

// ConfigDef is an ordered set of config keys.
type ConfigDef struct {
	keys []*ConfigKey
}

// NewConfigDef returns an empty definition.
func NewConfigDef() *ConfigDef { return &ConfigDef{} }

// Define adds a key and returns the definition for chaining. A later key with the same name replaces
// an earlier one.
func (d *ConfigDef) Define(k ConfigKey) *ConfigDef {
	if k.Width == "" {
		k.Width = WidthNone
	}
	if k.DisplayName == "" {
		k.DisplayName = k.Name
	}
	for i, old := range d.keys {
		if old.Name == k.Name {
			d.keys[i] = &k
			return d
		}
	}
	d.keys = append(d.keys, &k)
	return d
}

// Keys returns the keys in definition order. The caller must not modify them.
func (d *ConfigDef) Keys() []*ConfigKey { return d.keys }

// Key returns the named key or nil.
func (d *ConfigDef) Key(name string) *ConfigKey {
	for _, k := range d.keys {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Merge returns a new definition with d's keys followed by other's.
func (d *ConfigDef) Merge(other *ConfigDef) *ConfigDef {
	out := &ConfigDef{keys: append([]*ConfigKey(nil), d.keys...)}
	if other != nil {
		for _, k := range other.keys {
			out.Define(*k)
		}
	}
	return out
}

// ParseValue parses a raw string as the key's type.
func ParseValue(t ConfigType, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case TypeConfigInt:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("not a number of type INT")
		}
		return int32(v), nil
	case TypeConfigLong:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number of type LONG")
		}
		return v, nil
	case TypeConfigDouble:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number of type DOUBLE")
		}
		return v, nil
	case TypeConfigBoolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("expected value to be either true or false")
	case TypeConfigList:
		if s == "" {
			return []string{}, nil
		}
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	case TypeConfigClass:
		return s, nil
	default: // STRING, PASSWORD keep their spaces as Kafka does for strings
		if t == TypeConfigString {
			return s, nil
		}
		return raw, nil
	}
}

// ConfigValue is the validation result of one key, in /config/validate's "value" shape.
type ConfigValue struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// ConfigKeyInfo is a key's definition in REST shape.
type ConfigKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	OrderInGroup  int      `json:"order"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// ConfigInfo pairs a definition with its value.
type ConfigInfo struct {
	Definition ConfigKeyInfo `json:"definition"`
	Value      ConfigValue   `json:"value"`
}

// ConfigInfos is the body of PUT /connector-plugins/{p}/config/validate.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// Info renders the key in REST shape.
func (k *ConfigKey) Info() ConfigKeyInfo {
	info := ConfigKeyInfo{
		Name: k.Name, Type: string(k.Type), Required: k.Required(), Importance: string(k.Importance),
		Documentation: k.Documentation, OrderInGroup: k.OrderInGroup, Width: string(k.Width),
		DisplayName: k.DisplayName, Dependents: k.Dependents,
	}
	if info.Dependents == nil {
		info.Dependents = []string{}
	}
	if k.Group != "" {
		g := k.Group
		info.Group = &g
	} else if k.OrderInGroup == 0 {
		info.OrderInGroup = -1 // Kafka's ConfigDef: a key outside any group has order -1
	}
	if !k.Required() && k.Default != nil {
		s := formatDefault(k.Type, k.Default)
		info.DefaultValue = &s
	}
	return info
}

func formatDefault(t ConfigType, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []string:
		return strings.Join(x, ",")
	case string:
		return x
	default:
		if t == TypeConfigPassword {
			return "[hidden]"
		}
		return fmt.Sprint(x)
	}
}

// Validate checks every defined key of config and returns one ConfigValue per key, in definition
// order, plus the number of errors. Keys in config that are not defined are not reported.
func (d *ConfigDef) Validate(config map[string]string) ([]ConfigValue, int) {
	var out []ConfigValue
	errs := 0
	for _, k := range d.keys {
		cv := ConfigValue{Name: k.Name, RecommendedValues: []string{}, Errors: []string{}, Visible: true}
		raw, present := config[k.Name]
		if present {
			shown := raw
			if k.Type == TypeConfigPassword {
				shown = "[hidden]"
			}
			cv.Value = &shown
		} else if !k.Required() && k.Default != nil {
			s := formatDefault(k.Type, k.Default)
			cv.Value = &s
		}
		switch {
		case !present && k.Required():
			cv.Errors = append(cv.Errors, fmt.Sprintf("Missing required configuration %q which has no default value.", k.Name))
		case present:
			v, err := ParseValue(k.Type, raw)
			if err != nil {
				cv.Errors = append(cv.Errors, fmt.Sprintf("Invalid value %s for configuration %s: %v", raw, k.Name, err))
			} else if k.Validator != nil {
				if err := k.Validator.Validate(k.Name, v); err != nil {
					cv.Errors = append(cv.Errors, fmt.Sprintf("Invalid value %s for configuration %s: %v", raw, k.Name, err))
				}
			}
		default:
			if k.Validator != nil {
				if v, err := ParseValue(k.Type, formatDefault(k.Type, k.Default)); err == nil {
					if err := k.Validator.Validate(k.Name, v); err != nil {
						cv.Errors = append(cv.Errors, fmt.Sprintf("Invalid value for configuration %s: %v", k.Name, err))
					}
				}
			}
		}
		errs += len(cv.Errors)
		out = append(out, cv)
	}
	return out, errs
}

// Parse returns every defined key's typed value (defaults filled in), or an error naming the first
// invalid key. Use Validate to learn about all of them.
func (d *ConfigDef) Parse(config map[string]string) (map[string]any, error) {
	values, n := d.Validate(config)
	if n > 0 {
		for _, v := range values {
			if len(v.Errors) > 0 {
				return nil, fmt.Errorf("%w: %s", ErrInvalidConfig, v.Errors[0])
			}
		}
	}
	out := make(map[string]any, len(d.keys))
	for _, k := range d.keys {
		raw, ok := config[k.Name]
		if !ok {
			if k.Required() {
				continue
			}
			raw = formatDefault(k.Type, k.Default)
		}
		v, err := ParseValue(k.Type, raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, k.Name, err)
		}
		out[k.Name] = v
	}
	return out, nil
}

// Groups returns the distinct groups of the keys, in first-seen order.
func (d *ConfigDef) Groups() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, k := range d.keys {
		if k.Group != "" && !seen[k.Group] {
			seen[k.Group] = true
			out = append(out, k.Group)
		}
	}
	return out
}

// AtLeast validates that a number is >= min.
func AtLeast(min int64) Validator {
	return ValidatorFunc(func(_ string, v any) error {
		var n int64
		switch x := v.(type) {
		case int32:
			n = int64(x)
		case int64:
			n = x
		default:
			return nil
		}
		if n < min {
			return fmt.Errorf("value must be at least %d", min)
		}
		return nil
	})
}

// NonEmptyString validates that a string is not empty.
func NonEmptyString() Validator {
	return ValidatorFunc(func(_ string, v any) error {
		if s, _ := v.(string); s == "" {
			return fmt.Errorf("string must be non-empty")
		}
		return nil
	})
}

// ConnectorName validates a connector name as Kafka's name key does (non-empty, no ISO control
// characters) and also refuses "." and "..", which no REST path could address: a path segment "."
// or ".." is path navigation, never a name.
func ConnectorName() Validator {
	return ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		switch s {
		case "":
			return errors.New("string may not be empty")
		case ".", "..":
			return fmt.Errorf("a connector may not be named %q (it could not be addressed in a URL path)", s)
		}
		if !utf8.ValidString(s) {
			// NB: JSON (and so every status and listing) would show it with U+FFFD, and two such
			// names could not be told apart.
			return errors.New("string must be valid UTF-8")
		}
		var found []string
		for _, r := range s {
			if unicode.IsControl(r) {
				found = append(found, strconv.Itoa(int(r)))
			}
		}
		if len(found) > 0 {
			return fmt.Errorf("string may not contain control characters but had these code points: %s", strings.Join(found, ", "))
		}
		return nil
	})
}

// ValidRegex validates that a string compiles as a regular expression (empty allowed).
func ValidRegex() Validator {
	return ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		if _, err := regexp.Compile(s); err != nil {
			return fmt.Errorf("not a valid regular expression: %v", err)
		}
		return nil
	})
}

// OneOf validates that a string is one of the given values.
func OneOf(values ...string) Validator {
	sorted := append([]string(nil), values...)
	sort.Strings(sorted)
	return ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		for _, ok := range values {
			if s == ok {
				return nil
			}
		}
		return fmt.Errorf("string must be one of: %s", strings.Join(sorted, ", "))
	})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
