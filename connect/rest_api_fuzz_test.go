package connect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gregor-streams/gregor/connect"
)

// idleSource is a source connector with no tasks: the fuzzed worker runs connectors without
// reaching Kafka.
type idleSource struct{}

func (idleSource) Version() string { return "1.0" }
func (idleSource) ConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().Define(connect.ConfigKey{Name: "topic", Type: connect.TypeConfigString, Default: "", Importance: connect.Low, Documentation: "Unused."})
}
func (idleSource) Start(connect.ConnectorContext, map[string]string) error { return nil }
func (idleSource) TaskConfigs(int) ([]map[string]string, error)            { return nil, nil }
func (idleSource) Stop() error                                             { return nil }
func (idleSource) NewTask() connect.SourceTask                             { return nil }

var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// FuzzRESTAPI sends arbitrary requests (method, path, body) to a standalone worker's REST handler
// and checks after each one that no handler panicked or answered 5xx, and that the worker's state
// is consistent: every listed connector answers its info and status, expand=status covers every
// one, and no listed name is one the API refuses (empty, control characters, "." or "..").
func FuzzRESTAPI(f *testing.F) {
	for _, s := range []struct {
		method byte
		path   string
		body   string
	}{
		{1, "/connectors", `{"name":"a","config":{"connector.class":"Idle"}}`},
		{1, "/connectors", `{"name":"b","config":{"connector.class":""}}`},
		{1, "/connectors", `{"name":"c","config":{"connector.class":null}}`},
		{1, "/connectors", `{"name":"..","config":{"connector.class":"Idle"}}`},
		{1, "/connectors", `{"name":"a\nb","config":{"connector.class":"Idle"}}`},
		{1, "/connectors", `{"name":"p","config":{"connector.class":"Idle"},"initial_state":"STOPPED"}`},
		{2, "/connectors/a/config", `{"connector.class":"Idle","tasks.max":"3"}`},
		{2, "/connectors/../connectors/evil/config", `{"connector.class":"Idle"}`},
		{2, "/connectors/%2E/config", `{"connector.class":"Idle"}`},
		{3, "/connectors/a/config", `{"topic":null,"tasks.max":"2"}`},
		{0, "/connectors?expand=status&expand=info", ``},
		{0, "/connectors/a/status", ``},
		{0, "/connectors/a/tasks/0/status", ``},
		{1, "/connectors/a/restart?includeTasks=true&onlyFailed=true", ``},
		{2, "/connectors/a/stop", ``},
		{3, "/connectors/a/offsets", `{"offsets":[{"partition":{"f":"x"},"offset":{"o":1}}]}`},
		{4, "/connectors/a/offsets", ``},
		{2, "/connectors/a/pause", ``},
		{2, "/connectors/a/resume", ``},
		{0, "/connectors/a/topics", ``},
		{2, "/connectors/a/topics/reset", ``},
		{4, "/connectors/a", ``},
		{2, "/connector-plugins/Idle/config/validate", `{"connector.class":"Idle"}`},
		{0, "/connector-plugins?connectorsOnly=false", ``},
		{0, "/connector-plugins/JsonConverter/config", ``},
		{2, "/admin/loggers/connect", `{"level":"DEBUG"}`},
		{0, "//x/../", ``},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}
	handler, h := fuzzWorker(f)
	f.Fuzz(func(t *testing.T, method byte, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		req, err := http.NewRequest(m, "http://worker"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		code := serve(t, handler, req)
		if code >= 500 {
			t.Fatalf("%s %q with body %q answered %d", m, path, body, code)
		}
		checkWorkerConsistent(t, handler, h)
	})
}

func fuzzWorker(f *testing.F) (http.Handler, *connect.Standalone) {
	reg := connect.NewRegistry()
	if err := reg.Register(connect.Plugin{Class: "com.example.IdleSourceConnector", Aliases: []string{"Idle"}, Type: connect.PluginSource, Version: "1.0",
		New: func() connect.Connector { return idleSource{} }}); err != nil {
		f.Fatal(err)
	}
	cfg, err := connect.ParseWorkerConfig(map[string]string{"bootstrap.servers": "127.0.0.1:1", "offset.storage.file.filename": filepath.Join(f.TempDir(), "offsets.json")})
	if err != nil {
		f.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := connect.NewStandalone(cfg, connect.Options{Registry: reg, Logger: logger})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	return connect.NewServer(h, "fuzz", logger).Handler(), h
}

// serve runs one request through the handler, bounded in time, and returns its status. A panic
// escaping the handler fails the test.
func serve(t *testing.T, handler http.Handler, req *http.Request) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("%s %q: handler panicked: %v", req.Method, req.URL, v)
			}
		}()
		handler.ServeHTTP(rec, req.WithContext(ctx))
	}()
	return rec.Code
}

func checkWorkerConsistent(t *testing.T, handler http.Handler, h *connect.Standalone) {
	t.Helper()
	get := func(path string) (int, any) {
		req := httptest.NewRequest("GET", "http://worker"+path, nil)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		var v any
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return rec.Code, v
	}
	names := h.Connectors()
	for _, n := range names {
		if n == "" || n == "." || n == ".." || strings.ContainsFunc(n, unicode.IsControl) {
			t.Fatalf("the worker holds a connector the API should have refused: %q", n)
		}
		for _, p := range []string{"", "/status", "/config", "/tasks"} {
			if code, v := get("/connectors/" + url.PathEscape(n) + p); code != 200 {
				t.Fatalf("connector %q is listed but GET %s answers %d: %v", n, p, code, v)
			}
		}
	}
	code, v := get("/connectors?expand=status")
	m, _ := v.(map[string]any)
	if code != 200 || len(m) != len(names) {
		t.Fatalf("GET /connectors?expand=status: %d with %d entries for %d connectors (%s)", code, len(m), len(names), fmt.Sprint(v))
	}
}
