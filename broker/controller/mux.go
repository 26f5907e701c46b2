package controller

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// quorumMagic is what broker/quorum's peers write first on a connection. As a Kafka frame's size it
// would be 1.2 GB, more than any request a controller accepts, so the first four bytes tell the two
// protocols apart.
const quorumMagic = "GRQ1"

// peekTimeout bounds how long a new connection may stay silent before it is dropped.
const peekTimeout = 10 * time.Second

// Mux shares the controller listener (controller.listener.names) between the quorum's peers and
// Kafka-protocol clients (brokers, admin tools): each accepted connection is routed by its first four
// bytes to Quorum() (give it to quorum.Config.Listener) or Kafka() (give it to a broker/server Server
// with a Handler). One goroutine accepts; one short-lived goroutine per connection reads its first bytes.
type Mux struct {
	ln     net.Listener
	quorum *chanListener
	kafka  *chanListener
	wg     sync.WaitGroup
	once   sync.Once
	done   chan struct{}

	mu struct {
		sync.Mutex
		// routing holds the connections whose first bytes are being read; Close closes them.
		routing map[net.Conn]struct{}
	}
}

// NewMux starts routing connections accepted on ln. Close closes ln.
func NewMux(ln net.Listener) *Mux {
	m := &Mux{ln: ln, done: make(chan struct{})}
	m.mu.routing = map[net.Conn]struct{}{}
	m.quorum = newChanListener(ln.Addr(), m.done)
	m.kafka = newChanListener(ln.Addr(), m.done)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.acceptLoop()
	}()
	return m
}

// Quorum is the listener of quorum peer connections.
func (m *Mux) Quorum() net.Listener { return m.quorum }

// Kafka is the listener of Kafka-protocol connections.
func (m *Mux) Kafka() net.Listener { return m.kafka }

// Addr is the controller listener's address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close closes the listener and every connection not yet handed over, and waits for the mux's
// goroutines. Connections already accepted through Quorum() or Kafka() belong to their servers.
// Idempotent.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
		m.mu.Lock()
		for c := range m.mu.routing {
			c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return err
}

func (m *Mux) acceptLoop() {
	backoff := time.Duration(0)
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-m.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		m.mu.Lock()
		select {
		case <-m.done:
			// NB: Close has closed (or is closing) the routing connections; this one arrived too late.
			m.mu.Unlock()
			conn.Close()
			return
		default:
		}
		m.mu.routing[conn] = struct{}{}
		m.mu.Unlock()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(conn)
		}()
	}
}

// route reads the first bytes of conn (registered in routing by the accept loop) and hands it over.
func (m *Mux) route(conn net.Conn) {
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(peekTimeout))
	head, err := r.Peek(len(quorumMagic))
	_ = conn.SetReadDeadline(time.Time{})
	m.mu.Lock()
	delete(m.mu.routing, conn)
	m.mu.Unlock()
	if err != nil {
		conn.Close()
		return
	}
	c := &peekedConn{Conn: conn, r: r}
	to := m.kafka
	if string(head) == quorumMagic {
		to = m.quorum
	}
	if !to.deliver(c) {
		conn.Close()
	}
}

// peekedConn replays the bytes read while routing.
type peekedConn struct {
	net.Conn
	r io.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	muxEnd <-chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr, muxEnd <-chan struct{}) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{}), muxEnd: muxEnd}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	case <-l.muxEnd:
		return false
	}
}

// Accept waits for the next routed connection.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
	case <-l.muxEnd:
	}
	return nil, fmt.Errorf("controller listener %s: %w", l.addr, net.ErrClosed)
}

// Close stops Accept; the mux's listener stays open for the other protocol.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the controller listener's address.
func (l *chanListener) Addr() net.Addr { return l.addr }
