package schemaregistry

import (
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// protobufFormat parses .proto text with bufbuild/protocompile (a pure-Go compiler that produces
// the same descriptors protoc does, with full type checking) and checks Confluent's Protobuf rules.
type protobufFormat struct{}

type protobufSchema struct {
	text string
	file protoreflect.FileDescriptor
}

func (p *protobufSchema) canonical() string { return p.text }

func (protobufFormat) parse(schema string, refs []resolvedRef) (parsedSchema, error) {
	file, err := compiled.CompileProtobuf(schema, compiledRefs(refs))
	if err != nil {
		return nil, err
	}
	// NB: the stored text is the submitted text with trailing space trimmed; Confluent stores its
	// own normalised rendering, which no Go library reproduces, so equal texts share an id.
	return &protobufSchema{text: strings.TrimSpace(schema), file: file}, nil
}
