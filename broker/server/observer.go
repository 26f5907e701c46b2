package server

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestTimes are the moments of one request's life on its connection.
type RequestTimes struct {
	Received time.Time // the request's last byte was read
	Started  time.Time // it was decoded and its handler called
	Handled  time.Time // the handler returned
	Dequeued time.Time // the write loop took the response (after the connection's earlier ones)
	Sent     time.Time // the response was written, or dropped (no response, failed connection)
}

// Observer sees every request the server decoded (broker/metrics implements it). RequestDone is
// called once per request, from the connection's write loop (or its read loop for a request
// without a response), concurrently across connections: it must be quick and must not block.
// resp is nil when nothing was sent; it must not be kept after RequestDone returns.
type Observer interface {
	RequestDone(key, version int16, resp kmsg.Response, t RequestTimes)
}

// ConnectionsByListener counts open connections per listener address (as Listener.Addr().String()).
func (s *Server) ConnectionsByListener() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, cs := range s.mu.conns {
		out[cs.listener]++
	}
	return out
}

// observeNow returns the time when an Observer is set, and the zero time (no clock read) otherwise.
func (s *Server) observeNow() time.Time {
	if s.cfg.Observer == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports o to the Observer, if any. sent tells whether o's response was written. A
// request the server answered itself (unsupported ApiVersions) has no handler times: its phases
// count from its arrival.
func (s *Server) observe(o *outgoing, sent bool) {
	if s.cfg.Observer == nil {
		return
	}
	now := time.Now()
	t := o.times
	if t.Started.IsZero() {
		t.Started, t.Handled = t.Received, t.Received
	}
	if t.Dequeued.IsZero() {
		t.Dequeued = now
	}
	t.Sent = now
	var resp kmsg.Response
	if sent {
		resp = o.resp.Msg
	}
	s.cfg.Observer.RequestDone(o.key, o.version, resp, t)
}
