package schemaregistry

import "testing"

func TestEquivalentSchemaTextsShareAnID(t *testing.T) {
	for _, c := range []struct {
		schemaType, a, b string
		same             bool
	}{
		{TypeAvro, `"string"`, `{"type":"string"}`, true},
		{TypeAvro, `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"int"}}]}`, `{"name":"R","type":"record","fields":[{"type":"int","name":"a"}]}`, true},
		{TypeAvro, `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":{"type":"int"}}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"int"}]}`, false},
		{TypeAvro, `{"type":"long","logicalType":"timestamp-millis"}`, `"long"`, false},
		{TypeJSON, `{"type":"object", "properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"type":"object"}`, true},
		{TypeJSON, `{"type":"string"}`, `{"type":"integer"}`, false},
		{TypeProtobuf, "syntax = \"proto3\";\nmessage M {}\n", "syntax = \"proto3\";\nmessage M {}", true},
	} {
		got := contentKey(c.schemaType, c.a, nil) == contentKey(c.schemaType, c.b, nil)
		if got != c.same {
			t.Errorf("%s %s vs %s: same = %v, want %v", c.schemaType, c.a, c.b, got, c.same)
		}
	}
}
