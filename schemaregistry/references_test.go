package schemaregistry

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestReferencesMetadataAndRuleSetAreKept registers an Avro schema that references another
// subject's type, with metadata and a ruleSet, and reads them all back.
func TestReferencesMetadataAndRuleSetAreKept(t *testing.T) {
	_, s := startBrokerAndRegistry(t)
	u := s.URL()
	address := `{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"city","type":"string"}]}`
	if st, body := call(t, "POST", u+"/subjects/address/versions", ContentType, schemaBody("", address)); st != 200 {
		t.Fatalf("address: %d %s", st, body)
	}
	customer := `{"type":"record","name":"Customer","namespace":"com.example","fields":[{"name":"home","type":"com.example.Address"}]}`
	req, _ := json.Marshal(map[string]any{
		"schema":     customer,
		"references": []Reference{{Name: "com.example.Address", Subject: "address", Version: 1}},
		"metadata":   map[string]any{"properties": map[string]string{"owner": "team-a"}},
		"ruleSet":    map[string]any{"domainRules": []any{map[string]any{"name": "checkCity", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.home.city != ''"}}},
	})
	st, body := call(t, "POST", u+"/subjects/customer/versions", ContentType, string(req))
	if st != 200 || body != `{"id":2}` {
		t.Fatalf("customer: %d %s", st, body)
	}
	// Without its reference the schema does not parse: 42201.
	st, body = call(t, "POST", u+"/subjects/customer2/versions", ContentType, schemaBody("", customer))
	expect(t, st, body, 422, codeInvalidSchema)

	_, body = call(t, "GET", u+"/subjects/customer/versions/1", "", "")
	for _, want := range []string{`"references":[{"name":"com.example.Address","subject":"address","version":1}]`, `"owner":"team-a"`, `"checkCity"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("version lacks %s: %s", want, body)
		}
	}
	if _, body = call(t, "GET", u+"/subjects/address/versions/1/referencedby", "", ""); body != `[2]` {
		t.Fatalf("referencedby: %s", body)
	}
	st, body = call(t, "DELETE", u+"/subjects/address/versions/1", "", "")
	expect(t, st, body, 422, codeReferenceExists)
	st, body = call(t, "POST", u+"/subjects/customer", ContentType, string(req))
	if st != 200 || !strings.Contains(body, `"id":2`) {
		t.Fatalf("lookup with references: %d %s", st, body)
	}
}
