package streamserde

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
)

// JSONSchema is a Serde[T] of JSON documents described by a JSON Schema, in the Confluent wire
// format as Confluent's KafkaJsonSchemaSerde writes them: magic byte, schema id, the document
// (encoding/json's form of T: a struct with json tags, map[string]any, ...). With
// Options.Validate each document written is validated against the schema and each read against
// its writer's schema; otherwise, as Confluent's default, the schema is registered and documents
// are not checked per record. It is safe for concurrent use.
type JSONSchema[T any] struct {
	reg      *Registry
	subject  string
	id       int
	header   [serde.HeaderSize]byte
	schema   *jsonschema.Schema
	validate bool
}

// NewJSONSchema returns a JSON Schema serde writing T under subject with schema, registered (or
// looked up) now.
func NewJSONSchema[T any](reg *Registry, subject, schema string, opts Options) (*JSONSchema[T], error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeJSON, References: opts.References}
	c, err := reg.compile(subject, s)
	if err != nil {
		return nil, err
	}
	id, err := reg.register(subject, s, opts.LookupOnly)
	if err != nil {
		return nil, err
	}
	j := &JSONSchema[T]{reg: reg, subject: subject, id: id, schema: c.JSON, validate: opts.Validate}
	copy(j.header[:], serde.AppendHeader(nil, uint32(id)))
	return j, nil
}

// ID returns the writer schema's registry id.
func (j *JSONSchema[T]) ID() int { return j.id }

// Serialize implements statestore.Serde.
func (j *JSONSchema[T]) Serialize(v T) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(j.header[:])
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("streamserde: subject %s: %w", j.subject, err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if j.validate {
		if err := validateJSON(j.schema, out[serde.HeaderSize:]); err != nil {
			return nil, fmt.Errorf("streamserde: subject %s: schema %d: %w", j.subject, j.id, err)
		}
	}
	return out, nil
}

// Deserialize implements statestore.Serde.
func (j *JSONSchema[T]) Deserialize(b []byte) (T, error) {
	var v T
	id, payload, err := serde.Decode(b)
	if err != nil {
		return v, err
	}
	if j.validate || int(id) != j.id {
		// NB: a record of another id is checked to be JSON Schema even without Validate, so an
		// Avro or Protobuf record is not misread as JSON.
		s, err := j.reg.byID(int(id), sr.TypeJSON)
		if err != nil {
			return v, err
		}
		if j.validate {
			if err := validateJSON(s.JSON, payload); err != nil {
				return v, fmt.Errorf("streamserde: schema %d: %w", id, err)
			}
		}
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		return v, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	return v, nil
}

func validateJSON(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
