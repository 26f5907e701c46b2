package controller_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/controller"
)

// TestMuxRoutesByTheFirstBytesAndClosesPromptly: a connection starting with the quorum's magic goes
// to Quorum(), anything else to Kafka(), both with their first bytes intact; Close does not wait for
// a connection that never spoke.
func TestMuxRoutesByTheFirstBytesAndClosesPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := controller.NewMux(ln)
	defer m.Close()
	// NB: dialled first, so the mux has accepted it before it routes the next two.
	silent, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, tc := range []struct {
		first string
		to    net.Listener
	}{{"GRQ1peer", m.Quorum()}, {"\x00\x00\x00\x10kafka", m.Kafka()}} {
		c, err := net.Dial("tcp", m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(tc.first)); err != nil {
			t.Fatal(err)
		}
		got, err := tc.to.Accept()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(tc.first))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != tc.first {
			t.Fatalf("routed connection read %q, %v; want %q", buf, err, tc.first)
		}
		got.Close()
	}
	start := time.Now()
	m.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v with a silent connection open", took)
	}
	if _, err := m.Kafka().Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}
