//go:build unix

package testcluster

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// relayEnv makes the test binary a relay process (stdin to a connection to the address, the
// connection to stdout), standing for a node that dials a peer.
const relayEnv = "TESTCLUSTER_RELAY_TO"

func TestMain(m *testing.M) {
	if addr := os.Getenv(relayEnv); addr != "" {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(2)
		}
		go io.Copy(c, os.Stdin)
		io.Copy(os.Stdout, c)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestProxyHoldsOnlyTheConnectionsOfAnIsolatedSource(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections are told apart by process through /proc")
	}
	const relaySource = 7
	addr, _ := echoServer(t)
	var relayPID atomic.Int64
	relayPID.Store(-1) // not yet known: the proxy must not mistake anyone for it
	p, err := newProxy(addr, func(c net.Conn) int {
		if pid := int(relayPID.Load()); connOwner(c, []int{pid}) == pid {
			return relaySource
		}
		return NoSource
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	relay := exec.Command(os.Args[0], "-test.run=^$")
	relay.Env = append(os.Environ(), relayEnv+"="+p.Addr())
	in, err := relay.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := relay.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	relayPID.Store(int64(relay.Process.Pid))
	t.Cleanup(func() { relay.Process.Kill(); relay.Wait() })
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(outPipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expectLine := func(want string, within time.Duration) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok || got != want {
				t.Fatalf("relay read %q (open %v), want %q", got, ok, want)
			}
		case <-time.After(within):
			t.Fatalf("relay read nothing in %v, want %q", within, want)
		}
	}
	expectNoLine := func(within time.Duration) {
		t.Helper()
		select {
		case got, ok := <-lines:
			t.Fatalf("relay read %q (open %v) through a blackhole", got, ok)
		case <-time.After(within):
		}
	}
	io.WriteString(in, "one\n")
	expectLine("one", 10*time.Second)
	mine, r := dialProxy(t, p)

	p.SetSourceMode(relaySource, Blackhole)
	if p.SourceMode(relaySource) != Blackhole || p.SourceMode(NoSource) != Open {
		t.Fatalf("source modes %v / %v", p.SourceMode(relaySource), p.SourceMode(NoSource))
	}
	io.WriteString(in, "two\n")
	expectNoLine(200 * time.Millisecond)
	if err := roundTrip(mine, r, "mine", 5*time.Second); err != nil {
		t.Fatalf("another source's connection was held too: %v", err)
	}
	p.SetSourceMode(relaySource, Open)
	expectLine("two", 5*time.Second)

	p.SetSourceMode(relaySource, Cut)
	select {
	case got, ok := <-lines:
		if ok {
			t.Fatalf("relay read %q after its connection was cut", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay's connection survived a cut of its source")
	}
	if err := roundTrip(mine, r, "still mine", 5*time.Second); err != nil {
		t.Fatalf("another source's connection was cut too: %v", err)
	}
}
