package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is reported by GET /.
var Version = "0.1.0-gregor"

// Server serves Kafka Connect's REST API for a Herder.
type Server struct {
	mu        sync.RWMutex
	herder    Herder // set once before serving requests that need it
	logger    *slog.Logger
	clusterID string
	loggers   *Loggers // set before serving; /admin/loggers
	srv       *http.Server
	ln        net.Listener
	done      chan struct{}
	closeOnce sync.Once
}

// NewServer returns a server for h. clusterID is reported by GET / as kafka_cluster_id.
func NewServer(h Herder, clusterID string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{herder: h, logger: logger.With("component", "connect.rest"), clusterID: clusterID, loggers: NewLoggers(slog.LevelInfo), done: make(chan struct{})}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s
}

func (s *Server) setHerder(h Herder) {
	s.mu.Lock()
	s.herder = h
	s.mu.Unlock()
}

func (s *Server) h() Herder {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.herder
}

// ListenAddr turns a listeners value (http://host:port, first of a comma list) into host:port.
func ListenAddr(listeners string) (string, error) {
	first := strings.TrimSpace(strings.Split(listeners, ",")[0])
	u, err := url.Parse(first)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("%w: listeners: %q must be http://host:port (https is not supported yet)", ErrInvalidConfig, first)
	}
	return u.Host, nil
}

// Listen binds the listener and serves in the background; it returns the bound host:port.
func (s *Server) Listen(listeners string) (string, error) {
	addr, err := ListenAddr(listeners)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("connect rest: %w", err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("rest server", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Close shuts the server down. Idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		if s.ln != nil {
			<-s.done
		}
	})
	return err
}

// errorBody is Kafka Connect's error shape.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{ErrorCode: code, Message: msg})
}

// writeHerderError maps herder errors to status codes.
func writeHerderError(w http.ResponseWriter, err error) {
	msg := err.Error()
	for _, sentinel := range []error{ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalidConfig} {
		if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
			msg = rest
			break
		}
	}
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, ve.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, msg)
	case errors.Is(err, ErrAlreadyExists), errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, msg)
	case errors.Is(err, ErrInvalidConfig):
		writeError(w, http.StatusBadRequest, msg)
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// maxBody bounds request bodies.
const maxBody = 8 << 20

// decodeBody decodes a JSON body into v, rejecting trailing data; the error names the problem.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("request body is empty; expected a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "(root)"
			}
			return fmt.Errorf("malformed JSON: field %s: expected %s, got JSON %s", field, te.Type, te.Value)
		default:
			return fmt.Errorf("malformed JSON: %v", err)
		}
	}
	if d.More() {
		return errors.New("malformed JSON: trailing data after the JSON object")
	}
	return nil
}

// configMap decodes a config object whose values may be strings, numbers or booleans (Kafka
// accepts those and stores strings).
type configMap map[string]string

func (c *configMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*c = nil
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			out[k] = n.String()
			continue
		}
		var bl bool
		if err := json.Unmarshal(v, &bl); err == nil {
			out[k] = strconv.FormatBool(bl)
			continue
		}
		return fmt.Errorf("config value of %q must be a string, number or boolean, got %s", k, v)
	}
	*c = out
	return nil
}

