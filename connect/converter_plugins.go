package connect

import (
	"fmt"
	"sort"
	"sync"
)

// ConverterPlugin describes a converter that a package outside connect provides (the schema
// registry's Avro, JSON Schema and Protobuf converters), registered from its init the way
// connectors register themselves.
type ConverterPlugin struct {
	// Class is the converter's class name (Confluent's, for its converters).
	Class string
	// Aliases are extra names accepted in key.converter and value.converter.
	Aliases []string
	// New returns an unconfigured converter.
	New func() Converter
	// ConfigDef, if set, lists the converter's config keys.
	ConfigDef func() *ConfigDef
}

var converterPlugins struct {
	sync.Mutex
	byName map[string]*ConverterPlugin
	order  []string
}

// RegisterConverter adds a converter class. It panics on a duplicate name: that is a programming
// error at init time, never input.
func RegisterConverter(p ConverterPlugin) {
	converterPlugins.Lock()
	defer converterPlugins.Unlock()
	if converterPlugins.byName == nil {
		converterPlugins.byName = map[string]*ConverterPlugin{}
	}
	for _, n := range append([]string{p.Class}, p.Aliases...) {
		if _, dup := converterPlugins.byName[n]; dup {
			panic(fmt.Sprintf("connect: converter %q registered twice", n))
		}
		converterPlugins.byName[n] = &p
	}
	converterPlugins.order = append(converterPlugins.order, p.Class)
	sort.Strings(converterPlugins.order)
}

func lookupConverterPlugin(class string) (*ConverterPlugin, bool) {
	converterPlugins.Lock()
	defer converterPlugins.Unlock()
	p, ok := converterPlugins.byName[class]
	return p, ok
}

// registeredConverterClasses lists the registered converter classes, sorted.
func registeredConverterClasses() []string {
	converterPlugins.Lock()
	defer converterPlugins.Unlock()
	return append([]string(nil), converterPlugins.order...)
}

// newRegisteredConverter builds a registered converter.
//
// NB: a nil config only asks whether the class exists (the worker and connector config validators
// call NewConverter(class, nil, false)); a registered converter may need settings a probe cannot
// give (schema.registry.url), so it is returned unconfigured rather than refused.
func newRegisteredConverter(class string, config map[string]string, isKey bool) (Converter, bool, error) {
	p, ok := lookupConverterPlugin(class)
	if !ok {
		return nil, false, nil
	}
	c := p.New()
	if config == nil {
		return c, true, nil
	}
	if err := c.Configure(config, isKey); err != nil {
		return nil, true, err
	}
	return c, true, nil
}
