package streams_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
)

// countTopology counts the records of "words" per key into a store.
func countTopology(t testing.TB) *streams.Topology {
	b := streams.NewBuilder()
	streams.Stream(b, "words", statestore.String{}, statestore.String{}).GroupByKey().Count(streams.Materialized("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestHelperStreamsHoldStateDir is not a test: run as a subprocess, it starts an App on the
// broker and state directory given in its environment, prints STARTED and runs until its
// stdin closes.
func TestHelperStreamsHoldStateDir(t *testing.T) {
	addr, dir := os.Getenv("STREAMS_HOLD_BROKER"), os.Getenv("STREAMS_HOLD_STATE_DIR")
	if addr == "" {
		t.Skip("helper process only")
	}
	app, err := streams.New(countTopology(t), streams.Config{ApplicationID: "locked", BootstrapServers: []string{addr}, StateDir: dir})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if err := app.Start(context.Background()); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("STARTED")
	var b [1]byte
	_, _ = os.Stdin.Read(b[:])
	_ = app.Close()
	os.Exit(0)
}

func TestASecondInstanceOnTheSameStateDirIsRefusedNamingTheHoldersPID(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "words", 1)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStreamsHoldStateDir$")
	cmd.Env = append(os.Environ(), "STREAMS_HOLD_BROKER="+tb.Addr(), "STREAMS_HOLD_STATE_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "STARTED" {
		t.Fatalf("holder process: %q, %v", line, err)
	}

	cfg := streams.Config{ApplicationID: "locked", BootstrapServers: []string{tb.Addr()}, StateDir: dir}
	second, err := streams.New(countTopology(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(context.Background())
	second.Close()
	if !errors.Is(err, streams.ErrStateDirLocked) {
		t.Fatalf("Start of a second instance on the same state dir: %v, want ErrStateDirLocked", err)
	}
	if pid := strconv.Itoa(cmd.Process.Pid); !strings.Contains(err.Error(), "process "+pid) || !strings.Contains(err.Error(), `"locked"`) {
		t.Fatalf("refusal %q does not name the holder's PID %s and the application.id", err, pid)
	}

	// Another application.id has its own directory under the same StateDir.
	other := cfg
	other.ApplicationID = "other"
	app := startApp(t, countTopology(t), other)
	app.Close()

	// Once the holder has closed its App (and exited), the directory is free again; while an
	// App of this process holds it, a second App of this process is refused too.
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder process: %v", err)
	}
	holder := startApp(t, countTopology(t), cfg)
	third, err := streams.New(countTopology(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = third.Start(context.Background())
	third.Close()
	if pid := strconv.Itoa(os.Getpid()); !errors.Is(err, streams.ErrStateDirLocked) || !strings.Contains(err.Error(), "process "+pid) {
		t.Fatalf("Start of a second App of this process on the same state dir: %v, want ErrStateDirLocked naming PID %s", err, pid)
	}
	holder.Close()
}
