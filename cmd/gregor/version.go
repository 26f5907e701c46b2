package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at release build time: -ldflags "-X main.version=$(git describe --tags --always --dirty)".
var version string

// runVersion prints the version, the commit and the Go toolchain and platform the binary was
// built with.
func runVersion(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usageErrorf("version takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionLine(version, info))
	return nil
}

// versionLine formats the version: the one set at link time, else what the Go toolchain recorded
// (the module version for `go install ...@version`, the VCS revision for a build in a checkout).
func versionLine(linked string, info *debug.BuildInfo) string {
	v, commit, when, dirty := linked, "", "", false
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
		if commit != "" {
			v += "-" + commit[:min(len(commit), 12)]
			if dirty {
				v += "-dirty"
			}
		}
	}
	line := fmt.Sprintf("gregor %s (%s, %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if when != "" {
		line += ", committed " + when
	}
	return line + ")"
}
