package main

import (
	"net"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Every client command fails at once, exit 1, naming the refused address.
func TestClientCommandsFailFastWhenNoBrokerListens(t *testing.T) {
	addr := closedAddr(t)
	want := "error: connection refused to " + addr + ": no broker is listening there (start one with `./gregor dev`, or give --bootstrap-server)\n"
	for _, args := range [][]string{
		{"produce", "--topic", "t"},
		{"consume", "--topic", "t"},
		{"consume", "--topic", "t", "--group", "g"},
		{"topics", "list"},
		{"topics", "create", "--topic", "t"},
		{"groups", "list"},
		{"groups", "describe", "--group", "g"},
		{"perf", "produce", "--topic", "t", "--num-records", "1"},
		{"perf", "consume", "--topic", "t", "--messages", "1"},
	} {
		start := time.Now()
		r := gregor(t, "a line\n", append(args, "-b", addr)...)
		if r.exit != 1 || r.stderr != want {
			t.Errorf("gregor %v: exit %d, stderr %q; want exit 1, stderr %q", args, r.exit, r.stderr, want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("gregor %v took %s to fail", args, took)
		}
	}
}

// A listener that accepts but never answers is given up on after --timeout.
func TestClientCommandsGiveUpAfterTimeoutOnASilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	addr := ln.Addr().String()
	start := time.Now()
	r := gregor(t, "", "topics", "list", "-b", addr, "--timeout", "300ms")
	want := "error: no broker at " + addr + " answered within 300ms (--timeout)\n"
	if r.exit != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 1, stderr %q", r.exit, r.stderr, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s to give up after a 300ms timeout", took)
	}
}

// With auto.create.topics.enable=true, producing to a new topic creates it, as
// Kafka's console producer does through metadata.
func TestProduceToANewTopicAutoCreatesItWhenTheBrokerAllows(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "hello\n", "produce", "--topic", "fresh", "-b", bs)
	r := mustGregor(t, "", "consume", "--topic", "fresh", "--from-beginning", "--max-messages", "1", "-b", bs)
	if r.stdout != "hello\n" {
		t.Errorf("consumed %q, want hello", r.stdout)
	}
}

// Without auto-creation, producing to a missing topic fails at once, saying how to create it.
func TestProduceToAMissingTopicFailsAtOnceWithoutAutoCreate(t *testing.T) {
	bs := testbroker.Start(t, testbroker.Set("auto.create.topics.enable", "false")).Addr()
	want := "error: UNKNOWN_TOPIC_OR_PARTITION: topic \"missing\" does not exist (the broker does not auto-create topics; create it with `gregor topics create --topic missing`)\n"
	for _, args := range [][]string{
		{"produce", "--topic", "missing"},
		{"perf", "produce", "--topic", "missing", "--num-records", "10"},
	} {
		start := time.Now()
		r := gregor(t, "a\n", append(args, "-b", bs)...)
		if r.exit != 1 || r.stderr != want {
			t.Errorf("gregor %v: exit %d, stderr %q; want exit 1, stderr %q", args, r.exit, r.stderr, want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("gregor %v took %s to fail", args, took)
		}
	}
}

// Consuming a topic that does not exist says so on stderr instead of waiting silently.
func TestConsumeOfAMissingTopicSaysItIsWaiting(t *testing.T) {
	bs := testbroker.Start(t, testbroker.Set("auto.create.topics.enable", "false")).Addr()
	r := gregor(t, "", "consume", "--topic", "nope", "--timeout-ms", "200", "-b", bs)
	want := "warning: topic \"nope\" does not exist (yet); waiting for it to be created (Ctrl-C to stop)\nProcessed a total of 0 messages\n"
	if r.exit != 0 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 0, %q", r.exit, r.stderr, want)
	}
}
