package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionPrefersLinkedVersionThenBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-07T18:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		linked string
		info   *debug.BuildInfo
		want   string
	}{
		{"v1.2.3-4-gabcdef", info, "gregor v1.2.3-4-gabcdef ("},
		{"", info, "gregor devel-0123456789ab-dirty ("},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, "gregor v0.3.0 ("},
		{"", nil, "gregor devel ("},
	} {
		if got := versionLine(tc.linked, tc.info); !strings.HasPrefix(got, tc.want) {
			t.Errorf("versionLine(%q) = %q, want prefix %q", tc.linked, got, tc.want)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"version"}, nil, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "gregor ") {
		t.Fatalf("gregor version: exit %d, output %q", code, out.String())
	}
}
