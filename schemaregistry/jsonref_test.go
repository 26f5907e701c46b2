package schemaregistry

import "testing"

// TestJSONSchemaRefsResolveOnlyToReferences: a $ref reaches a referenced schema by its reference
// name (relative or absolute) and nothing else — not a missing name, not a local file.
func TestJSONSchemaRefsResolveOnlyToReferences(t *testing.T) {
	f := jsonFormat{}
	address := `{"type":"object","properties":{"city":{"type":"string"}}}`
	for _, name := range []string{"address.json", "https://example.com/address.json"} {
		if _, err := f.parse(`{"type":"object","properties":{"a":{"$ref":"`+name+`"}}}`, []resolvedRef{{name: name, schema: address}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, draft := range []string{"http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2020-12/schema"} {
		if _, err := f.parse(`{"$schema":"`+draft+`","type":"string"}`, nil); err != nil {
			t.Errorf("%s: %v", draft, err)
		}
	}
	for _, ref := range []string{"missing.json", "file:///etc/hostname", "https://example.com/x.json"} {
		if _, err := f.parse(`{"type":"object","properties":{"a":{"$ref":"`+ref+`"}}}`, nil); err == nil {
			t.Errorf("$ref %s resolved without a reference", ref)
		}
	}
}
