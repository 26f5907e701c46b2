package connect

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// FuzzDecodeRESTBodies feeds arbitrary bytes to the REST body decoders: they return an error or a
// value and never panic.
func FuzzDecodeRESTBodies(f *testing.F) {
	for _, s := range []string{`{"name":"a","config":{"k":"v","n":1,"b":true},"initial_state":"PAUSED"}`,
		`{"config":null}`, `{"a":null}`, `[1]`, `{"name":`, ``, `{"level":"DEBUG"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req createRequest
		_ = decodeBody(httptest.NewRequest("POST", "/connectors", bytes.NewReader(data)), &req)
		var cfg configMap
		_ = decodeBody(httptest.NewRequest("PUT", "/x", bytes.NewReader(data)), &cfg)
		var patch map[string]*string
		_ = decodeBody(httptest.NewRequest("PATCH", "/x", bytes.NewReader(data)), &patch)
	})
}
