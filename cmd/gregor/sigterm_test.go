package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain lets a test run this binary's main in a child process (GREGOR_TEST_MAIN=1), so signal
// handling is tested on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("GREGOR_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestServerStopsCleanlyOnSIGTERMAndKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	start := func() (*exec.Cmd, string, *strings.Builder) {
		cmd := exec.Command(os.Args[0], "server", "--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", "log.dirs="+dir)
		cmd.Env = append(os.Environ(), "GREGOR_TEST_MAIN=1")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		logs := &strings.Builder{}
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				logs.WriteString(line + "\n")
				if i := strings.Index(line, "addr="); i >= 0 && strings.Contains(line, "msg=listening") {
					addr <- strings.Fields(line[i+5:])[0]
				}
			}
		}()
		select {
		case a := <-addr:
			return cmd, a, logs
		case <-time.After(15 * time.Second):
			t.Fatalf("server did not start:\n%s", logs)
		}
		return nil, "", nil
	}
	cmd, addr, _ := start()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("sig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("before-term")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server still running 15s after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "sig-0", ".clean-shutdown")); err != nil {
		t.Fatalf("no clean-shutdown marker after SIGTERM: %v", err)
	}

	_, addr, _ = start()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("sig"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cons.PollFetches(ctx)
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "before-term" {
		t.Fatalf("after restart read %d records (%v)", len(recs), fs.Errors())
	}
}
