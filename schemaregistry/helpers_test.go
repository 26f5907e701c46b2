package schemaregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// startRegistry starts a registry instance on a free port against the broker at bootstrap.
func startRegistry(t testing.TB, bootstrap string, opts ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{BootstrapServers: []string{bootstrap}, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startBrokerAndRegistry(t testing.TB) (*testbroker.Broker, *Server) {
	t.Helper()
	b := testbroker.Start(t)
	return b, startRegistry(t, b.Addr())
}

// call does one HTTP request and returns the status and body.
func call(t testing.TB, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// errorCode reads Confluent's error_code from an error body.
func errorCode(t testing.TB, body string) int {
	t.Helper()
	var e struct {
		Code int `json:"error_code"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Code
}

// schemaBody is a register/lookup body for a schema text.
func schemaBody(schemaType, schema string) string {
	var buf bytes.Buffer
	m := map[string]any{"schema": schema}
	if schemaType != "" {
		m["schemaType"] = schemaType
	}
	_ = json.NewEncoder(&buf).Encode(m)
	return buf.String()
}
