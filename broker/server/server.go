// Package server is the broker's network edge: it accepts TCP connections, frames Kafka requests,
// decodes them with kmsg, hands each to a Handler and writes the responses back in request order.
//
// Each connection has one read loop and one write loop. The read loop decodes a request and calls
// the handler synchronously (Kafka processes one request per connection at a time, which gives
// clients that pipeline their requests responses in order); the handler's response goes to the write
// loop, which encodes and writes it while the read loop moves on to the next request. A malformed or
// oversized frame closes that connection only.
package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/crc"
)

// Response is a handler's answer to one request.
type Response struct {
	// Msg is encoded and sent; nil sends nothing (acks=0 produce).
	Msg kmsg.Response
	// Release, if not nil, is called once Msg has been written (or dropped): the handler may
	// return pooled buffers that Msg references.
	Release func()
	// Close asks the server to close the connection after writing Msg.
	Close bool
	// Splices, if any, replace placeholder bytes fields of Msg with file ranges sent by sendfile.
	Splices []Splice
}

// Conn describes the client connection a request arrived on.
type Conn struct {
	ID         uint64
	RemoteAddr string
	ClientID   string
	// Done is closed when the connection is going away; long-polling handlers stop waiting.
	Done <-chan struct{}
	// Body holds CRC-32C sums of the current request body's 4 KiB chunks, taken as it was read;
	// valid during Handle (the produce path checks batch CRCs with it).
	Body crc.Body
}

// Handler serves decoded requests. Handle is called from many connections at once; calls for one
// connection are sequential. The request's byte fields alias a pooled buffer that is reused once
// Handle returns: a handler must copy what it keeps, and its Response must not point into req.
type Handler interface {
	Handle(c *Conn, req kmsg.Request) Response
	// Supported reports whether key at version is implemented; unsupported requests close the
	// connection, except ApiVersions, which gets the v0 UNSUPPORTED_VERSION answer.
	Supported(key, version int16) bool
}

// Config configures a Server. Zero limits mean unlimited.
type Config struct {
	MaxRequestBytes int // socket.request.max.bytes
	// ConnectionsMaxIdle closes a connection with no request in progress and none received for
	// this long (connections.max.idle.ms).
	ConnectionsMaxIdle time.Duration
	// RequestArrivalTimeout closes a connection whose request has started arriving (its size
	// prefix was read) but is not complete after this long (request.arrival.timeout.ms).
	RequestArrivalTimeout time.Duration
	// MaxConnections bounds open connections across all listeners (max.connections); a
	// connection beyond it is closed as soon as it is accepted.
	MaxConnections int
	// MaxConnectionsPerIP bounds open connections from one client address (max.connections.per.ip),
	// except for the addresses in MaxConnectionsPerIPOverrides (max.connections.per.ip.overrides,
	// keyed by IP address or host name).
	MaxConnectionsPerIP          int
	MaxConnectionsPerIPOverrides map[string]int
	Logger                       *slog.Logger
	// Observer, if not nil, sees every request with its timings (metrics).
	Observer Observer
}

// Server accepts connections on a listener.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger

	wg       sync.WaitGroup
	nextID   atomic.Uint64
	limits   *connLimits
	clock    coarseClock
	stopReap chan struct{}
	mu       struct {
		sync.Mutex
		listeners []net.Listener
		conns     map[uint64]*connState
		perIP     map[string]int
		closed    bool
	}
}

// New returns a server that dispatches to h.
func New(cfg Config, h Handler) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	s := &Server{cfg: cfg, handler: h, log: cfg.Logger.With("component", "server"), stopReap: make(chan struct{})}
	s.limits = newConnLimits(cfg, s.log)
	s.clock.advance()
	s.mu.conns = map[uint64]*connState{}
	s.mu.perIP = map[string]int{}
	if tick := s.reapInterval(); tick > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.reapLoop(tick)
		}()
	}
	return s
}

// Serve accepts connections on ln until Close. It returns at once; accepting runs in the background.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return
	}
	s.mu.listeners = append(s.mu.listeners, ln)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var backoff time.Duration
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Out of file descriptors and the like: back off rather than spin.
				backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			backoff = 0
			s.startConn(c, ln.Addr().String())
		}
	}()
}

func (s *Server) startConn(c net.Conn, listener string) {
	id := s.nextID.Add(1)
	cs := &connState{c: c, ip: remoteIP(c), listener: listener}
	cs.lastActive.Store(s.clock.now())
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	if refusal := s.admitLocked(cs.ip); refusal != "" {
		s.mu.Unlock()
		s.limits.refused(refusal, cs.ip)
		c.Close()
		return
	}
	s.mu.conns[id] = cs
	s.mu.perIP[cs.ip]++
	s.mu.Unlock()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveConn(id, cs)
		s.mu.Lock()
		delete(s.mu.conns, id)
		if s.mu.perIP[cs.ip]--; s.mu.perIP[cs.ip] <= 0 {
			delete(s.mu.perIP, cs.ip)
		}
		s.mu.Unlock()
	}()
}