// Handler returns the REST routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /connectors", s.listConnectors)
	mux.HandleFunc("POST /connectors", s.createConnector)
	mux.HandleFunc("GET /connectors/{name}", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.respond(w, http.StatusOK)(s.h().ConnectorInfo(n))
	}))
	mux.HandleFunc("DELETE /connectors/{name}", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.noContent(w, http.StatusNoContent, s.h().DeleteConnector(n))
	}))
	mux.HandleFunc("GET /connectors/{name}/config", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.respond(w, http.StatusOK)(s.h().ConnectorConfig(n))
	}))
	mux.HandleFunc("PUT /connectors/{name}/config", s.withName(s.putConfig))
	mux.HandleFunc("PATCH /connectors/{name}/config", s.withName(s.patchConfig))
	mux.HandleFunc("GET /connectors/{name}/status", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.respond(w, http.StatusOK)(s.h().ConnectorStatus(n))
	}))
	mux.HandleFunc("GET /connectors/{name}/tasks", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.respond(w, http.StatusOK)(s.h().TaskConfigs(n))
	}))
	mux.HandleFunc("GET /connectors/{name}/tasks/{task}/status", s.withTask(func(w http.ResponseWriter, _ *http.Request, n string, t int) {
		s.respond(w, http.StatusOK)(s.h().TaskStatus(n, t))
	}))
	mux.HandleFunc("POST /connectors/{name}/restart", s.withName(s.restartConnector))
	mux.HandleFunc("POST /connectors/{name}/tasks/{task}/restart", s.withTask(func(w http.ResponseWriter, _ *http.Request, n string, t int) {
		s.noContent(w, http.StatusNoContent, s.h().RestartTask(n, t))
	}))
	mux.HandleFunc("PUT /connectors/{name}/pause", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.noContent(w, http.StatusAccepted, s.h().SetTargetState(n, TargetPaused))
	}))
	mux.HandleFunc("PUT /connectors/{name}/resume", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.noContent(w, http.StatusAccepted, s.h().SetTargetState(n, TargetStarted))
	}))
	mux.HandleFunc("PUT /connectors/{name}/stop", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.noContent(w, http.StatusNoContent, s.h().SetTargetState(n, TargetStopped))
	}))
	mux.HandleFunc("GET /connectors/{name}/offsets", s.withName(func(w http.ResponseWriter, r *http.Request, n string) {
		offsets, err := s.h().ConnectorOffsets(r.Context(), n)
		s.respond(w, http.StatusOK)(map[string]any{"offsets": offsets}, err)
	}))
	mux.HandleFunc("PATCH /connectors/{name}/offsets", s.withName(s.alterOffsets))
	mux.HandleFunc("DELETE /connectors/{name}/offsets", s.withName(func(w http.ResponseWriter, r *http.Request, n string) {
		msg, err := s.h().ResetConnectorOffsets(r.Context(), n)
		s.respond(w, http.StatusOK)(map[string]string{"message": msg}, err)
	}))
	mux.HandleFunc("GET /connectors/{name}/topics", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		topics, err := s.h().ActiveTopics(n)
		s.respond(w, http.StatusOK)(map[string]any{n: map[string]any{"topics": topics}}, err)
	}))
	mux.HandleFunc("PUT /connectors/{name}/topics/reset", s.withName(func(w http.ResponseWriter, _ *http.Request, n string) {
		s.noContent(w, http.StatusAccepted, s.h().ResetActiveTopics(n))
	}))
	mux.HandleFunc("GET /admin/loggers", s.listLoggers)
	mux.HandleFunc("GET /admin/loggers/{$}", s.listLoggers)
	mux.HandleFunc("GET /admin/loggers/{name}", s.getLogger)
	mux.HandleFunc("PUT /admin/loggers/{name}", s.setLogger)
	mux.HandleFunc("GET /connector-plugins", s.listPlugins)
	mux.HandleFunc("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	mux.HandleFunc("PUT /connector-plugins/{plugin}/config/validate", s.validate)
	inner := jsonMuxErrors(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverPanic(w, r)
		if msg := uncleanPath(r.URL); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		if s.h() == nil {
			writeError(w, http.StatusServiceUnavailable, "Worker is starting")
			return
		}
		if s.forwardToLeader(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// uncleanPath explains why a request path is refused, or returns "". NB: http.ServeMux answers a
// path with "." or ".." segments or empty segments with a redirect to its cleaned form, so
// PUT /connectors/../connectors/x/config would be redirected to (and by most clients re-sent as)
// PUT /connectors/x/config. The API addresses resources by name, never by navigation: such a path
// is a client error (400), not a redirect. Both the decoded and the escaped path are checked, so
// %2E%2E is refused too.
func uncleanPath(u *url.URL) string {
	for _, p := range []string{u.Path, u.EscapedPath()} {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			last := i == len(segs)-1
			switch {
			case i == 0 && seg == "":
			case seg == "." || seg == "..":
				return fmt.Sprintf("request path %q: a path segment may not be %q", u.Path, seg)
			case seg == "" && !last:
				return fmt.Sprintf("request path %q has an empty segment", u.Path)
			}
		}
	}
	if !strings.HasPrefix(u.Path, "/") {
		return fmt.Sprintf("request path %q must start with /", u.Path)
	}
	return ""
}

// recoverPanic answers a handler's panic with a 500 instead of dropping the connection, and logs
// it with its stack. A panic is a bug: herders validate a request completely before changing any
// state, so a panic part-way leaves none behind.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.logger.Error("REST handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
	// NB: if the handler had already written a status, this adds to a broken response; the client
	// sees a truncated body either way.
	writeError(w, http.StatusInternalServerError, fmt.Sprintf("internal error serving %s %s: %v", r.Method, r.URL.Path, v))
}

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

// jsonMuxErrors turns the mux's own plain-text 404 and 405 into Kafka Connect's JSON errors.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}, code: http.StatusNotFound}
		mux.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, rec.code, fmt.Sprintf("HTTP %d %s", rec.code, http.StatusText(rec.code)))
	})
}

// statusRecorder keeps the status code and headers of a response and drops its body.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }

func (s *Server) respond(w http.ResponseWriter, code int) func(v any, err error) {
	return func(v any, err error) {
		if err != nil {
			writeHerderError(w, err)
			return
		}
		writeJSON(w, code, v)
	}
}

