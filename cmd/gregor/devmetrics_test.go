package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// TestDevServesBrokerAndWorkerMetricsOnTheConsolePort checks that /metrics on `gregor dev`'s console
// port gathers the broker's own registry (and the worker's and the default one without duplicate runtime metrics).
func TestDevServesBrokerAndWorkerMetricsOnTheConsolePort(t *testing.T) {
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out syncBuffer
	go func() {
		done <- cmdDev(ctx, []string{"--data", dataDir, "--listen", "127.0.0.1:0", "--connect-listen", "127.0.0.1:0", "--schema-registry-listen", "", "--console-listen", "127.0.0.1:0"}, &out, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("gregor dev did not stop")
		}
	})
	var consoleURL string
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		for _, line := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "console" {
				consoleURL = f[1]
				return nil
			}
		}
		return fmt.Errorf("no console line in the banner yet: %q", out.String())
	})
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		resp, err := http.Get(strings.TrimRight(consoleURL, "/") + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for _, name := range []string{"gregor_broker_requests_total", "gregor_broker_connections", "go_goroutines"} {
			if !strings.Contains(string(body), name) {
				return fmt.Errorf("/metrics (%s) has no %s: %.300s", resp.Status, name, body)
			}
		}
		return nil
	})
}
