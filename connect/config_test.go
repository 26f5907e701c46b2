package connect_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

func TestConfigDefParsesTypesAndDefaults(t *testing.T) {
	def := connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "s", Type: connect.TypeConfigString, Default: connect.NoDefault}).
		Define(connect.ConfigKey{Name: "i", Type: connect.TypeConfigInt, Default: "5", Validator: connect.AtLeast(1)}).
		Define(connect.ConfigKey{Name: "l", Type: connect.TypeConfigLong, Default: "9000000000"}).
		Define(connect.ConfigKey{Name: "b", Type: connect.TypeConfigBoolean, Default: "false"}).
		Define(connect.ConfigKey{Name: "list", Type: connect.TypeConfigList, Default: ""}).
		Define(connect.ConfigKey{Name: "pw", Type: connect.TypeConfigPassword, Default: nil}).
		Define(connect.ConfigKey{Name: "c", Type: connect.TypeConfigClass, Default: "x.Y"})
	got, err := def.Parse(map[string]string{"s": "v", "b": "TRUE", "list": "a, b,c", "pw": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"s": "v", "i": int32(5), "l": int64(9000000000), "b": true, "list": []string{"a", "b", "c"}, "pw": "secret", "c": "x.Y"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %#v", got)
	}
	values, n := def.Validate(map[string]string{"i": "0", "l": "x", "b": "maybe", "pw": "secret"})
	if n != 4 {
		t.Fatalf("errors = %d: %+v", n, values)
	}
	for _, v := range values {
		if v.Name == "pw" && *v.Value != "[hidden]" {
			t.Fatalf("password shown: %v", *v.Value)
		}
	}
	if _, err := def.Parse(map[string]string{}); !errors.Is(err, connect.ErrInvalidConfig) {
		t.Fatalf("missing required: %v", err)
	}
	info := def.Key("pw").Info()
	if info.DefaultValue != nil || info.Required || info.Type != "PASSWORD" {
		t.Fatalf("info = %+v", info)
	}
}

func TestRegistryLooksUpClassAliasAndSimpleName(t *testing.T) {
	r := testRegistry(t)
	for _, n := range []string{"com.example.CountSourceConnector", "CountSource", "CountSourceConnector"} {
		if p, ok := r.Lookup(n); !ok || p.Class != "com.example.CountSourceConnector" {
			t.Errorf("Lookup(%q) = %v, %v", n, p, ok)
		}
	}
	if _, ok := r.Lookup("com.example.Other"); ok {
		t.Error("unknown class found")
	}
	if err := r.Register(connect.Plugin{Class: "x", Aliases: []string{"CountSource"}, Type: connect.PluginSink}); err == nil {
		t.Error("duplicate alias accepted")
	}
}
