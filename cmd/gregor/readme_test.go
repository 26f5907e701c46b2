package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testpg"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/jackc/pgx/v5"
)

// readmeBlock is one ```sh block of the README and the ```text block that follows it (what a
// reader is told to expect), if any.
type readmeBlock struct {
	section string
	script  string
	expect  []string
}

// readmeBlocks returns the shell blocks of the named `## ` sections, in README order.
func readmeBlocks(readme string, sections ...string) []readmeBlock {
	var (
		blocks  []readmeBlock
		section string
		fence   string // "sh", "text" or "" outside a block
		body    []string
		last    = -1 // index of the latest sh block of a wanted section, for its text block
	)
	wanted := func() bool {
		for _, s := range sections {
			if section == s {
				return true
			}
		}
		return false
	}
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case fence == "" && strings.HasPrefix(line, "## "):
			section, last = strings.TrimPrefix(line, "## "), -1
		case fence == "" && strings.HasPrefix(line, "```"):
			fence, body = strings.TrimPrefix(line, "```"), nil
		case fence != "" && line == "```":
			switch {
			case !wanted():
			case fence == "sh":
				blocks = append(blocks, readmeBlock{section: section, script: strings.Join(body, "\n") + "\n"})
				last = len(blocks) - 1
			case fence == "text" && last >= 0:
				blocks[last].expect = body
			}
			if fence != "text" && fence != "sh" {
				last = -1
			}
			fence = ""
		case fence != "":
			body = append(body, line)
		}
	}
	return blocks
}

// runsHere reports whether a README block can run on this machine: `gregor dev` is started by the
// test, and distributed workers on other hosts are beyond it.
func runsHere(script string) bool {
	return !strings.Contains(script, "connect distributed") && !strings.Contains(script, "worker1:")
}

// matchesExpected reports the first expected line that no output line matches. Lines compare with
// runs of white space collapsed; "..." in an expected line matches anything.
func matchesExpected(output string, expect []string) (missing string, ok bool) {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	var lines []string
	for _, l := range strings.Split(output, "\n") {
		lines = append(lines, norm(l))
	}
	for _, e := range expect {
		parts := strings.Split(norm(e), "...")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		found := false
		for _, l := range lines {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			return e, false
		}
	}
	return "", true
}

func freeLocalPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startDevProcess runs `gregor dev` (this test binary as gregor) in dir on free ports and returns
// the broker address and Connect URL its banner prints.
func startDevProcess(t *testing.T, dir string) (broker, connectURL string, logs *testLogWriter) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "dev", "--listen", "127.0.0.1:0", "--connect-listen", "127.0.0.1:0", "--schema-registry-listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0",
		"--data", filepath.Join(dir, "data"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GREGOR_TEST_MAIN=1")
	logs = &testLogWriter{t: t, prefix: "gregor dev: "}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan [2]string, 1)
	go func() {
		var b, c string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "broker" {
				b = f[1]
			}
			if len(f) >= 2 && f[0] == "connect" {
				c = f[1]
			}
			if b != "" && c != "" {
				found <- [2]string{b, c}
				b = ""
			}
		}
	}()
	select {
	case addrs := <-found:
		return addrs[0], addrs[1], logs
	case <-time.After(30 * time.Second):
		t.Fatal("gregor dev printed no banner within 30s")
	}
	return "", "", nil
}

// testLogWriter passes a child's log lines to t.Log and keeps them.
type testLogWriter struct {
	t      *testing.T
	prefix string
	mu     struct {
		sync.Mutex
		all strings.Builder
	}
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.all.Write(p)
	return len(p), nil
}

// String returns everything written so far.
func (w *testLogWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.all.String()
}