// Close stops accepting, closes every connection and waits for their loops to finish. Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.mu.closed = true
	close(s.stopReap)
	for _, ln := range s.mu.listeners {
		ln.Close()
	}
	for _, cs := range s.mu.conns {
		cs.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// outgoing is one queued response.
type outgoing struct {
	corr     int32
	key      int16
	flexible bool // response header v1 (tagged fields)
	resp     Response
	version  int16
	times    RequestTimes // stamped only when an Observer is set
}

// ErrFrame describes why a frame was rejected.
var ErrFrame = errors.New("server: bad frame")

func (s *Server) serveConn(id uint64, cs *connState) {
	c := cs.c
	done := make(chan struct{})
	conn := &Conn{ID: id, RemoteAddr: c.RemoteAddr().String(), Done: done}
	log := s.log.With("conn", id, "remote", conn.RemoteAddr)

	// Bounded queue: a client that stops reading its responses stalls its own read loop only.
	out := make(chan outgoing, 64)
	var writerWG sync.WaitGroup
	writerWG.Add(1)
	go func() {
		defer writerWG.Done()
		s.writeLoop(cs, out, log)
	}()
	defer func() {
		close(out)
		writerWG.Wait()
		close(done)
		c.Close()
	}()

	r := bufio.NewReaderSize(c, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Debug("connection read ended", "err", err)
			}
			return
		}
		now := s.clock.now()
		cs.lastActive.Store(now)
		cs.frameStart.Store(now)
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || int(size) > s.cfg.MaxRequestBytes {
			log.Warn("closing connection: bad request size", "size", size, "socket.request.max.bytes", s.cfg.MaxRequestBytes)
			return
		}
		// kmsg aliases byte fields (produced records) into the body, so it lives until the handler
		// returns; handlers copy what they keep and responses never point into a request.
		body, err := readBody(r, int(size), &conn.Body)
		if err != nil {
			log.Debug("connection closed mid-request", "err", err)
			return
		}
		cs.pending.Add(1)
		cs.frameStart.Store(0)
		received := s.observeNow()
		o, ok := s.handleFrame(conn, body, log)
		o.times.Received = received
		conn.Body.Reset(nil)
		putBody(body)
		if !ok {
			return
		}
		if o.resp.Msg == nil && o.resp.Release == nil && !o.resp.Close {
			s.observe(&o, false)
			cs.lastActive.Store(s.clock.now())
			cs.pending.Add(-1)
			continue
		}
		select {
		case out <- o:
		case <-done:
			return
		}
		if o.resp.Close {
			return
		}
	}
}

// Header is a decoded request header.
type Header struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      string
}

// Decode errors. ErrUnsupported carries a header that parsed.
var (
	ErrUnknownKey  = errors.New("server: unknown API key")
	ErrUnsupported = errors.New("server: unsupported API version")
)

// DecodeRequest parses a request frame body (without the 4-byte size). supported decides which
// key/version pairs are decoded; it must never panic, whatever the input.
func DecodeRequest(body []byte, supported func(key, version int16) bool) (Header, kmsg.Request, error) {
	key, version, corr, clientID, rest, err := parseHeaderStart(body)
	h := Header{Key: key, Version: version, CorrelationID: corr, ClientID: clientID}
	if err != nil {
		return h, nil, err
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return h, nil, fmt.Errorf("%w %d", ErrUnknownKey, key)
	}
	if !supported(key, version) {
		return h, nil, fmt.Errorf("%w: key %d version %d", ErrUnsupported, key, version)
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return h, nil, fmt.Errorf("request header tags: %w", err)
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("%w: key %d version %d: %v", ErrFrame, key, version, err)
	}
	return h, req, nil
}

// handleFrame parses one request frame and runs its handler. ok=false closes the connection.
func (s *Server) handleFrame(conn *Conn, body []byte, log *slog.Logger) (o outgoing, ok bool) {
	h, req, err := DecodeRequest(body, s.handler.Supported)
	o.corr, o.key = h.CorrelationID, h.Key
	conn.ClientID = h.ClientID
	switch {
	case err == nil:
	case errors.Is(err, ErrUnsupported) && h.Key == 18:
		// ApiVersions: answer v0 with UNSUPPORTED_VERSION and our ranges so the client retries lower.
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ErrorCode = 35
		if av, ok := s.handler.Handle(conn, apiVersionsProbe()).Msg.(*kmsg.ApiVersionsResponse); ok {
			resp.ApiKeys = av.ApiKeys
		}
		resp.Version = 0
		o.resp = Response{Msg: resp}
		return o, true
	default:
		log.Warn("closing connection: bad request", "api_key", h.Key, "version", h.Version, "client_id", h.ClientID, "err", err)
		return o, false
	}
	o.flexible = req.IsFlexible() && h.Key != 18 // ApiVersions responses always use header v0
	o.version = h.Version
	o.times.Started = s.observeNow()
	o.resp = s.safeHandle(conn, req, log)
	o.times.Handled = s.observeNow()
	if o.resp.Msg != nil {
		o.resp.Msg.SetVersion(h.Version)
	}
	return o, true
}

func apiVersionsProbe() kmsg.Request {
	r := kmsg.NewPtrApiVersionsRequest()
	r.Version = 0
	return r
}

