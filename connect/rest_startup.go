package connect

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// DefaultRESTRequestTimeout bounds how long a REST request waits for a worker that is still
// starting. NB: it is Kafka Connect's ConnectResource.DEFAULT_REST_REQUEST_TIMEOUT_MS (90 s), which
// Kafka does not expose as a worker property either; Options.RESTRequestTimeout shortens it in tests.
const DefaultRESTRequestTimeout = 90 * time.Second

// firstJoinAwaiter is a herder that must join a group before it can serve writes (distributed
// mode). AwaitFirstJoin returns nil once it has joined for the first time, ctx's error otherwise.
type firstJoinAwaiter interface {
	AwaitFirstJoin(ctx context.Context) error
}

// awaitStarted holds a request that arrives while the worker is starting, as Kafka Connect queues
// it for its herder thread: every request waits for the herder to exist, and a write also for the
// worker's first group join, both within the request timeout. It reports whether the request may
// go on; if not, it has answered it (503 when the herder never came, and the request's own
// cancellation otherwise). A write whose wait for the first join times out goes on and meets the
// usual 409.
func (s *Server) awaitStarted(w http.ResponseWriter, r *http.Request) bool {
	select {
	case <-s.ready:
		if _, ok := s.h().(firstJoinAwaiter); !ok || isRead(r) {
			return true // the common case: no timer, no goroutine
		}
	default:
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
	defer cancel()
	// NB: Close ends the wait too, so a shutting-down server does not hold a request 90 s.
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	select {
	case <-s.ready:
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "Worker is starting")
		return false
	}
	if a, ok := s.h().(firstJoinAwaiter); ok && !isRead(r) {
		_ = a.AwaitFirstJoin(ctx)
	}
	return true
}

// isRead reports whether a request only reads, or validates a config: neither needs the group.
func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/connector-plugins/")
}
