package console

import (
	"encoding/json"
	"testing"
)

func TestRenderPicksTheFormat(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{nil, "null"},
		{[]byte(""), "text"},
		{[]byte("hello"), "text"},
		{[]byte(`{"a":1}`), "json"},
		{[]byte(`[1,2]`), "json"},
		{[]byte(`{"a":`), "text"},
		{[]byte{0xde, 0xad, 0xbe, 0xef}, "hex"},
		{[]byte("bell\x07"), "hex"},
		{[]byte(`{"schema":{},"payload":{"before":null,"after":{"id":1},"op":"c"}}`), "debezium"},
		{[]byte(`{"op":"c","after":{"id":1}}`), "debezium"},
		{[]byte(`{"op":"c"}`), "json"},
	} {
		if got := render(c.in); got.Format != c.want {
			t.Errorf("render(%q) = %s, want %s", c.in, got.Format, c.want)
		}
	}
}

// FuzzRender: any bytes render without panicking, and the answer encodes as JSON.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "x", `{"a":1}`, `{"payload":{"op":"u","before":{},"after":{}}}`, "\x00\xff", `{"op":1,"before":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := json.Marshal(render(b)); err != nil {
			t.Fatalf("render(%q) does not encode: %v", b, err)
		}
	})
}

func BenchmarkRenderJSON(b *testing.B) {
	v := []byte(`{"id":123,"item":"apple","qty":3,"customer":{"name":"Ada","city":"London"},"tags":["a","b"]}`)
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		render(v)
	}
}