func (s *Server) noContent(w http.ResponseWriter, code int, err error) {
	if err != nil {
		writeHerderError(w, err)
		return
	}
	w.WriteHeader(code)
}

func (s *Server) withName(f func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { f(w, r, r.PathValue("name")) }
}

func (s *Server) withTask(f func(http.ResponseWriter, *http.Request, string, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := r.PathValue("name")
		t, err := strconv.Atoi(r.PathValue("task"))
		if err != nil || t < 0 {
			writeError(w, http.StatusNotFound, fmt.Sprintf("Task %s-%s not found", n, r.PathValue("task")))
			return
		}
		f(w, r, n, t)
	}
}

func (s *Server) root(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": Version, "commit": "gregor", "kafka_cluster_id": s.clusterID})
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	var expand []string
	for _, e := range r.URL.Query()["expand"] {
		expand = append(expand, splitList(e)...)
	}
	names := s.h().Connectors()
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, names)
		return
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		entry := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				if st, err := s.h().ConnectorStatus(n); err == nil {
					entry["status"] = st
				}
			case "info":
				if info, err := s.h().ConnectorInfo(n); err == nil {
					entry["info"] = info
				}
			}
		}
		if len(entry) > 0 {
			out[n] = entry
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type createRequest struct {
	Name         *string   `json:"name"`
	Config       configMap `json:"config"`
	InitialState string    `json:"initial_state"`
}

func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if name == "" {
		if n, ok := req.Config[ConfigName]; ok {
			name = strings.TrimSpace(n)
		}
	}
	if name == "" {
		writeError(w, http.StatusBadRequest, "Connector name must be set with the \"name\" field")
		return
	}
	if strings.ContainsAny(name, "/") {
		writeError(w, http.StatusBadRequest, "Connector name (\"name\") must not contain '/'")
		return
	}
	if req.Config == nil {
		writeError(w, http.StatusBadRequest, "Connector config must be set with the \"config\" field")
		return
	}
	if n, ok := req.Config[ConfigName]; ok && n != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	initial, err := parseInitialState(req.InitialState)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	info, _, err := s.h().PutConnectorConfig(name, req.Config, false, initial)
	if err == nil {
		w.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	}
	s.respond(w, http.StatusCreated)(info, err)
}

func parseInitialState(s string) (TargetState, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "RUNNING":
		return TargetStarted, nil
	case "PAUSED":
		return TargetPaused, nil
	case "STOPPED":
		return TargetStopped, nil
	}
	return "", fmt.Errorf("initial_state: %q must be one of RUNNING, PAUSED, STOPPED", s)
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, name string) {
	var cfg configMap
	if err := decodeBody(r, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if cfg == nil {
		writeError(w, http.StatusBadRequest, "Connector config must be a JSON object")
		return
	}
	if n, ok := cfg[ConfigName]; ok && n != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	info, created, err := s.h().PutConnectorConfig(name, cfg, true, TargetStarted)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	}
	s.respond(w, code)(info, err)
}

// patchConfig merges a partial config into an existing connector's (a null value removes a key).
func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request, name string) {
	var patch map[string]*string
	if err := decodeBody(r, &patch); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cfg, err := s.h().ConnectorConfig(name)
	if err != nil {
		writeHerderError(w, err)
		return
	}
	for k, v := range patch {
		switch {
		case v == nil:
			delete(cfg, k)
		case k == ConfigName && *v != name:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", *v, name))
			return
		default:
			cfg[k] = *v
		}
	}
	// NB: two concurrent PATCHes may race (last writer wins), as in Kafka's standalone mode.
	info, _, err := s.h().PutConnectorConfig(name, cfg, true, TargetStarted)
	s.respond(w, http.StatusOK)(info, err)
}

// alterOffsets is PATCH /connectors/{name}/offsets: {"offsets":[{"partition":{..},"offset":{..}|null}]}.
func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(body.Offsets) == 0 {
		writeError(w, http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
		return
	}
	// NB: decoded with decodeJSON so integral numbers stay int64, as connectors store them.
	offsets := make([]PartitionOffset, 0, len(body.Offsets))
	for i, e := range body.Offsets {
		var po PartitionOffset
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *map[string]any
		}{{"partition", e.Partition, &po.Partition}, {"offset", e.Offset, &po.Offset}} {
			if len(f.raw) == 0 || string(f.raw) == "null" {
				continue
			}
			v, err := decodeJSON(f.raw)
			m, ok := v.(map[string]any)
			if err != nil || !ok {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("offsets[%d].%s must be a JSON object or null", i, f.name))
				return
			}
			*f.dst = m
		}
		if po.Partition == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("offsets[%d].partition must be a JSON object", i))
			return
		}
		offsets = append(offsets, po)
	}
	msg, err := s.h().AlterConnectorOffsets(r.Context(), name, offsets)
	s.respond(w, http.StatusOK)(map[string]string{"message": msg}, err)
}

