package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
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

const protobufMainFile = "gregor_schema_registry_candidate.proto"

func (protobufFormat) parse(schema string, refs []resolvedRef) (parsedSchema, error) {
	sources := map[string]string{protobufMainFile: schema}
	for _, r := range refs {
		sources[r.name] = r.schema
	}
	var errs []error
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if s, ok := sources[path]; ok {
					return io.NopCloser(strings.NewReader(s)), nil
				}
				if s, ok := compiled.KnownDependency(path); ok {
					return io.NopCloser(strings.NewReader(s)), nil
				}
				return nil, fmt.Errorf("import %q is not a reference of the schema", path)
			},
		}),
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			errs = append(errs, err)
			return nil
		}, nil),
	}
	files, err := compiler.Compile(context.Background(), protobufMainFile)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	// NB: the stored text is the submitted text with trailing space trimmed; Confluent stores its
	// own normalised rendering, which no Go library reproduces, so equal texts share an id.
	return &protobufSchema{text: strings.TrimSpace(schema), file: files[0]}, nil
}
