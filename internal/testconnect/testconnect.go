// Package testconnect starts real Connect workers for the tests of connect, its transforms and the
// connectors: a standalone worker in-process against a broker, its REST API on 127.0.0.1, stopped
// when the test ends. It is the one place those tests build a worker, so they all run it the same
// way.
package testconnect

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

// StartStandalone starts a standalone worker on bootstrap with a fast offset flush
// (offset.flush.interval.ms=100) and source offsets in offsetsFile (a fresh file in the test's
// temp dir when ""); props add to or override those settings. reg nil means
// connect.DefaultRegistry. Logs are discarded unless GREGOR_TEST_LOG is set. The worker is closed
// when the test ends.
func StartStandalone(t testing.TB, bootstrap string, reg *connect.Registry, offsetsFile string, props map[string]string) *connect.Runner {
	t.Helper()
	if offsetsFile == "" {
		offsetsFile = filepath.Join(t.TempDir(), "connect.offsets")
	}
	all := map[string]string{
		"bootstrap.servers":            bootstrap,
		"listeners":                    "http://127.0.0.1:0",
		"offset.storage.file.filename": offsetsFile,
		"offset.flush.interval.ms":     "100",
	}
	maps.Copy(all, props)
	var out io.Writer = io.Discard
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		out = os.Stderr
	}
	r, err := connect.RunStandalone(context.Background(), all, connect.Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		t.Fatalf("RunStandalone: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
