package schemaregistry

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// forwardedHeader marks a request a follower forwarded, so it is never forwarded twice.
const forwardedHeader = "X-Gregor-Schema-Registry-Forwarded"

// primaryWait bounds how long a write waits for an election to name a primary.
const primaryWait = 15 * time.Second

var forwardClient = &http.Client{Timeout: 30 * time.Second}

// forwardIfFollower sends a write to the primary when this instance is not it, answering the
// client with the primary's answer; it returns false when this instance is the primary and must
// handle the write itself.
func (s *Server) forwardIfFollower(w http.ResponseWriter, r *http.Request, body []byte) bool {
	deadline := time.Now().Add(primaryWait)
	url, self, known := s.elector.primary()
	for !known && time.Now().Before(deadline) && r.Context().Err() == nil {
		time.Sleep(50 * time.Millisecond)
		url, self, known = s.elector.primary()
	}
	if !known {
		writeError(w, errorf(http.StatusInternalServerError, codeUnknownLeader, "Unknown leader: no primary elected in group %s", s.cfg.GroupID))
		return true
	}
	if self {
		return false
	}
	if r.Header.Get(forwardedHeader) != "" {
		writeError(w, errorf(http.StatusInternalServerError, codeForwardingError,
			"Error while forwarding the request to the primary: this instance is not the primary (%s is)", url))
		return true
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, url+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, codeForwardingError, "Error while forwarding the request to the primary %s: %v", url, err))
		return true
	}
	for _, h := range []string{"Content-Type", "Accept", "Authorization"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set(forwardedHeader, s.url)
	resp, err := forwardClient.Do(req)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, codeForwardingError, "Error while forwarding the request to the primary %s: %v", url, err))
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		// NB: read-your-writes on this instance too: catch up with what the primary just wrote.
		if err := s.store.catchUp(r.Context()); err != nil {
			s.cfg.Logger.Warn("catching up after a forwarded write", "err", err)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}
