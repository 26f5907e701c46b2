package config

import (
	"strings"
	"testing"
)

func TestMetricsListenerIsOffByDefaultAndValidated(t *testing.T) {
	cfg, _, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsListener != "" {
		t.Fatalf("metrics.listener defaults to %q, want off", cfg.MetricsListener)
	}
	for _, tc := range []struct{ value, want, err string }{
		{"127.0.0.1:9404", "127.0.0.1:9404", ""},
		{":9404", ":9404", ""},
		{"http://[::1]:0", "[::1]:0", ""},
		{"localhost", "", "want host:port"},
		{"127.0.0.1:http", "", "port from 0 to 65535"},
		{"127.0.0.1:70000", "", "port from 0 to 65535"},
	} {
		cfg, _, err := Load("", []string{"metrics.listener=" + tc.value})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), "metrics.listener") || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("metrics.listener=%s: error %v, want one naming the key and %q", tc.value, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.MetricsListener != tc.want {
			t.Errorf("metrics.listener=%s: got %q, %v; want %q", tc.value, cfg.MetricsListener, err, tc.want)
		}
	}
}
