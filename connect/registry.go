package connect

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// PluginType is "source" or "sink".
type PluginType string

// Plugin types.
const (
	PluginSource PluginType = "source"
	PluginSink   PluginType = "sink"
)

// Plugin describes a connector class. New must return a fresh SourceConnector or SinkConnector.
type Plugin struct {
	// Class is the canonical class name (Kafka's, for ported connectors).
	Class string
	// Aliases are extra names accepted in connector.class and plugin paths.
	Aliases []string
	Type    PluginType
	Version string
	New     func() Connector
}

// Registry maps class names and aliases to plugins. It is safe for concurrent use.
type Registry struct {
	mu struct {
		sync.Mutex
		byName  map[string]*Plugin
		plugins []*Plugin
	}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.mu.byName = map[string]*Plugin{}
	return r
}

// DefaultRegistry is where connector packages register themselves in init.
var DefaultRegistry = NewRegistry()

// Register adds a plugin to DefaultRegistry. It panics on a duplicate name: that is a programming
// error at init time, never input.
func Register(p Plugin) {
	if err := DefaultRegistry.Register(p); err != nil {
		panic(err)
	}
}

// Register adds a plugin, or fails if a name is taken.
func (r *Registry) Register(p Plugin) error {
	if p.Type != PluginSource && p.Type != PluginSink {
		return fmt.Errorf("connect: plugin %s: type must be source or sink", p.Class)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	names := append([]string{p.Class}, p.Aliases...)
	for _, n := range names {
		if _, dup := r.mu.byName[n]; dup {
			return fmt.Errorf("connect: plugin name %q registered twice", n)
		}
	}
	pp := &p
	for _, n := range names {
		r.mu.byName[n] = pp
	}
	r.mu.plugins = append(r.mu.plugins, pp)
	return nil
}

// Lookup finds a plugin by class name or alias. Like Kafka, an alias may also be the class's simple
// name with or without the "Connector" suffix.
func (r *Registry) Lookup(name string) (*Plugin, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.mu.byName[name]; ok {
		return p, true
	}
	for _, p := range r.mu.plugins {
		simple := p.Class[strings.LastIndex(p.Class, ".")+1:]
		if name == simple || name == strings.TrimSuffix(simple, "Connector") {
			return p, true
		}
	}
	return nil, false
}

// Plugins returns every plugin sorted by class.
func (r *Registry) Plugins() []*Plugin {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]*Plugin(nil), r.mu.plugins...)
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return out
}

// Common connector config keys, as Kafka's ConnectorConfig and SinkConnectorConfig.
const (
	ConfigName           = "name"
	ConfigConnectorClass = "connector.class"
	ConfigTasksMax       = "tasks.max"
	ConfigKeyConverter   = "key.converter"
	ConfigValueConverter = "value.converter"
	ConfigHeaderConv     = "header.converter"
	ConfigTransforms     = "transforms"
	ConfigPredicates     = "predicates"
	ConfigTopics         = "topics"
	ConfigTopicsRegex    = "topics.regex"
)

func converterValidator() Validator {
	return ValidatorFunc(func(_ string, v any) error {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		if _, err := NewConverter(s, nil, false); err != nil {
			return fmt.Errorf("class %s could not be found; available: %s, %s, %s", s, JSONConverterClass, StringConverterClass, ByteArrayConverterClass)
		}
		return nil
	})
}

// notYetSupported rejects a non-empty list: better a 400 than silently ignoring transforms.
func notYetSupported(what string) Validator {
	return ValidatorFunc(func(_ string, v any) error {
		if l, _ := v.([]string); len(l) > 0 {
			return fmt.Errorf("%s are not supported by this worker yet", what)
		}
		return nil
	})
}

// RecordTransformer applies a connector's transformation chain (transforms=..., predicates=...) to
// one record. A nil result with a nil error means the chain dropped the record.
type RecordTransformer interface {
	TransformSource(r SourceRecord) (*SourceRecord, error)
	TransformSink(r SinkRecord) (*SinkRecord, error)
}

// TransformsProvider builds transformation chains from connector configs. connect/transforms
// registers one in init (RegisterTransforms); without one, configs naming transforms are rejected.
type TransformsProvider interface {
	// ValidateTransforms returns error messages per config key (e.g. "transforms.a.regex") for the
	// transforms and predicates the config names; nil if all are valid.
	ValidateTransforms(config map[string]string) map[string][]string
	// NewTransformer builds the chain; it returns nil if the config names no transforms.
	NewTransformer(config map[string]string) (RecordTransformer, error)
}

// TransformsLister is an optional TransformsProvider capability: the transform and predicate
// classes it offers (Kafka's full names), listed by GET /connector-plugins?connectorsOnly=false.
type TransformsLister interface {
	TransformClasses() []string
	PredicateClasses() []string
}

