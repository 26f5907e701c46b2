package connect

import (
	"context"
	"errors"
	"fmt"
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
	mu struct {
		sync.RWMutex
		herder Herder // set once before serving requests that need it
	}
	logger    *slog.Logger
	clusterID string
	loggers   *Loggers // set before serving; /admin/loggers
	// ready is closed when the herder is set; closing when Close begins. Requests arriving before
	// ready wait for it, up to requestTimeout (see awaitStarted).
	ready          chan struct{}
	readyOnce      sync.Once
	closing        chan struct{}
	requestTimeout time.Duration
	srv            *http.Server
	ln             net.Listener
	done           chan struct{}
	closeOnce      sync.Once
	// metrics serves GET /metrics (the worker's Prometheus registry); nil answers 404.
	metrics http.Handler
}

// NewServer returns a server for h. clusterID is reported by GET / as kafka_cluster_id.
func NewServer(h Herder, clusterID string, logger *slog.Logger) *Server {
	return newServer(h, clusterID, logger, NewLoggers(slog.LevelInfo))
}

// newServer is NewServer whose /admin/loggers reads and sets loggers (the worker's).
func newServer(h Herder, clusterID string, logger *slog.Logger, loggers *Loggers) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{logger: logger.With("component", "connect.rest"), clusterID: clusterID, loggers: loggers, done: make(chan struct{}),
		ready: make(chan struct{}), closing: make(chan struct{}), requestTimeout: DefaultRESTRequestTimeout}
	s.mu.herder = h
	if h != nil {
		s.readyOnce.Do(func() { close(s.ready) })
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s
}

func (s *Server) setHerder(h Herder) {
	s.mu.Lock()
	s.mu.herder = h
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })
}

func (s *Server) h() Herder {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.herder
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
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		if s.ln != nil {
			<-s.done
		}
	})
	return err
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
		// NB: before awaitStarted and forwarding: a worker's metrics are its own, and a worker
		// still starting has metrics to show.
		if r.URL.Path == "/metrics" && s.metrics != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.metrics.ServeHTTP(w, r)
			return
		}
		if !s.awaitStarted(w, r) {
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
