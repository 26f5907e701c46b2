package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// startTestCluster starts a real in-process Gregor broker for the test and returns its
// bootstrap address. Every integration test gets its cluster here.
func startTestCluster(t *testing.T) (bootstrap string) {
	t.Helper()
	return testbroker.Start(t).Addr()
}

// cmdResult is what one CLI invocation printed and returned.
type cmdResult struct {
	stdout, stderr string
	err            error
	exit           int
}

// gregor runs `gregor args...` in-process with stdin, as the binary would,
// bounded by a timeout so a hung command fails the test instead of the run.
func gregor(t *testing.T, stdin string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := dispatch(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	exit := exitCode(err, &stderr)
	return cmdResult{stdout: stdout.String(), stderr: stderr.String(), err: err, exit: exit}
}

// mustGregor is gregor for invocations that must succeed.
func mustGregor(t *testing.T, stdin string, args ...string) cmdResult {
	t.Helper()
	r := gregor(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("gregor %s: %v\nstderr:\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}
