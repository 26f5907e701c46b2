package connect

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// leaderForwarder is a herder whose writes must reach one leader worker (distributed mode).
type leaderForwarder interface {
	// ForwardURL returns "" when this worker serves writes itself, otherwise the leader's base URL;
	// an error (ErrConflict) when no leader can take writes now, e.g. during a rebalance.
	ForwardURL() (string, error)
	// CatchUp waits until this worker has read what the leader wrote, so a client reads its own
	// writes from the worker it wrote through.
	CatchUp(ctx context.Context) error
}

// forwardToLeader sends a write request on to the leader and relays its answer, as Kafka's workers
// do; it reports whether it answered the request. Reads, config validation and requests already
// forwarded (forward=false) are served here.
func (s *Server) forwardToLeader(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/connector-plugins/") ||
		strings.EqualFold(r.URL.Query().Get("forward"), "false") {
		return false
	}
	f, ok := s.h().(leaderForwarder)
	if !ok {
		return false
	}
	leader, err := f.ForwardURL()
	if err != nil {
		writeHerderError(w, err)
		return true
	}
	if leader == "" {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, http.StatusBadRequest, "request body unreadable or larger than 8 MiB")
		return true
	}
	q := r.URL.Query()
	q.Set("forward", "false")
	req, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimRight(leader, "/")+r.URL.EscapedPath()+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := forwardClient.Do(req)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("IO Error trying to forward REST request: %v", err))
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		if err := f.CatchUp(r.Context()); err != nil {
			s.logger.Warn("reading the config topic after a forwarded write", "err", err)
		}
	}
	for _, h := range []string{"Content-Type", "Location"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

// forwardClient forwards requests to the leader.
var forwardClient = &http.Client{Timeout: 90 * time.Second}