// restartConnector is POST /connectors/{n}/restart. Without includeTasks and onlyFailed it
// restarts the connector instance and answers 204; otherwise 202 with the connector's status in
// which what is being restarted shows RESTARTING, as Kafka's restart plan does.
func (s *Server) restartConnector(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	includeTasks := strings.EqualFold(q.Get("includeTasks"), "true")
	onlyFailed := strings.EqualFold(q.Get("onlyFailed"), "true")
	var plan ConnectorStatus
	if includeTasks || onlyFailed {
		st, err := s.h().ConnectorStatus(name)
		if err != nil {
			writeHerderError(w, err)
			return
		}
		plan = restartPlan(st, includeTasks, onlyFailed)
	}
	if err := s.h().RestartConnector(name, includeTasks, onlyFailed); err != nil {
		writeHerderError(w, err)
		return
	}
	if !includeTasks && !onlyFailed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusAccepted, plan)
}

// restartPlan marks in st what a restart with these flags restarts. A stopped connector restarts
// nothing.
func restartPlan(st ConnectorStatus, includeTasks, onlyFailed bool) ConnectorStatus {
	if st.Connector.State == StateStopped {
		return st
	}
	if !onlyFailed || st.Connector.State == StateFailed {
		st.Connector.State, st.Connector.Trace = StateRestarting, ""
	}
	if includeTasks {
		for i, t := range st.Tasks {
			if !onlyFailed || t.State == StateFailed {
				st.Tasks[i].State, st.Tasks[i].Trace = StateRestarting, ""
			}
		}
	}
	return st
}

// listPlugins is GET /connector-plugins; connectorsOnly=false adds transformations, predicates
// and converters.
func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request) {
	connectorsOnly := !strings.EqualFold(strings.TrimSpace(r.URL.Query().Get("connectorsOnly")), "false")
	writeJSON(w, http.StatusOK, s.h().Registry().AllPlugins(connectorsOnly))
}

func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	p, ok := s.h().Registry().Lookup(r.PathValue("plugin"))
	if def, isConverter := ConverterConfigDef(r.PathValue("plugin")); !ok && isConverter {
		// NB: since Kafka 3.2 this endpoint describes converters too (KIP-769).
		out := []ConfigKeyInfo{}
		for _, k := range def.Keys() {
			out = append(out, k.Info())
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Unknown plugin %s.", r.PathValue("plugin")))
		return
	}
	out := []ConfigKeyInfo{}
	for _, k := range p.New().ConfigDef().Keys() {
		out = append(out, k.Info())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	var cfg configMap
	if err := decodeBody(r, &cfg); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if cfg == nil {
		cfg = configMap{}
	}
	plugin := r.PathValue("plugin")
	if c, ok := cfg[ConfigConnectorClass]; !ok || c == "" {
		cfg[ConfigConnectorClass] = plugin
	}
	// NB: Kafka rejects a body whose connector.class names another plugin than the path.
	pp, okPath := s.h().Registry().Lookup(plugin)
	pb, okBody := s.h().Registry().Lookup(cfg[ConfigConnectorClass])
	if okPath && okBody && pp != pb {
		writeError(w, http.StatusBadRequest, "Connector class in the path and in connector.class do not match")
		return
	}
	infos, _ := s.h().Registry().ValidateConnectorConfig(cfg)
	writeJSON(w, http.StatusOK, infos)
}

// listLoggers is GET /admin/loggers: every known logger with its level, sorted by name.
func (s *Server) listLoggers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.loggers.All())
}

// getLogger is GET /admin/loggers/{name}.
func (s *Server) getLogger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	l, ok := s.loggers.Get(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Logger %s not found.", name))
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// setLogger is PUT /admin/loggers/{name} {"level": "DEBUG"}: it sets the logger and those below it
// and returns their names. As in Kafka's standalone worker, scope=cluster acts on this worker only.
func (s *Server) setLogger(w http.ResponseWriter, r *http.Request) {
	var body map[string]*string
	if err := decodeBody(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lv := body["level"]
	if lv == nil {
		writeError(w, http.StatusBadRequest, "Desired 'level' parameter was not specified in request.")
		return
	}
	level, ok := ParseLogLevel(*lv)
	if !ok {
		// NB: Kafka answers an unknown level with 404, not 400; clients may depend on it.
		writeError(w, http.StatusNotFound, fmt.Sprintf("invalid log level '%s'.", *lv))
		return
	}
	name := r.PathValue("name")
	affected := s.loggers.Set(name, level)
	s.logger.Info("log level changed", "logger", name, "level", LogLevelName(level), "affected", affected)
	writeJSON(w, http.StatusOK, affected)
}