// TestReadmeFlowsRunInOrder walks the README as a new user does: the shell blocks of the
// Quickstart, Consumer groups, Connect and Postgres sections run in order against a `gregor dev`
// (and a throwaway Postgres for the CDC block), and each block's output must hold what the README
// says to expect. Addresses are the only thing changed: the test's ports stand for 9092, 8083,
// 8084 and 5432, and `./gregor` is this binary pointed at them.
func TestReadmeFlowsRunInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("walks the README end to end")
	}
	for _, tool := range []string{"bash", "kcat", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's blocks use %s, which is not installed (make test installs it)", tool)
		}
	}
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(string(data), "Quickstart", "Consumer groups", "Connect", "Postgres connectors")
	if len(blocks) < 8 {
		t.Fatalf("found %d shell blocks in the README's sections; has the README been restructured?", len(blocks))
	}

	dir := t.TempDir()
	broker, connectURL, devLogs := startDevProcess(t, dir)
	wrapper := fmt.Sprintf(`#!/bin/sh
export GREGOR_TEST_MAIN=1
case "$1 $2" in
  "connect standalone"*|"connect distributed"*) exec %[1]q "$@" ;;
  connect*) exec %[1]q "$@" --connect-url %[2]s ;;
  *) exec %[1]q "$@" -b %[3]s ;;
esac
`, os.Args[0], connectURL, broker)
	if err := os.WriteFile(filepath.Join(dir, "gregor"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	replacer := []string{
		"http://127.0.0.1:8083", connectURL,
		"127.0.0.1:9092", broker,
		"127.0.0.1:8084", "127.0.0.1:" + freeLocalPort(t),
	}

	var pg *testpg.Server
	for _, b := range blocks {
		script := b.script
		if !runsHere(script) {
			continue
		}
		if b.section == "Postgres connectors" && pg == nil {
			if _, err := testpg.BinDir(); err != nil {
				t.Logf("skipping the README's Postgres blocks: %v", err)
				break
			}
			if _, err := exec.LookPath("psql"); err != nil {
				t.Logf("skipping the README's Postgres blocks: no psql")
				break
			}
			pg = testpg.Start(t)
			// NB: the server is shared by the tests of this process: the README's database must go
			// when the test ends, with the slot its connector leaves.
			dropInventory(t, pg)
			t.Cleanup(func() { dropInventory(t, pg) })
			port := strconv.Itoa(pg.Port)
			replacer = append(replacer, "-p 5432", "-p "+port, `"database.port": "5432"`, `"database.port": "`+port+`"`,
				"-U postgres", "-U "+pg.User, `"database.user": "postgres"`, `"database.user": "`+pg.User+`"`)
		}
		var kept []string
		for _, line := range strings.Split(strings.NewReplacer(replacer...).Replace(script), "\n") {
			// The test runs gregor dev itself, and ./gregor is this binary.
			command, _, _ := strings.Cut(line, "#")
			switch command = strings.TrimSpace(command); {
			case command == "go run ./cmd/gregor dev", command == "./gregor dev", strings.HasPrefix(command, "go build -o gregor "):
				continue
			}
			kept = append(kept, line)
		}
		script = strings.Join(kept, "\n")
		ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README %s block failed: %v\n--- block ---\n%s\n--- output ---\n%s", b.section, err, b.script, out)
		}
		if missing, ok := matchesExpected(string(out), b.expect); !ok {
			t.Fatalf("README %s block: the output lacks %q, which the README says to expect\n--- block ---\n%s\n--- output ---\n%s",
				b.section, missing, b.script, out)
		}
		t.Logf("README %s block ran:\n%s", b.section, out)
	}
	if pg != nil {
		// The README says deleting the CDC connector logs how to drop the slot it leaves.
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if !strings.Contains(devLogs.String(), "drop it: SELECT pg_drop_replication_slot('debezium')") {
				return fmt.Errorf("the worker did not log how to drop the slot")
			}
			return nil
		})
	}
}

// dropInventory drops the README's inventory database and its replication slots, if they exist.
func dropInventory(t *testing.T, pg *testpg.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Errorf("dropping the README's database: %v", err)
		return
	}
	defer conn.Close(ctx)
	// NB: a terminated walsender releases its slot a moment later; retry until no slot is left.
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = 'inventory' AND active_pid IS NOT NULL`)
		conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'inventory' AND NOT active`)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = 'inventory'`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d replication slots left on the README's database", n)
		}
		return nil
	})
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS inventory WITH (FORCE)`); err != nil {
		t.Errorf("dropping the README's database: %v", err)
	}
}
