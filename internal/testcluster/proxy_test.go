//go:build unix

package testcluster

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// echoServer echoes every byte back and counts the bytes it received; it stops when the test ends.
func echoServer(t *testing.T) (string, *atomic.Int64) {
	var received atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, io.TeeReader(c, countWriter{&received})) }()
		}
	}()
	return ln.Addr().String(), &received
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(b []byte) (int, error) { w.n.Add(int64(len(b))); return len(b), nil }

func startProxy(t *testing.T) *Proxy {
	p, _ := startProxyCounting(t)
	return p
}

func startProxyCounting(t *testing.T) (*Proxy, *atomic.Int64) {
	addr, received := echoServer(t)
	p, err := NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, received
}

func dialProxy(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip writes line and expects it echoed within the timeout.
func roundTrip(c net.Conn, r *bufio.Reader, line string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echoed " + got)
	}
	return nil
}

// expectNothing checks that no byte arrives within d and the connection stays open.
func expectNothing(t *testing.T, c net.Conn, r *bufio.Reader, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	if b, err := r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %q, %v through a blackhole; want a timeout on an open connection", b, err)
	}
}

func TestProxyForwardsUntilCutThenRefusesUntilHealed(t *testing.T) {
	p := startProxy(t)
	c, r := dialProxy(t, p)
	if err := roundTrip(c, r, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetMode(Cut)
	if err := roundTrip(c, r, "during", 5*time.Second); err == nil {
		t.Fatal("an existing connection still echoed after Cut")
	}
	if n := p.Conns(); n != 0 {
		t.Fatalf("proxy holds %d connections after Cut", n)
	}
	// A new connection is reset, at the dial or at the first read.
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c2.Close()
		if err := roundTrip(c2, bufio.NewReader(c2), "new", 5*time.Second); err == nil {
			t.Fatal("a new connection echoed while cut")
		}
	}
	p.SetMode(Open)
	c3, r3 := dialProxy(t, p)
	if err := roundTrip(c3, r3, "healed", 5*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

func TestProxyBlackholeHoldsTrafficWithoutClosingAndDeliversOnHeal(t *testing.T) {
	p := startProxy(t)
	c, r := dialProxy(t, p)
	if err := roundTrip(c, r, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetMode(Blackhole)
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, c, r, 200*time.Millisecond)
	if n := p.Conns(); n != 1 {
		t.Fatalf("proxy holds %d connections in a blackhole, want the 1 open", n)
	}
	p.SetMode(Open)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after heal read %q, %v; want the held line", got, err)
	}
}

func TestProxyOneWayBlackholes(t *testing.T) {
	for _, tc := range []struct {
		mode         Mode
		nodeReceives bool
	}{{BlackholeToNode, false}, {BlackholeFromNode, true}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			p, received := startProxyCounting(t)
			c, r := dialProxy(t, p)
			p.SetMode(tc.mode)
			if _, err := c.Write([]byte("x\n")); err != nil {
				t.Fatal(err)
			}
			expectNothing(t, c, r, 200*time.Millisecond)
			if got := received.Load() == 2; got != tc.nodeReceives {
				t.Fatalf("node received %d bytes in %v; want requests delivered = %v", received.Load(), tc.mode, tc.nodeReceives)
			}
			p.SetMode(Open)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got, err := r.ReadString('\n'); err != nil || got != "x\n" {
				t.Fatalf("after heal read %q, %v", got, err)
			}
		})
	}
}

func TestProxyToADownTargetResetsClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, err := NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The reset may come as soon as the dial or at the first read.
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c.Close()
		if err := roundTrip(c, bufio.NewReader(c), "x", 5*time.Second); err == nil {
			t.Fatal("echo through a proxy to nothing")
		}
	}
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := p.Conns(); n != 0 {
			return errors.New("proxy still holds a connection")
		}
		return nil
	})
}
