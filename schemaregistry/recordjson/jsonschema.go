package recordjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

type jsonSchemaCodec struct {
	schema *jsonschema.Schema
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

// decode returns the document compacted. NB: it is not validated: as Confluent's deserializer by
// default (json.fail.invalid.schema=false), a consumer shows what producers wrote.
func (j *jsonSchemaCodec) decode(framed []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, framed[serde.HeaderSize:]); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrData, err)
	}
	return buf.Bytes(), nil
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
