package schemaregistry

import (
	"bytes"
	"encoding/json"
	"strings"
)

// normalizeForComparison is the form two schema texts are compared in to decide whether they are
// the same schema (same id): JSON schemas with object keys sorted and insignificant whitespace
// gone, and for Avro a primitive written as {"type":"int"} folded to "int" (Avro's own
// equivalence); Protobuf text trimmed. The stored text is not changed: a client reads back what
// it registered. Text that is not JSON compares as is.
func normalizeForComparison(schemaType, schema string) string {
	if schemaType == TypeProtobuf {
		return strings.TrimSpace(schema)
	}
	dec := json.NewDecoder(strings.NewReader(schema))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return schema
	}
	if schemaType == TypeAvro {
		doc = foldAvroPrimitives(doc)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return schema
	}
	return strings.TrimSpace(buf.String())
}

var avroPrimitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true}

func foldAvroPrimitives(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["type"].(string); ok && len(x) == 1 && avroPrimitives[t] {
			return t
		}
		for k, sub := range x {
			// NB: default values are data, not schemas: they are left alone.
			if k != "default" {
				x[k] = foldAvroPrimitives(sub)
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = foldAvroPrimitives(x[i])
		}
		return x
	}
	return v
}
