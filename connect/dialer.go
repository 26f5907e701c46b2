package connect

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dialer opens a connection to a Kafka broker, as kgo.Dialer takes it: network is "tcp", host is
// host:port. A worker given one in Options dials every broker connection of every client it makes
// through it (config, offset and status topics, group membership, tasks' producers and consumers,
// dead letter queues, admin requests), e.g. for a proxy, a custom TLS setup, or a test that cuts a
// worker off the network.
type Dialer func(ctx context.Context, network, host string) (net.Conn, error)

// errSevered is what a dial through a severed connTracker returns.
var errSevered = errors.New("connect: worker halted: its connections to Kafka are severed")

// connTracker dials through a Dialer and remembers every connection still open, so that a halted
// worker can drop all of them at once, as the death of its process would.
type connTracker struct {
	dial Dialer
	mu   struct {
		sync.Mutex
		severed bool
		conns   map[*trackedConn]struct{}
	}
}

func newConnTracker(dial Dialer) *connTracker {
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	t := &connTracker{dial: dial}
	t.mu.conns = map[*trackedConn]struct{}{}
	return t
}

// Dial implements Dialer.
func (t *connTracker) Dial(ctx context.Context, network, host string) (net.Conn, error) {
	t.mu.Lock()
	severed := t.mu.severed
	t.mu.Unlock()
	if severed {
		return nil, errSevered
	}
	c, err := t.dial(ctx, network, host)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, tracker: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.severed {
		// NB: Sever ran while this dial was in flight; the connection must not survive it.
		c.Close()
		return nil, errSevered
	}
	t.mu.conns[tc] = struct{}{}
	return tc, nil
}

// sever closes every open connection and refuses new ones. Idempotent.
func (t *connTracker) sever() {
	t.mu.Lock()
	t.mu.severed = true
	conns := make([]*trackedConn, 0, len(t.mu.conns))
	for c := range t.mu.conns {
		conns = append(conns, c)
	}
	clear(t.mu.conns)
	t.mu.Unlock()
	for _, c := range conns {
		c.Conn.Close()
	}
}

// trackedConn forgets itself in its tracker when closed.
type trackedConn struct {
	net.Conn
	tracker *connTracker
}

func (c *trackedConn) Close() error {
	c.tracker.mu.Lock()
	delete(c.tracker.mu.conns, c)
	c.tracker.mu.Unlock()
	return c.Conn.Close()
}

// clientOpts are the options every Kafka client of a worker starts from: the bootstrap servers and,
// if set, the dialer.
func clientOpts(seeds []string, dial Dialer, extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...)}
	if dial != nil {
		opts = append(opts, kgo.Dialer(dial))
	}
	return append(opts, extra...)
}
