package server_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// dial opens a raw connection to the broker, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// apiVersions does one ApiVersions v0 round trip on c.
func apiVersions(c net.Conn) error {
	req := kmsg.NewPtrApiVersionsRequest()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("limits-test")).AppendRequest(nil, req, 7)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return fmt.Errorf("read size: %w", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	if len(body) < 4 || resp.ReadFrom(body[4:]) != nil || resp.ErrorCode != 0 {
		return fmt.Errorf("bad ApiVersions response (%d bytes)", len(body))
	}
	return nil
}

// closedByBroker waits (at most 5 s) for the broker to close c, reading and discarding anything.
func closedByBroker(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("broker did not close the connection within 5 s")
	}
}

// stillOpen checks the broker has not closed c (nothing to read within d).
func stillOpen(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("connection should still be open: read returned %v", err)
	}
}

// produceConsume round-trips n records through topic with a fresh franz-go client.
func produceConsume(ctx context.Context, addr, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("consume after %d records: %w", got, err)
		}
		got += fs.NumRecords()
	}
	return nil
}

func createTopic(t *testing.T, addr, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Before incremental body reads, each connection below cost the 128 MiB pooled buffer of its
// declared size (2 GiB for 16), allocated before a body byte arrived.
func TestSizePrefixesAloneDoNotTakeHeap(t *testing.T) {
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "alive")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := produceConsume(ctx, tb.Addr(), "alive", 10); err != nil { // warm up the broker
		t.Fatal(err)
	}
	before := heapInUse()

	const conns, declared = 16, 100_000_000 // within socket.request.max.bytes (100 MiB)
	for range conns {
		c := dial(t, tb.Addr())
		var frame [14]byte // the size prefix and the start of a header (ApiVersions v0)
		binary.BigEndian.PutUint32(frame[:], declared)
		binary.BigEndian.PutUint16(frame[4:], 18)
		if _, err := c.Write(frame[:]); err != nil {
			t.Fatal(err)
		}
	}
	// Another client keeps working while the prefixes sit there, and gives the broker time to
	// read them.
	for round := range 3 {
		if err := produceConsume(ctx, tb.Addr(), "alive", 50); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	growth := int64(heapInUse()) - int64(before)
	t.Logf("heap growth with %d connections each declaring %d bytes: %.1f MiB", conns, declared, float64(growth)/(1<<20))
	if limit := int64(64 << 20); growth > limit {
		t.Fatalf("heap grew by %d MiB (limit %d MiB): the broker allocates declared sizes before the bytes arrive", growth>>20, limit>>20)
	}
}

func TestIdleConnectionClosedAfterConnectionsMaxIdle(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("connections.max.idle.ms", "1000"))
	idle := dial(t, tb.Addr())
	if err := apiVersions(idle); err != nil {
		t.Fatal(err)
	}
	busy := dial(t, tb.Addr())
	start := time.Now()
	stillOpen(t, idle, 300*time.Millisecond) // not closed before connections.max.idle.ms
	// A connection that keeps sending requests is never idle: it outlives the setting.
	for time.Since(start) < 2*time.Second {
		if err := apiVersions(busy); err != nil {
			t.Fatalf("active connection after %v: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond) // the client's pace, not a wait for the broker
	}
	closedByBroker(t, idle)
}

func TestSlowRequestClosedAfterArrivalTimeout(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("request.arrival.timeout.ms", "300"))
	slow := dial(t, tb.Addr())
	var frame [14]byte
	binary.BigEndian.PutUint32(frame[:], 1000) // declares 1000 bytes, sends 10 of them
	binary.BigEndian.PutUint16(frame[4:], 18)
	if _, err := slow.Write(frame[:]); err != nil {
		t.Fatal(err)
	}
	other := dial(t, tb.Addr())
	closedByBroker(t, slow)
	if err := apiVersions(other); err != nil {
		t.Fatalf("other connection: %v", err)
	}
	stillOpen(t, other, 500*time.Millisecond) // between requests, the arrival timeout does not apply
	if err := apiVersions(other); err != nil {
		t.Fatalf("other connection after a pause: %v", err)
	}
}

func TestConnectionLimitsCloseExtraConnections(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []testbroker.Option
	}{
		{"max.connections", []testbroker.Option{testbroker.Set("max.connections", "3")}},
		{"max.connections.per.ip", []testbroker.Option{testbroker.Set("max.connections.per.ip", "3")}},
		{"max.connections.per.ip.overrides", []testbroker.Option{
			testbroker.Set("max.connections.per.ip", "1"), testbroker.Set("max.connections.per.ip.overrides", "127.0.0.1:3"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := testbroker.Start(t, tc.sets...)
			var admitted []net.Conn
			for i := range 3 {
				c := dial(t, tb.Addr())
				if err := apiVersions(c); err != nil {
					t.Fatalf("connection %d within the limit: %v", i, err)
				}
				admitted = append(admitted, c)
			}
			extra := dial(t, tb.Addr())
			closedByBroker(t, extra)
			for i, c := range admitted {
				if err := apiVersions(c); err != nil {
					t.Fatalf("connection %d within the limit, after the refusal: %v", i, err)
				}
			}
			// Closing one frees its slot for a new connection.
			admitted[0].Close()
			testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
				c, err := net.DialTimeout("tcp", tb.Addr(), time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				return apiVersions(c)
			})
		})
	}
}
