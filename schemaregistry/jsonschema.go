package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
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
	// NB: a $ref resolves only to the schema's references, never to a file or URL the registry
	// would fetch.
	c.UseLoader(noLoader{})
	for _, r := range refs {
		rdoc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.schema))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
		if err := c.AddResource(jsonReferenceURL(r.name), rdoc); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
	}
	self := jsonReferenceURL("gregor-schema-registry-candidate.json")
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

// jsonReferenceBase is the base URL a schema and its references are compiled under, so a relative
// reference name ("address.json") resolves against the referencing schema as Confluent's does.
const jsonReferenceBase = "https://schema-registry.gregor.invalid/"

func jsonReferenceURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return name
	}
	return jsonReferenceBase + strings.TrimPrefix(name, "/")
}

// noLoader refuses every URL: references are the only schemas a JSON Schema may use.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("$ref %s is not one of the schema's references", u)
}
