package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	for _, r := range refs {
		rdoc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.schema))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
		if err := c.AddResource(r.name, rdoc); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
	}
	const self = "urn:gregor:schema-registry:candidate"
	if err := c.AddResource(self, doc); err != nil {
		return nil, err
	}
	if _, err := c.Compile(self); err != nil {
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
