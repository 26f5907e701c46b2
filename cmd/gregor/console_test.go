package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// getOK polls url until it answers 200 with a body containing want.
func getOK(t *testing.T, url, want string) {
	t.Helper()
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
}

func waitStopped(t *testing.T, what string, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop", what)
	}
}

func TestConsoleCommandServesAnyCluster(t *testing.T) {
	b := testbroker.Start(t)
	addr := "127.0.0.1:" + freeLocalPort(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runConsole(ctx, []string{"--bootstrap-server", b.Addr(), "--connect-url", "", "--listen", addr, "--log-level", "warn"}, nil, io.Discard, io.Discard)
	}()
	getOK(t, "http://"+addr+"/api/brokers", `"brokers"`)
	getOK(t, "http://"+addr+"/", "Gregor console")
	cancel()
	waitStopped(t, "gregor console", done)
}

func TestServerServesTheConsoleOnConsoleListener(t *testing.T) {
	addr := "127.0.0.1:" + freeLocalPort(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- cmdServer(ctx, []string{"--log-level", "warn", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", "log.dirs=" + t.TempDir(),
			"--set", "console.listener=" + addr}, io.Discard, io.Discard)
	}()
	getOK(t, "http://"+addr+"/api/overview", `"brokers"`)
	cancel()
	waitStopped(t, "gregor server", done)
}

func TestServerRejectsUnknownConsoleKeys(t *testing.T) {
	rest, _, err := serverConsole([]string{"console.listener=off", "log.dirs=/tmp/x"}, nil)
	if err != nil || len(rest) != 1 || rest[0] != "log.dirs=/tmp/x" {
		t.Fatalf("console.listener=off: %v %v", rest, err)
	}
	if _, _, err := serverConsole([]string{"console.listen=127.0.0.1:8080"}, nil); err == nil || !strings.Contains(err.Error(), "console.listener") {
		t.Fatalf("a misspelt console key: %v", err)
	}
}
