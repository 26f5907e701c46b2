package testcluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is what a Proxy does with traffic.
type Mode int

// The proxy modes.
const (
	// Open forwards both ways.
	Open Mode = iota
	// Cut severs every connection (with a reset) and closes new ones as soon as they are
	// accepted: the node looks crashed to its peers while it keeps running.
	Cut
	// Blackhole keeps connections open but forwards nothing either way, like a network
	// partition: requests and responses wait (and clients time out) until the mode changes, then
	// what was held flows on as TCP retransmission would deliver it.
	Blackhole
	// BlackholeToNode forwards only the node's responses: requests to it are held.
	BlackholeToNode
	// BlackholeFromNode forwards only requests to the node: its responses are held.
	BlackholeFromNode
)

func (m Mode) String() string {
	switch m {
	case Open:
		return "open"
	case Cut:
		return "cut"
	case Blackhole:
		return "blackhole"
	case BlackholeToNode:
		return "blackhole-to-node"
	case BlackholeFromNode:
		return "blackhole-from-node"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// holds reports whether m holds traffic going toNode (true) or from the node (false).
func (m Mode) holds(toNode bool) bool {
	return m == Blackhole || (toNode && m == BlackholeToNode) || (!toNode && m == BlackholeFromNode)
}

// Proxy is a TCP proxy on 127.0.0.1 in front of one listener of a node: clients (and peers) only
// know the proxy's address, so changing its Mode cuts or partitions the node's network without
// touching the process. It outlives node restarts: the target address stays the same.
// It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		cond   *sync.Cond // broadcast when mode, conns or closed change
		mode   Mode
		conns  map[*proxyConn]struct{}
		closed bool
	}
}

// proxyConn is one client connection and its connection to the node.
type proxyConn struct {
	client, node net.Conn
	closed       bool // guarded by Proxy.mu
}

// NewProxy listens on 127.0.0.1:0 and forwards every connection to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testcluster: proxy for %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target}
	p.mu.cond = sync.NewCond(&p.mu.Mutex)
	p.mu.conns = map[*proxyConn]struct{}{}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's address, the one to advertise to clients.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.mode
}

// SetMode switches the proxy's mode. Switching to Cut severs every open connection.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.mode = m
	if m == Cut {
		for c := range p.mu.conns {
			p.closeConnLocked(c, true)
		}
	}
	p.mu.cond.Broadcast()
}

// Conns returns the number of connections the proxy holds open.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.conns)
}

// Close stops accepting, closes every connection and waits for the proxy's goroutines. Idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	for c := range p.mu.conns {
		p.closeConnLocked(c, false)
	}
	p.mu.cond.Broadcast()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		closed, mode := p.mu.closed, p.mu.mode
		p.mu.Unlock()
		if closed || mode == Cut {
			reset(client)
			continue
		}
		// NB: dial outside the lock and the accept loop, so a slow or stopped node does not hold
		// up other connections.
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	node, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client) // the node is down: the client sees a refused-like reset
		return
	}
	c := &proxyConn{client: client, node: node}
	p.mu.Lock()
	if p.mu.closed || p.mu.mode == Cut {
		p.closeConnLocked(c, true)
		p.mu.Unlock()
		return
	}
	p.mu.conns[c] = struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.pipe(c, client, node, true)
	}()
	p.pipe(c, node, client, false)
}

// pipe copies src to dst, holding each chunk while the mode holds traffic in that direction, and
// closes the pair when either side ends.
func (p *Proxy) pipe(c *proxyConn, src, dst net.Conn, toNode bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		// NB: the end of a connection waits for the hold to lift too: a partitioned node sees
		// neither the bytes nor the FIN of a client that gave up on it.
		p.mu.Lock()
		for !c.closed && p.mu.mode.holds(toNode) {
			p.mu.cond.Wait()
		}
		closed := c.closed
		p.mu.Unlock()
		if closed {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			p.mu.Lock()
			p.closeConnLocked(c, !errors.Is(err, io.EOF))
			p.mu.Unlock()
			return
		}
	}
}

// closeConnLocked closes both sides of c (with a reset if rst) and forgets it.
func (p *Proxy) closeConnLocked(c *proxyConn, rst bool) {
	if c.closed {
		return
	}
	c.closed = true
	delete(p.mu.conns, c)
	if rst {
		reset(c.client)
		reset(c.node)
	} else {
		c.client.Close()
		c.node.Close()
	}
	p.mu.cond.Broadcast()
}

// reset closes conn with an RST instead of a FIN, as a crashed or unreachable peer looks.
func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
