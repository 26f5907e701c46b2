package recordjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonSchemaBase is where references without an absolute URL are placed, so a "$ref" naming a
// reference resolves to it.
const jsonSchemaBase = "https://schema-registry.gregor.invalid/"

type jsonSchemaCodec struct {
	schema *jsonschema.Schema
}

// compileJSONSchema compiles a JSON Schema with its references as the only documents a $ref
// may reach (no file or network loads).
func compileJSONSchema(schema string, refs []reference) (compiled, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(refsOnly{})
	for _, r := range refs {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.schema))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
		if err := c.AddResource(referenceURL(r.name), doc); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.name, err)
		}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil, err
	}
	self := referenceURL("gregor-recordjson-schema.json")
	if err := c.AddResource(self, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(self)
	if err != nil {
		return nil, err
	}
	return &jsonSchemaCodec{schema: s}, nil
}

func referenceURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return name
	}
	return jsonSchemaBase + strings.TrimPrefix(name, "/")
}

type refsOnly struct{}

func (refsOnly) Load(u string) (any, error) {
	return nil, fmt.Errorf("$ref %s is not one of the schema's references", u)
}

// encode validates the JSON against the schema and writes it compacted after the header.
func (j *jsonSchemaCodec) encode(dst []byte, id int, text []byte) ([]byte, error) {
	if err := j.validate(text); err != nil {
		return nil, err
	}
	dst = serde.AppendHeader(dst, uint32(id))
	var buf bytes.Buffer
	if err := json.Compact(&buf, text); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrData, err)
	}
	return append(dst, buf.Bytes()...), nil
}

// decode validates the payload too: a record that breaks its own schema is reported, not printed
// as if it were fine.
func (j *jsonSchemaCodec) decode(framed []byte) ([]byte, error) {
	payload := framed[serde.HeaderSize:]
	if err := j.validate(payload); err != nil {
		return nil, err
	}
	return payload, nil
}

func (j *jsonSchemaCodec) validate(text []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		return fmt.Errorf("%w: not JSON: %v", ErrData, err)
	}
	if err := j.schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: %s", ErrData, validationMessage(ve))
		}
		return fmt.Errorf("%w: %v", ErrData, err)
	}
	return nil
}

// validationMessage names the failures with their JSON pointers ("at '/amount': got string, want
// integer"), not the whole tree of schema locations.
func validationMessage(ve *jsonschema.ValidationError) string {
	var leaves []string
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		leaves = append(leaves, fmt.Sprintf("at '%s': %s", loc, u.Error))
	}
	if len(leaves) == 0 {
		return ve.Error()
	}
	return strings.Join(leaves, "; ")
}
