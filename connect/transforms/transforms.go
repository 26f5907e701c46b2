package transforms

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
)

// Record is the record a transform sees: a source record (Sink false) or a sink record (Sink true).
type Record struct {
	Topic string
	// Partition is the Kafka partition; nil for a source record the producer partitions.
	Partition *int32
	// Offset is the Kafka offset of a sink record.
	Offset      int64
	Sink        bool
	KeySchema   *connect.Schema
	Key         any
	ValueSchema *connect.Schema
	Value       any
	Timestamp   time.Time
	Headers     []connect.Header

	sourcePartition, sourceOffset map[string]any
}

// Transformation transforms one record. It must not modify r's maps, structs or header slice in
// place: it returns a new record (nil to drop it).
type Transformation interface {
	Apply(r Record) (*Record, error)
}

// Predicate decides whether a transformation applies to a record.
type Predicate interface {
	Test(r *Record) bool
}

// Config reads one transform's or predicate's keys (prefix "transforms.a.") and collects errors
// keyed by full config key.
type Config struct {
	prefix string
	m      map[string]string
	errs   map[string][]string
}

func (c *Config) full(k string) string { return c.prefix + k }

// Get returns a key's raw value.
func (c *Config) Get(k string) (string, bool) {
	v, ok := c.m[c.prefix+k]
	return v, ok
}

// String returns a key's value, or def if unset.
func (c *Config) String(k, def string) string {
	if v, ok := c.Get(k); ok {
		return v
	}
	return def
}

// Required returns a key's trimmed value, or records a "missing" error.
func (c *Config) Required(k string) string {
	v := strings.TrimSpace(c.String(k, ""))
	if v == "" {
		c.Fail(k, "Missing required configuration %q which has no default value.", c.full(k))
	}
	return v
}

