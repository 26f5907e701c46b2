package schemaregistry

import (
	"fmt"
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
)

// The schema types, as Confluent names them in `schemaType`.
const (
	TypeAvro     = "AVRO"
	TypeJSON     = "JSON"
	TypeProtobuf = "PROTOBUF"
)

// parsedSchema is a schema that parsed; canonical is the text the registry stores and compares.
type parsedSchema interface {
	canonical() string
}

// resolvedRef is a referenced schema's text under the name the referencing schema imports it by.
// A list of them is in dependency order: a schema comes after the ones it references.
type resolvedRef struct {
	name   string
	schema string
}

// compiledRefs is refs as the compiled package takes them.
func compiledRefs(refs []resolvedRef) []compiled.Ref {
	out := make([]compiled.Ref, len(refs))
	for i, r := range refs {
		out[i] = compiled.Ref{Name: r.name, Schema: r.schema}
	}
	return out
}

// schemaFormat parses and compares schemas of one type.
type schemaFormat interface {
	// parse parses schema, whose references are refs; an error says why it is invalid.
	parse(schema string, refs []resolvedRef) (parsedSchema, error)
	// canRead lists why a consumer holding reader cannot read data written with writer (none when it
	// can). readerName and writerName ("new", "old") are used in the descriptions.
	canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue
}

// compatIssue is one broken rule, with Confluent's error type.
type compatIssue struct {
	errorType      string
	description    string
	additionalInfo string
}

func (c compatIssue) String() string {
	return fmt.Sprintf("{errorType:'%s', description:'%s', additionalInfo:'%s'}", c.errorType, c.description,
		c.additionalInfo)
}

var formats = map[string]schemaFormat{
	TypeAvro:     avroFormat{},
	TypeJSON:     jsonFormat{},
	TypeProtobuf: protobufFormat{},
}

// formatOf returns the format for a `schemaType` ("" is Avro).
func formatOf(schemaType string) (schemaFormat, string, bool) {
	t := strings.ToUpper(schemaType)
	if t == "" {
		t = TypeAvro
	}
	f, ok := formats[t]
	return f, t, ok
}
