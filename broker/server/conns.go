package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connState is what the server tracks of one open connection. The read and write loops stamp it
// with atomic stores (no lock on the request path); the reaper reads it to close connections that
// are idle or whose request is taking too long to arrive.
type connState struct {
	c  net.Conn
	ip string // the client's address, the key of the per-IP limit
	// listener is the address of the listener that accepted the connection.
	listener string
	// lastActive is the coarse time a request last started arriving or a response was last written.
	lastActive atomic.Int64
	// frameStart is the coarse time the current request's size prefix was read; 0 between requests.
	frameStart atomic.Int64
	// pending counts requests read but not yet answered (handler running or response queued).
	pending atomic.Int32
}

// NB: the read loop stamps frameStart and lastActive before a body and pending+1 before clearing
// frameStart after it; the write loop stamps lastActive before pending-1. The reaper reads
// frameStart, then pending, then lastActive, so it never sees a connection as idle in between.

// reapReasonLocked reports why the reaper should close cs at now, or "" to keep it. s.mu is held.
func (s *Server) reapReasonLocked(cs *connState, now int64) string {
	if start := cs.frameStart.Load(); start != 0 {
		if s.cfg.RequestArrivalTimeout > 0 && now-start > int64(s.cfg.RequestArrivalTimeout) {
			return "request.arrival.timeout.ms"
		}
		return ""
	}
	if s.cfg.ConnectionsMaxIdle > 0 && cs.pending.Load() == 0 && now-cs.lastActive.Load() > int64(s.cfg.ConnectionsMaxIdle) {
		return "connections.max.idle.ms"
	}
	return ""
}

// reapInterval is how often the reaper looks at the connections: an eighth of the shortest time
// limit, between 5 ms and 1 s; 0 when no time limit is set.
func (s *Server) reapInterval() time.Duration {
	var shortest time.Duration
	for _, d := range []time.Duration{s.cfg.ConnectionsMaxIdle, s.cfg.RequestArrivalTimeout} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 0
	}
	return min(max(shortest/8, 5*time.Millisecond), time.Second)
}

// reapLoop advances the coarse clock and closes idle and too-slow connections until Close.
func (s *Server) reapLoop(tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	type victim struct {
		cs     *connState
		reason string
	}
	var victims []victim
	for {
		select {
		case <-s.stopReap:
			return
		case <-t.C:
		}
		now := s.clock.advance()
		victims = victims[:0]
		s.mu.Lock()
		for _, cs := range s.mu.conns {
			if reason := s.reapReasonLocked(cs, now); reason != "" {
				victims = append(victims, victim{cs, reason})
			}
		}
		s.mu.Unlock()
		for _, v := range victims {
			// Kafka closes idle connections silently; a request that does not finish arriving is
			// worth a line.
			if v.reason == "connections.max.idle.ms" {
				s.log.Debug("closing idle connection", "remote", v.cs.c.RemoteAddr().String(), "connections.max.idle.ms", s.cfg.ConnectionsMaxIdle.Milliseconds())
			} else {
				s.log.Warn("closing connection: request did not arrive in time", "remote", v.cs.c.RemoteAddr().String(), "request.arrival.timeout.ms", s.cfg.RequestArrivalTimeout.Milliseconds())
			}
			v.cs.c.Close()
		}
	}
}

// coarseClock is a monotonic time in nanoseconds (never 0) that the reaper advances each tick, so
// the request path stamps connections with an atomic load instead of reading the clock.
type coarseClock struct {
	start time.Time
	ns    atomic.Int64
}

func (c *coarseClock) now() int64 { return c.ns.Load() }

func (c *coarseClock) advance() int64 {
	if c.start.IsZero() {
		c.start = time.Now() // only the reaper goroutine (or New, before it starts) calls advance
	}
	n := int64(time.Since(c.start)) + 1
	c.ns.Store(n)
	return n
}

// connLimits holds max.connections and max.connections.per.ip(.overrides) and reports refusals.
type connLimits struct {
	max       int
	perIP     int
	overrides map[string]int // normalised IP -> limit
	log       *slog.Logger

	mu struct {
		sync.Mutex
		lastLog    time.Time
		suppressed int
	}
}

func newConnLimits(cfg Config, log *slog.Logger) *connLimits {
	l := &connLimits{max: cfg.MaxConnections, perIP: cfg.MaxConnectionsPerIP, log: log}
	if len(cfg.MaxConnectionsPerIPOverrides) > 0 {
		l.overrides = map[string]int{}
	}
	for host, n := range cfg.MaxConnectionsPerIPOverrides {
		if a, err := netip.ParseAddr(host); err == nil {
			l.overrides[a.Unmap().String()] = n
			continue
		}
		// As Kafka does, a host name stands for the addresses it resolves to at start.
		ips, err := net.LookupIP(host)
		if err != nil {
			log.Warn("max.connections.per.ip.overrides: host not resolved; its override is ignored", "host", host, "err", err)
			continue
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				l.overrides[a.Unmap().String()] = n
			}
		}
	}
	return l
}

// admitLocked returns the setting that refuses a new connection from ip, or "" to admit it.
func (s *Server) admitLocked(ip string) string {
	l := s.limits
	if l.max > 0 && len(s.mu.conns) >= l.max {
		return "max.connections"
	}
	limit, ok := l.overrides[ip]
	if !ok {
		limit = l.perIP
	}
	if (ok || limit > 0) && s.mu.perIP[ip] >= limit {
		return "max.connections.per.ip"
	}
	return ""
}

// refused logs a refused connection, at most once every 10 s with the count left unlogged since, so
// a client retrying in a loop cannot flood the log.
func (l *connLimits) refused(setting, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.mu.lastLog) >= 10*time.Second {
		l.log.Warn("refused connection: limit reached", "setting", setting, "client", ip, "max.connections", l.max, "max.connections.per.ip", l.perIP, "also_refused_since_last_log", l.mu.suppressed)
		l.mu.lastLog, l.mu.suppressed = now, 0
		return
	}
	l.mu.suppressed++
}

// remoteIP is the client's address without port, IPv4-mapped IPv6 addresses unmapped.
func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr()
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