// List returns a comma-separated list key.
func (c *Config) List(k string) []string {
	var out []string
	for _, p := range strings.Split(c.String(k, ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// RequiredList returns a non-empty list key, or records an error.
func (c *Config) RequiredList(k string) []string {
	l := c.List(k)
	if len(l) == 0 {
		c.Fail(k, "Missing required configuration %q which has no default value.", c.full(k))
	}
	return l
}

// Bool returns a boolean key.
func (c *Config) Bool(k string, def bool) bool {
	v, ok := c.Get(k)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	c.Invalid(k, "Expected value to be either true or false")
	return def
}

// Invalid records Kafka's "Invalid value" error for key k.
func (c *Config) Invalid(k, reason string) {
	v, _ := c.Get(k)
	c.Fail(k, "Invalid value %s for configuration %s: %s", v, c.full(k), reason)
}

// Fail records an error for key k.
func (c *Config) Fail(k, format string, args ...any) {
	c.errs[c.full(k)] = append(c.errs[c.full(k)], fmt.Sprintf(format, args...))
}

type transformFactory func(c *Config, isKey bool) Transformation
type predicateFactory func(c *Config) Predicate

type transformClass struct {
	new   transformFactory
	keyed bool // has $Key and $Value variants
}

var (
	transformClasses = map[string]transformClass{}
	predicateClasses = map[string]predicateFactory{}
)

const (
	pkgTransforms = "org.apache.kafka.connect.transforms."
	pkgPredicates = "org.apache.kafka.connect.transforms.predicates."
)

func registerTransform(simple string, keyed bool, f transformFactory) {
	transformClasses[simple] = transformClass{new: f, keyed: keyed}
}

func registerPredicate(simple string, f predicateFactory) { predicateClasses[simple] = f }

// lookupTransform resolves a class name: Kafka's full name or the simple name, with $Key/$Value for
// keyed transforms.
func lookupTransform(class string) (transformFactory, bool, bool) {
	name := strings.TrimPrefix(class, pkgTransforms)
	isKey := false
	base := name
	if i := strings.IndexByte(name, '$'); i >= 0 {
		base = name[:i]
		switch name[i+1:] {
		case "Key":
			isKey = true
		case "Value":
		default:
			return nil, false, false
		}
		tc, ok := transformClasses[base]
		if !ok || !tc.keyed {
			return nil, false, false
		}
		return tc.new, isKey, true
	}
	tc, ok := transformClasses[base]
	if !ok || tc.keyed {
		return nil, false, false
	}
	return tc.new, false, true
}

func lookupPredicate(class string) (predicateFactory, bool) {
	f, ok := predicateClasses[strings.TrimPrefix(class, pkgPredicates)]
	return f, ok
}

// TransformClasses lists the supported transform classes by Kafka's full name.
func TransformClasses() []string {
	var out []string
	for n, tc := range transformClasses {
		if tc.keyed {
			out = append(out, pkgTransforms+n+"$Key", pkgTransforms+n+"$Value")
		} else {
			out = append(out, pkgTransforms+n)
		}
	}
	sort.Strings(out)
	return out
}

// PredicateClasses lists the supported predicate classes by Kafka's full name.
func PredicateClasses() []string {
	var out []string
	for n := range predicateClasses {
		out = append(out, pkgPredicates+n)
	}
	sort.Strings(out)
	return out
}

type step struct {
	alias  string
	t      Transformation
	pred   Predicate
	negate bool
}

// Chain is a connector's transformation chain.
type Chain struct{ steps []step }

// Apply runs the chain; nil means a transform dropped the record.
func (ch *Chain) Apply(r Record) (*Record, error) {
	for _, s := range ch.steps {
		if s.pred != nil && s.pred.Test(&r) == s.negate {
			continue
		}
		out, err := s.t.Apply(r)
		if err != nil {
			return nil, fmt.Errorf("transform %s: %w", s.alias, err)
		}
		if out == nil {
			return nil, nil
		}
		r = *out
	}
	return &r, nil
}

// Len returns the number of transforms.
func (ch *Chain) Len() int { return len(ch.steps) }

func splitAliases(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NewChain builds the chain a connector config names. errs maps full config keys to messages; the
// chain is nil if there are errors or no transforms.
func NewChain(config map[string]string) (*Chain, map[string][]string) {
	errs := map[string][]string{}
	preds := map[string]Predicate{}
	seen := map[string]bool{}
	for _, alias := range splitAliases(config[connect.ConfigPredicates]) {
		if seen[alias] {
			errs[connect.ConfigPredicates] = append(errs[connect.ConfigPredicates], fmt.Sprintf("Duplicate alias provided: %s", alias))
			continue
		}
		seen[alias] = true
		c := &Config{prefix: connect.ConfigPredicates + "." + alias + ".", m: config, errs: errs}
		class := c.Required("type")
		if class == "" {
			continue
		}
		f, ok := lookupPredicate(class)
		if !ok {
			c.Invalid("type", fmt.Sprintf("Class %s could not be found; available predicates: TopicNameMatches, HasHeaderKey, RecordIsTombstone", class))
			continue
		}
		if p := f(c); p != nil {
			preds[alias] = p
		}
	}
	ch := &Chain{}
	seen = map[string]bool{}
	for _, alias := range splitAliases(config[connect.ConfigTransforms]) {
		if seen[alias] {
			errs[connect.ConfigTransforms] = append(errs[connect.ConfigTransforms], fmt.Sprintf("Duplicate alias provided: %s", alias))
			continue
		}
		seen[alias] = true
		c := &Config{prefix: connect.ConfigTransforms + "." + alias + ".", m: config, errs: errs}
		s := step{alias: alias, negate: c.Bool("negate", false)}
		if pn := strings.TrimSpace(c.String("predicate", "")); pn != "" {
			p, ok := preds[pn]
			if !ok && !slices.Contains(splitAliases(config[connect.ConfigPredicates]), pn) {
				c.Invalid("predicate", fmt.Sprintf("predicate %s is not listed in predicates", pn))
			}
			s.pred = p
		} else if _, ok := c.Get("negate"); ok && s.negate {
			c.Invalid("negate", "negate requires a predicate")
		}
		class := c.Required("type")
		if class == "" {
			continue
		}
		f, isKey, ok := lookupTransform(class)
		if !ok {
			c.Invalid("type", fmt.Sprintf("Class %s could not be found; available transforms: %s", class, strings.Join(TransformClasses(), ", ")))
			continue
		}
		s.t = f(c, isKey)
		ch.steps = append(ch.steps, s)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(ch.steps) == 0 {
		return nil, nil
	}
	return ch, nil
}

type provider struct{}

func (provider) ValidateTransforms(config map[string]string) map[string][]string {
	_, errs := NewChain(config)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (provider) NewTransformer(config map[string]string) (connect.RecordTransformer, error) {
	ch, errs := NewChain(config)
	if len(errs) > 0 {
		keys := make([]string, 0, len(errs))
		for k := range errs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var msgs []string
		for _, k := range keys {
			msgs = append(msgs, errs[k]...)
		}
		return nil, fmt.Errorf("%w: %s", connect.ErrInvalidConfig, strings.Join(msgs, "; "))
	}
	if ch == nil {
		return nil, nil
	}
	return ch, nil
}

func (provider) TransformClasses() []string { return TransformClasses() }
func (provider) PredicateClasses() []string { return PredicateClasses() }

func init() { connect.RegisterTransforms(provider{}) }

// TransformSource implements connect.RecordTransformer.
func (ch *Chain) TransformSource(sr connect.SourceRecord) (*connect.SourceRecord, error) {
	r := Record{Topic: sr.Topic, Partition: sr.Partition, KeySchema: sr.KeySchema, Key: sr.Key, ValueSchema: sr.ValueSchema,
		Value: sr.Value, Timestamp: sr.Timestamp, Headers: sr.Headers, sourcePartition: sr.SourcePartition, sourceOffset: sr.SourceOffset}
	out, err := ch.Apply(r)
	if out == nil || err != nil {
		return nil, err
	}
	return &connect.SourceRecord{SourcePartition: out.sourcePartition, SourceOffset: out.sourceOffset, Topic: out.Topic,
		Partition: out.Partition, KeySchema: out.KeySchema, Key: out.Key, ValueSchema: out.ValueSchema, Value: out.Value,
		Timestamp: out.Timestamp, Headers: out.Headers}, nil
}

// TransformSink implements connect.RecordTransformer.
func (ch *Chain) TransformSink(sr connect.SinkRecord) (*connect.SinkRecord, error) {
	p := sr.Partition
	r := Record{Topic: sr.Topic, Partition: &p, Offset: sr.Offset, Sink: true, KeySchema: sr.KeySchema, Key: sr.Key,
		ValueSchema: sr.ValueSchema, Value: sr.Value, Timestamp: sr.Timestamp, Headers: sr.Headers}
	out, err := ch.Apply(r)
	if out == nil || err != nil {
		return nil, err
	}
	part := sr.Partition
	if out.Partition != nil {
		part = *out.Partition
	}
	return &connect.SinkRecord{Topic: out.Topic, Partition: part, Offset: out.Offset, KeySchema: out.KeySchema, Key: out.Key,
		ValueSchema: out.ValueSchema, Value: out.Value, Timestamp: out.Timestamp, Headers: out.Headers}, nil
}

// errData reports a record a transform cannot handle.
var errData = errors.New("transforms: unsupported data")

func dataErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errData, fmt.Sprintf(format, args...))
}

// operand selects the key or the value of a record.
type operand bool

func (o operand) get(r *Record) (*connect.Schema, any) {
	if o {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

func (o operand) set(r *Record, s *connect.Schema, v any) {
	if o {
		r.KeySchema, r.Key = s, v
	} else {
		r.ValueSchema, r.Value = s, v
	}
}

func (o operand) String() string {
	if o {
		return "key"
	}
	return "value"
}

// asMap returns a schemaless map value as map[string]any (a copy), reporting whether it was a
// map[any]any so the result can be returned in the same shape.
func asMap(v any) (m map[string]any, anyKeys, ok bool) {
	switch x := v.(type) {
	case map[string]any:
		m = make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return m, false, true
	case map[any]any:
		m = make(map[string]any, len(x))
		for k, e := range x {
			ks, isStr := k.(string)
			if !isStr {
				return nil, false, false
			}
			m[ks] = e
		}
		return m, true, true
	}
	return nil, false, false
}

func fromMap(m map[string]any, anyKeys bool) any {
	if !anyKeys {
		return m
	}
	out := make(map[any]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// copySchema returns a shallow copy of a struct schema with no fields.
func structSchemaLike(s *connect.Schema) *connect.Schema {
	return &connect.Schema{Type: connect.TypeStruct, Optional: s.Optional, Name: s.Name, Version: s.Version, Doc: s.Doc, Parameters: s.Parameters}
}

func addField(s *connect.Schema, name string, fs *connect.Schema) {
	s.Fields = append(s.Fields, connect.Field{Name: name, Index: len(s.Fields), Schema: fs})
}

func requireStruct(v any, what string) (*connect.Struct, error) {
	st, ok := v.(*connect.Struct)
	if !ok {
		return nil, dataErr("only Struct objects supported for [%s], found: %T", what, v)
	}
	return st, nil
}

func requireMap(v any, what string) (map[string]any, bool, error) {
	m, anyKeys, ok := asMap(v)
	if !ok {
		return nil, false, dataErr("only Map objects supported in absence of schema for [%s], found: %T", what, v)
	}
	return m, anyKeys, nil
}
