package config

import (
	"reflect"
	"testing"
)

func TestConnectionLimitsUseKafkaDefaultsAndParseOverrides(t *testing.T) {
	b, _, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.ConnectionsMaxIdleMs != 600000 || b.MaxConnections != 2147483647 || b.MaxConnectionsPerIP != 2147483647 || len(b.MaxConnectionsPerIPOverrides) != 0 {
		t.Fatalf("defaults: idle %d, max %d, per ip %d, overrides %v", b.ConnectionsMaxIdleMs, b.MaxConnections, b.MaxConnectionsPerIP, b.MaxConnectionsPerIPOverrides)
	}
	b, _, err = Parse(nil, map[string]string{"max.connections.per.ip.overrides": "10.0.0.7:500, broker.example.com:0,[::1]:3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"10.0.0.7": 500, "broker.example.com": 0, "::1": 3}
	if !reflect.DeepEqual(b.MaxConnectionsPerIPOverrides, want) {
		t.Fatalf("overrides = %v, want %v", b.MaxConnectionsPerIPOverrides, want)
	}
	for _, bad := range []string{"10.0.0.7", "host:-1", "host:many", ":5"} {
		if _, _, err := Parse(nil, map[string]string{"max.connections.per.ip.overrides": bad}); err == nil {
			t.Errorf("overrides %q accepted", bad)
		}
	}
}