// Plugin types of the non-connector plugins GET /connector-plugins?connectorsOnly=false lists.
const (
	PluginTransformation PluginType = "transformation"
	PluginPredicate      PluginType = "predicate"
	PluginConverter      PluginType = "converter"
)

// PluginInfo is one entry of GET /connector-plugins.
type PluginInfo struct {
	Class   string     `json:"class"`
	Type    PluginType `json:"type"`
	Version string     `json:"version"`
}

// AllPlugins lists the connectors (sorted by class) and, unless connectorsOnly, the
// transformations, predicates and converters this worker offers, each group sorted, as Kafka's
// GET /connector-plugins?connectorsOnly=false does.
func (r *Registry) AllPlugins(connectorsOnly bool) []PluginInfo {
	out := []PluginInfo{}
	for _, p := range r.Plugins() {
		out = append(out, PluginInfo{Class: p.Class, Type: p.Type, Version: p.Version})
	}
	if connectorsOnly {
		return out
	}
	if l, ok := currentTransforms().(TransformsLister); ok {
		for _, c := range l.TransformClasses() {
			out = append(out, PluginInfo{Class: c, Type: PluginTransformation, Version: Version})
		}
		for _, c := range l.PredicateClasses() {
			out = append(out, PluginInfo{Class: c, Type: PluginPredicate, Version: Version})
		}
	}
	for _, c := range append([]string{ByteArrayConverterClass, JSONConverterClass, StringConverterClass}, registeredConverterClasses()...) {
		out = append(out, PluginInfo{Class: c, Type: PluginConverter, Version: Version})
	}
	return out
}

var transformsProvider struct {
	sync.Mutex
	p TransformsProvider
}

// RegisterTransforms installs the provider of transforms and predicates (called from init).
func RegisterTransforms(p TransformsProvider) {
	transformsProvider.Lock()
	defer transformsProvider.Unlock()
	transformsProvider.p = p
}

func currentTransforms() TransformsProvider {
	transformsProvider.Lock()
	defer transformsProvider.Unlock()
	return transformsProvider.p
}

// newTransformer builds a connector's chain, or returns nil if it has none.
func newTransformer(config map[string]string) (RecordTransformer, error) {
	p := currentTransforms()
	if p == nil {
		if len(splitList(config[ConfigTransforms])) > 0 {
			return nil, fmt.Errorf("transforms are not supported by this worker")
		}
		return nil, nil
	}
	return p.NewTransformer(config)
}

// commonConfigDef returns the keys every connector has.
func commonConfigDef(t PluginType) *ConfigDef {
	var transformsV, predicatesV Validator
	if currentTransforms() == nil {
		transformsV, predicatesV = notYetSupported("transforms"), notYetSupported("predicates")
	}
	d := NewConfigDef().
		Define(ConfigKey{Name: ConfigName, Type: TypeConfigString, Default: NoDefault, Importance: High, Group: "Common", OrderInGroup: 1, Width: WidthMedium, DisplayName: "Connector name", Documentation: "Globally unique name to use for this connector.", Validator: ConnectorName()}).
		Define(ConfigKey{Name: ConfigConnectorClass, Type: TypeConfigString, Default: NoDefault, Importance: High, Group: "Common", OrderInGroup: 2, Width: WidthLong, DisplayName: "Connector class", Documentation: "Name or alias of the class for this connector."}).
		Define(ConfigKey{Name: ConfigTasksMax, Type: TypeConfigInt, Default: "1", Importance: High, Group: "Common", OrderInGroup: 3, Width: WidthShort, DisplayName: "Tasks max", Documentation: "Maximum number of tasks to use for this connector.", Validator: AtLeast(1)}).
		Define(ConfigKey{Name: ConfigKeyConverter, Type: TypeConfigClass, Default: nil, Importance: Low, Group: "Common", OrderInGroup: 4, Width: WidthShort, DisplayName: "Key converter class", Documentation: "Converter class for record keys; overrides the worker's key.converter.", Validator: converterValidator()}).
		Define(ConfigKey{Name: ConfigValueConverter, Type: TypeConfigClass, Default: nil, Importance: Low, Group: "Common", OrderInGroup: 5, Width: WidthShort, DisplayName: "Value converter class", Documentation: "Converter class for record values; overrides the worker's value.converter.", Validator: converterValidator()}).
		Define(ConfigKey{Name: ConfigTransforms, Type: TypeConfigList, Default: "", Importance: Low, Group: "Transforms", OrderInGroup: 1, Width: WidthLong, DisplayName: "Transforms", Documentation: "Aliases for the transformations to be applied to records.", Validator: transformsV}).
		Define(ConfigKey{Name: ConfigPredicates, Type: TypeConfigList, Default: "", Importance: Low, Group: "Predicates", OrderInGroup: 1, Width: WidthLong, DisplayName: "Predicates", Documentation: "Aliases for the predicates used by transformations.", Validator: predicatesV})
	errorConfigKeys(d, t)
	if t == PluginSink {
		d.Define(ConfigKey{Name: ConfigTopics, Type: TypeConfigList, Default: "", Importance: High, Group: "Common", OrderInGroup: 6, Width: WidthLong, DisplayName: "Topics", Documentation: "List of topics to consume, separated by commas."})
		d.Define(ConfigKey{Name: ConfigTopicsRegex, Type: TypeConfigString, Default: "", Importance: High, Group: "Common", OrderInGroup: 7, Width: WidthLong, DisplayName: "Topics regex", Documentation: "Regular expression giving topics to consume.", Validator: ValidRegex()})
	}
	return d
}