// safeHandle turns a handler panic (a bug) into a closed connection instead of a dead broker.
func (s *Server) safeHandle(conn *Conn, req kmsg.Request, log *slog.Logger) (resp Response) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panic; closing connection", "api_key", req.Key(), "version", req.GetVersion(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = Response{Close: true}
		}
	}()
	return s.handler.Handle(conn, req)
}

func (s *Server) writeLoop(cs *connState, out <-chan outgoing, log *slog.Logger) {
	c := cs.c
	w := bufio.NewWriterSize(c, 64<<10)
	var buf, scratch []byte
	failed := false
	for o := range out {
		o.times.Dequeued = s.observeNow()
		if failed || o.resp.Msg == nil {
			s.observe(&o, false)
			if o.resp.Release != nil {
				o.resp.Release()
			}
			cs.pending.Add(-1)
			continue
		}
		buf = append(buf[:0], 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint32(buf, uint32(o.corr))
		if o.flexible {
			buf = append(buf, 0)
		}
		buf = o.resp.Msg.AppendTo(buf)
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		var err error
		if len(o.resp.Splices) > 0 {
			var pieces []piece
			if pieces, err = layoutSplices(buf, o.resp.Splices); err == nil {
				err = writeSpliced(c, w, pieces, &scratch)
			}
		} else if len(buf) > w.Available() && w.Buffered() == 0 {
			_, err = c.Write(buf) // large response: skip the extra copy through the buffer
		} else {
			_, err = w.Write(buf)
		}
		if err == nil && len(out) == 0 {
			err = w.Flush()
		}
		// NB: observed after the flush, so send covers the write to the socket, and before
		// Release, so the observer reads a response whose buffers are still the handler's.
		s.observe(&o, err == nil)
		if o.resp.Release != nil {
			o.resp.Release()
		}
		cs.lastActive.Store(s.clock.now())
		cs.pending.Add(-1)
		if err != nil {
			if errors.Is(err, ErrSplice) {
				log.Error("closing connection: response layout failed", "err", err)
			} else {
				log.Debug("write failed", "err", err)
			}
			failed = true
			c.Close()
		}
		if cap(buf) > 4<<20 {
			buf = nil // don't pin a huge buffer to an idle connection
		}
		if cap(scratch) > 4<<20 {
			scratch = nil
		}
	}
	if !failed {
		w.Flush()
	}
}

// firstBodyBytes is the buffer a request body starts in; it then grows fourfold each time it
// fills, up to the declared size.
const firstBodyBytes = 64 << 10

// readBody reads a size-byte request body from r, one read at a time, summing each chunk while it
// is cache-hot. The buffer (pooled, see getBody) grows only as bytes arrive, so a connection costs
// at most about four times what it has actually sent, never what its size prefix claims.
//
// NB: growing by copying costs at most a third of the body in copies (one extra copy of 64 KiB for
// a 100 KiB produce request); allocating the declared size up front let 16 connections that sent
// only a 4-byte "100 MB" prefix take 2 GB of heap.
func readBody(r *bufio.Reader, size int, sums *crc.Body) ([]byte, error) {
	body := getBody(min(size, firstBodyBytes))
	sums.Reset(body)
	for off := 0; off < size; {
		if off == len(body) {
			grown := getBody(min(size, 4*len(body)))
			copy(grown, body[:off])
			putBody(body)
			body = grown
			sums.Moved(body)
		}
		n, err := r.Read(body[off:])
		off += n
		sums.Filled(off)
		if err != nil {
			if off == size {
				break
			}
			putBody(body)
			if errors.Is(err, io.EOF) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}

// parseHeaderStart reads the fixed request header fields (key, version, correlation id, client id).
func parseHeaderStart(b []byte) (key, version int16, corr int32, clientID string, rest []byte, err error) {
	if len(b) < 10 {
		return 0, 0, 0, "", nil, fmt.Errorf("%w: header needs 10 bytes, have %d", ErrFrame, len(b))
	}
	key = int16(binary.BigEndian.Uint16(b))
	version = int16(binary.BigEndian.Uint16(b[2:]))
	corr = int32(binary.BigEndian.Uint32(b[4:]))
	n := int16(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	if n >= 0 {
		if int(n) > len(b) {
			return 0, 0, 0, "", nil, fmt.Errorf("%w: client id length %d overruns the frame", ErrFrame, n)
		}
		clientID = string(b[:n])
		b = b[n:]
	} else if n != -1 {
		return 0, 0, 0, "", nil, fmt.Errorf("%w: client id length %d", ErrFrame, n)
	}
	return key, version, corr, clientID, b, nil
}

// skipTags skips a tagged-field section (request header v2).
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < n; i++ {
		if _, b, err = uvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field overruns the frame", ErrFrame)
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad uvarint", ErrFrame)
	}
	return v, b[n:], nil
}

// ListenAndServe listens on addr and serves; it returns the bound listener's address.
func (s *Server) ListenAndServe(ctx context.Context, addr string) (net.Addr, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s.Serve(ln)
	return ln.Addr(), nil
}
