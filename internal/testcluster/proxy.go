//go:build unix

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
	source func(net.Conn) int // nil: every connection is from NoSource
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		cond        *sync.Cond // broadcast when modes, conns or closed change
		mode        Mode
		sourceModes map[int]Mode // per source, applied while mode is Open
		conns       map[*proxyConn]struct{}
		closed      bool
	}
}

// NoSource is the source of a connection not opened by a known node (a test's client).
const NoSource = -1

// proxyConn is one client connection and its connection to the node.
type proxyConn struct {
	client, node net.Conn
	source       int
	closed       bool // guarded by Proxy.mu
}

// NewProxy listens on 127.0.0.1:0 and forwards every connection to target.
func NewProxy(target string) (*Proxy, error) { return newProxy(target, nil) }

// newProxy is NewProxy with a function telling which source (a node index, or NoSource) opened
// an accepted connection, for SetSourceMode.
func newProxy(target string, source func(net.Conn) int) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testcluster: proxy for %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, source: source}
	p.mu.cond = sync.NewCond(&p.mu.Mutex)
	p.mu.conns = map[*proxyConn]struct{}{}
	p.mu.sourceModes = map[int]Mode{}
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

// SetMode switches the proxy's mode for every connection. Switching to Cut severs every open
// connection. While the mode is Open, each source's mode (SetSourceMode) applies.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.mode = m
	p.applyLocked()
}

// SetSourceMode switches the mode of the connections opened by one source (a node's index, as
// the cluster's proxies tell them apart; see Cluster.Isolate).
func (p *Proxy) SetSourceMode(source int, m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == Open {
		delete(p.mu.sourceModes, source)
	} else {
		p.mu.sourceModes[source] = m
	}
	p.applyLocked()
}

// SourceMode returns the mode of one source's connections.
func (p *Proxy) SourceMode(source int) Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.modeForLocked(source)
}

// modeForLocked is the mode applying to source's connections.
func (p *Proxy) modeForLocked(source int) Mode {
	if p.mu.mode != Open {
		return p.mu.mode
	}
	return p.mu.sourceModes[source]
}

// applyLocked severs the connections whose mode is now Cut and wakes held pipes.
func (p *Proxy) applyLocked() {
	for c := range p.mu.conns {
		if p.modeForLocked(c.source) == Cut {
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
		// NB: identify, dial and decide outside the lock and the accept loop, so a slow or stopped
		// node does not hold up other connections.
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	source := NoSource
	if p.source != nil {
		source = p.source(client)
	}
	p.mu.Lock()
	refuse := p.mu.closed || p.modeForLocked(source) == Cut
	p.mu.Unlock()
	if refuse {
		reset(client)
		return
	}
	node, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client) // the node is down: the client sees a refused-like reset
		return
	}
	c := &proxyConn{client: client, node: node, source: source}
	p.mu.Lock()
	if p.mu.closed || p.modeForLocked(source) == Cut {
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
		for !c.closed && p.modeForLocked(c.source).holds(toNode) {
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