// ValidateConnectorConfig validates a connector config against the common keys and the plugin's
// keys, producing /config/validate's body. An unknown or missing connector.class yields ErrNotFound
// only through the returned infos' errors (the class key carries the message).
func (r *Registry) ValidateConnectorConfig(config map[string]string) (ConfigInfos, *Plugin) {
	class := config[ConfigConnectorClass]
	p, ok := r.Lookup(class)
	t := PluginSource
	if ok {
		t = p.Type
	}
	def := commonConfigDef(t)
	if ok {
		def = def.Merge(p.New().ConfigDef())
	}
	values, _ := def.Validate(config)
	infos := ConfigInfos{Name: class, Groups: def.Groups()}
	for i, k := range def.Keys() {
		v := values[i]
		// NB: a present but empty (or JSON null) class names no plugin either; Kafka refuses it the
		// same way, and a connector without a plugin must never reach a herder.
		if _, present := config[ConfigConnectorClass]; k.Name == ConfigConnectorClass && !ok && present {
			v.Errors = append(v.Errors, fmt.Sprintf("Invalid value %s for configuration %s: Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", class, ConfigConnectorClass, class, r.available()))
		}
		infos.Configs = append(infos.Configs, ConfigInfo{Definition: k.Info(), Value: v})
	}
	if ok {
		infos.Name = p.Class
	}
	if t == PluginSink {
		addSinkTopicErrors(&infos, config)
		addDLQTopicErrors(&infos, config)
	}
	addTransformErrors(&infos, config)
	for _, c := range infos.Configs {
		infos.ErrorCount += len(c.Value.Errors)
	}
	if !ok {
		p = nil
	}
	return infos, p
}

func addSinkTopicErrors(infos *ConfigInfos, config map[string]string) {
	topics := strings.TrimSpace(config[ConfigTopics])
	regex := strings.TrimSpace(config[ConfigTopicsRegex])
	var msg string
	switch {
	case topics != "" && regex != "":
		msg = "topics and topics.regex are mutually exclusive options, but both are set."
	case topics == "" && regex == "":
		msg = "Must configure one of topics or topics.regex"
	}
	if regex != "" {
		if _, err := regexp.Compile(regex); err != nil {
			return // already reported by the validator
		}
	}
	if msg == "" {
		return
	}
	for i := range infos.Configs {
		if n := infos.Configs[i].Value.Name; n == ConfigTopics || n == ConfigTopicsRegex {
			infos.Configs[i].Value.Errors = append(infos.Configs[i].Value.Errors, msg)
		}
	}
}

// addTransformErrors reports invalid transforms and predicates: on their key if it is defined,
// otherwise as an extra entry (like Kafka, which enriches the ConfigDef with each transform's keys).
func addTransformErrors(infos *ConfigInfos, config map[string]string) {
	p := currentTransforms()
	if p == nil {
		return
	}
	errs := p.ValidateTransforms(config)
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for i := range infos.Configs {
			if infos.Configs[i].Value.Name == k {
				infos.Configs[i].Value.Errors = append(infos.Configs[i].Value.Errors, errs[k]...)
				found = true
			}
		}
		if found {
			continue
		}
		var val *string
		if v, ok := config[k]; ok {
			val = &v
		}
		group := "Transforms"
		if strings.HasPrefix(k, ConfigPredicates+".") {
			group = "Predicates"
		}
		infos.Configs = append(infos.Configs, ConfigInfo{
			Definition: ConfigKeyInfo{Name: k, Type: "STRING", Importance: "LOW", Group: &group, Width: "NONE", DisplayName: k, Dependents: []string{}},
			Value:      ConfigValue{Name: k, Value: val, RecommendedValues: []string{}, Errors: errs[k], Visible: true},
		})
	}
}

func (r *Registry) available() string {
	var names []string
	for _, p := range r.Plugins() {
		names = append(names, p.Class)
		names = append(names, p.Aliases...)
	}
	return strings.Join(names, ", ")
}
