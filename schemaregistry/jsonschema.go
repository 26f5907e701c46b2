package schemaregistry

import (
	"bytes"
	"encoding/json"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
)

// jsonFormat parses JSON Schema with santhosh-tekuri/jsonschema (it compiles every draft, so a
// schema it accepts is one a validator can use) and checks Confluent's JSON Schema rules.
type jsonFormat struct{}

type jsonSchema struct {
	text string
	doc  any
}

func (j *jsonSchema) canonical() string { return j.text }

func (jsonFormat) parse(schema string, refs []resolvedRef) (parsedSchema, error) {
	// NB: a $ref resolves only to the schema's references, never to a file or URL the registry
	// would fetch.
	if _, err := compiled.CompileJSONSchema(schema, compiledRefs(refs)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(schema)); err != nil {
		return nil, err
	}
	var plain any
	if err := json.Unmarshal([]byte(schema), &plain); err != nil {
		return nil, err
	}
	return &jsonSchema{text: buf.String(), doc: plain}, nil
}
