package schemaregistry

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkSchemaByIDHTTP measures GET /schemas/ids/{id} over loopback HTTP with keep-alive: the
// lookup a deserializer does on a cache miss, served from the registry's in-memory state.
func BenchmarkSchemaByIDHTTP(b *testing.B) {
	_, s := startBrokerAndRegistry(b)
	if st, body := call(b, "POST", s.URL()+"/subjects/bench-value/versions", ContentType, schemaBody("", userV2)); st != 200 {
		b.Fatalf("register: %d %s", st, body)
	}
	url := s.URL() + "/schemas/ids/1"
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkSchemaByIDState measures the in-memory id → schema lookup behind that endpoint.
func BenchmarkSchemaByIDState(b *testing.B) {
	st := newState()
	for id := 1; id <= 1000; id++ {
		v := schemaValue{Subject: "s", Version: id, ID: id, Schema: userV2}
		if err := st.apply(int64(id), schemaKey("s", id), mustJSON(v)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if st.schemaByID(i%1000+1) == nil {
			b.Fatal("missing")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
