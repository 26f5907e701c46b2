package connect_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
)

// startWorker starts a standalone worker against tb with a fast offset flush.
func startWorker(t *testing.T, tb *testbroker.Broker, reg *connect.Registry, offsetsFile string) *connect.Runner {
	t.Helper()
	return testconnect.StartStandalone(t, tb.Addr(), reg, offsetsFile, nil)
}

type restClient struct {
	t    *testing.T
	base string
}

// do sends a request with a raw body and returns the status and the decoded JSON body (nil if empty).
func (c restClient) do(method, path, body string) (int, any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		c.t.Fatalf("%s %s: body is not JSON: %q", method, path, data)
	}
	return resp.StatusCode, v
}

// expect asserts the status code and returns the body.
func (c restClient) expect(code int, method, path, body string) any {
	c.t.Helper()
	got, v := c.do(method, path, body)
	if got != code {
		c.t.Fatalf("%s %s: status %d, want %d; body %v", method, path, got, code, v)
	}
	return v
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
