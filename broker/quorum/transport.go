package quorum

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Dialer opens a connection to a voter's controller listener. Tests pass one that can be cut.
type Dialer func(ctx context.Context, network, address string) (net.Conn, error)

// transportMagic opens every connection, so a stray client on the controller port is refused at once.
const transportMagic = "GRQ1"

const (
	peerQueueMessages = 1024
	backoffMin        = 20 * time.Millisecond
	backoffMax        = time.Second
	dialTimeout       = time.Second
	writeTimeout      = 5 * time.Second
	handshakeTimeout  = 10 * time.Second
)

// transport carries raft messages between voters: one outbound TCP connection per peer, each a
// stream of frames (uint32 length, then a protobuf raftpb.Message), written by one goroutine per
// peer from a bounded queue. A full queue or a broken connection drops messages: raft retransmits.
// Inbound connections are read by one goroutine each and stepped into the node.
type transport struct {
	self            uint64
	dial            Dialer
	maxMessageBytes int
	logger          *slog.Logger
	step            func(*pb.Message)
	unreachable     func(id uint64)
	snapshotStatus  func(id uint64, status raft.SnapshotStatus)

	peers   map[uint64]*peer
	stop    chan struct{}
	ctx     context.Context // canceled by close, so a dial in flight ends
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closing sync.Once

	mu struct {
		sync.Mutex
		ln      net.Listener
		inbound map[net.Conn]struct{}
	}
}

type peer struct {
	id    uint64
	addr  string
	queue chan *pb.Message
}

func newTransport(self uint64, voters []Voter, dial Dialer, maxMessageBytes int, logger *slog.Logger) *transport {
	t := &transport{
		self:            self,
		dial:            dial,
		maxMessageBytes: maxMessageBytes,
		logger:          logger,
		peers:           map[uint64]*peer{},
		stop:            make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.inbound = map[net.Conn]struct{}{}
	for _, v := range voters {
		if id := raftID(v.ID); id != self {
			t.peers[id] = &peer{id: id, addr: v.Addr(), queue: make(chan *pb.Message, peerQueueMessages)}
		}
	}
	return t
}

// start begins dialling peers and, if ln is not nil, accepting on it.
func (t *transport) start(ln net.Listener) {
	for _, p := range t.peers {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.writeLoop(p)
		}()
	}
	if ln != nil {
		t.mu.Lock()
		t.mu.ln = ln
		t.mu.Unlock()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.acceptLoop(ln)
		}()
	}
}

// send queues messages for their peers without blocking.
func (t *transport) send(msgs []*pb.Message) {
	for _, m := range msgs {
		p := t.peers[m.GetTo()]
		if p == nil {
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.dropped(p, m)
		}
	}
}

func (t *transport) dropped(p *peer, m *pb.Message) {
	t.unreachable(p.id)
	if m.GetType() == pb.MsgSnap {
		t.snapshotStatus(p.id, raft.SnapshotFailure)
	}
}

func (t *transport) writeLoop(p *peer) {
	backoff := backoffMin
	for {
		conn, err := t.dialPeer(p)
		if err != nil {
			if t.stopped() {
				return
			}
			t.drain(p)
			select {
			case <-t.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		backoff = backoffMin
		err = t.writeConn(p, conn)
		conn.Close()
		if t.stopped() {
			return
		}
		t.logger.Debug("quorum peer connection lost", "peer", nodeID(p.id), "addr", p.addr, "err", err)
		t.unreachable(p.id)
	}
}

func (t *transport) dialPeer(p *peer) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, dialTimeout)
	defer cancel()
	conn, err := t.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte(transportMagic)); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// drain drops what is queued for an unreachable peer: it is stale by the time a connection exists.
func (t *transport) drain(p *peer) {
	for {
		select {
		case m := <-p.queue:
			t.dropped(p, m)
		default:
			return
		}
	}
}

// writeConn writes queued messages to conn until an error or stop; it flushes whenever the queue is
// momentarily empty, so a burst goes out in one write.
func (t *transport) writeConn(p *peer, conn net.Conn) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	var buf []byte
	for {
		var m *pb.Message
		select {
		case <-t.stop:
			return nil
		case m = <-p.queue:
		}
		for m != nil {
			var err error
			buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], m)
			if err != nil {
				t.dropped(p, m)
				return fmt.Errorf("encode %v: %w", m.GetType(), err)
			}
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(buf)))
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			_, err = w.Write(hdr[:])
			if err == nil {
				_, err = w.Write(buf)
			}
			if err != nil {
				t.dropped(p, m)
				return err
			}
			if m.GetType() == pb.MsgSnap {
				if err := w.Flush(); err != nil {
					t.dropped(p, m)
					return err
				}
				t.snapshotStatus(p.id, raft.SnapshotFinish)
			}
			select {
			case m = <-p.queue:
			default:
				m = nil
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
}

func (t *transport) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if t.stopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			t.logger.Warn("quorum listener accept failed", "err", err)
			select {
			case <-t.stop:
				return
			case <-time.After(backoffMin):
			}
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.serveConn(conn)
		}()
	}
}

// serveConn reads frames from one inbound connection and steps them into the node.
func (t *transport) serveConn(conn net.Conn) {
	t.mu.Lock()
	if t.stopped() {
		t.mu.Unlock()
		conn.Close()
		return
	}
	t.mu.inbound[conn] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.mu.inbound, conn)
		t.mu.Unlock()
		conn.Close()
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	var magic [4]byte
	// NB: a connection that never says who it is must not hold a goroutine forever.
	_ = conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != transportMagic {
		t.logger.Warn("quorum listener refused a connection that is not a quorum peer", "remote", conn.RemoteAddr())
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if int64(n) > int64(t.maxMessageBytes) {
			t.logger.Warn("quorum peer sent an oversized message", "remote", conn.RemoteAddr(), "bytes", n, "max", t.maxMessageBytes)
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(buf, m); err != nil {
			t.logger.Warn("quorum peer sent an undecodable message", "remote", conn.RemoteAddr(), "err", err)
			return
		}
		if m.GetTo() != t.self || t.peers[m.GetFrom()] == nil {
			t.logger.Warn("quorum peer sent a message for another node", "remote", conn.RemoteAddr(), "to", nodeID(m.GetTo()), "from", nodeID(m.GetFrom()))
			return
		}
		t.step(m)
	}
}

func (t *transport) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

// close stops every goroutine and closes the listener and all connections. Idempotent.
func (t *transport) close() {
	t.closing.Do(func() {
		t.mu.Lock()
		close(t.stop)
		t.cancel()
		if t.mu.ln != nil {
			t.mu.ln.Close()
		}
		for c := range t.mu.inbound {
			c.Close()
		}
		t.mu.Unlock()
		t.wg.Wait()
	})
}
