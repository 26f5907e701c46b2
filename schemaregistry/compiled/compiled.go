// Package compiled fetches a schema from a Schema Registry, with the schemas it references, and
// compiles it for its format — a hamba/avro schema, a Protobuf file descriptor
// (bufbuild/protocompile) or a JSON Schema validator (santhosh-tekuri/jsonschema) — so the
// client-side serdes and codecs share one way of reading the registry's schemas.
package compiled

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxReferences bounds the schemas one schema may pull in through references (transitively),
// so a reference cycle or a hostile registry cannot make a fetch loop forever.
const maxReferences = 256

// Schema is one registry schema compiled for its format: the field of its Type is set.
type Schema struct {
	Type sr.SchemaType
	// Avro is the parsed Avro schema (its references parsed into the same name cache).
	Avro avro.Schema
	// Protobuf is the compiled .proto file (its references compiled as its imports).
	Protobuf protoreflect.FileDescriptor
	// JSON validates documents (its references the only documents a $ref reaches).
	JSON *jsonschema.Schema
}

// Fetch returns schema id from the registry, compiled with its references. A registry error
// keeps the registry's error code and message (sr.ResponseError).
func Fetch(ctx context.Context, cl *sr.Client, id int) (*Schema, error) {
	s, err := cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, RegistryError(err))
	}
	c, err := Compile(ctx, cl, s)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return c, nil
}

// Compile compiles s, fetching its references from the registry.
func Compile(ctx context.Context, cl *sr.Client, s sr.Schema) (*Schema, error) {
	refs, err := references(ctx, cl, s.References)
	if err != nil {
		return nil, err
	}
	out := &Schema{Type: s.Type}
	switch s.Type {
	case sr.TypeAvro:
		out.Avro, err = ParseAvro(s.Schema, refs)
	case sr.TypeProtobuf:
		out.Protobuf, err = CompileProtobuf(s.Schema, refs)
		if err == nil && out.Protobuf.Messages().Len() == 0 {
			err = errors.New("the Protobuf schema has no message")
		}
	case sr.TypeJSON:
		out.JSON, err = CompileJSONSchema(s.Schema, refs)
	default:
		err = fmt.Errorf("schema type %s is not supported", s.Type)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RegistryError words a registry's error response as Confluent's clients do: the error code and
// the registry's own message. The *sr.ResponseError stays in the chain.
func RegistryError(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && re.ErrorCode != 0 {
		return fmt.Errorf("schema registry error %d: %w", re.ErrorCode, err)
	}
	return err
}

// Ref is one schema a schema refers to: its text under the name the referencing schema imports
// it by (a Protobuf import path, a JSON Schema $ref, an Avro reference's name). A list of them is
// in dependency order: a schema comes after the ones it refers to.
type Ref struct {
	Name   string
	Schema string
}

// references fetches refs and what they refer to, depth first, so each schema comes after the
// ones it refers to; each (subject, version) is fetched once.
func references(ctx context.Context, cl *sr.Client, refs []sr.SchemaReference) ([]Ref, error) {
	var out []Ref
	seen := map[string]bool{}
	var visit func(refs []sr.SchemaReference, depth int) error
	visit = func(refs []sr.SchemaReference, depth int) error {
		for _, r := range refs {
			key := fmt.Sprintf("%s\x00%d", r.Subject, r.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			if len(seen) > maxReferences || depth > maxReferences {
				return fmt.Errorf("more than %d references", maxReferences)
			}
			ss, err := cl.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %s version %d): %w", r.Name, r.Subject, r.Version, RegistryError(err))
			}
			if err := visit(ss.References, depth+1); err != nil {
				return err
			}
			out = append(out, Ref{Name: r.Name, Schema: ss.Schema.Schema})
		}
		return nil
	}
	if err := visit(refs, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseAvro parses an Avro schema after its references, all in one name cache of their own (a
// reference defines the named types the schema uses; two schemas' versions of one name must not
// see each other, as they would in hamba/avro's global cache).
func ParseAvro(schema string, refs []Ref) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if _, err := avro.ParseWithCache(r.Schema, "", cache); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
	}
	return avro.ParseWithCache(schema, "", cache)
}

// protoMainFile is the name the schema itself compiles under; references compile under their
// reference names, which are the names the schema imports.
const protoMainFile = "gregor_registry_schema.proto"

// CompileProtobuf compiles a .proto schema with its references as its imports; the
// google/protobuf well-known types and Confluent's known dependencies (KnownDependency) resolve
// without one. An error lists every problem the compiler found.
func CompileProtobuf(schema string, refs []Ref) (protoreflect.FileDescriptor, error) {
	sources := map[string]string{protoMainFile: schema}
	for _, r := range refs {
		sources[r.Name] = r.Schema
	}
	var errs []error
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if s, ok := sources[path]; ok {
					return io.NopCloser(strings.NewReader(s)), nil
				}
				if s, ok := KnownDependency(path); ok {
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
	files, err := compiler.Compile(context.Background(), protoMainFile)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

// jsonSchemaBase is where references without an absolute URL are placed, so a "$ref" naming a
// reference resolves to it.
const jsonSchemaBase = "https://schema-registry.gregor.invalid/"

// CompileJSONSchema compiles a JSON Schema with its references as the only documents a $ref
// may reach (no file or network loads).
func CompileJSONSchema(schema string, refs []Ref) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(refsOnly{})
	for _, r := range refs {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.Schema))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
		if err := c.AddResource(ReferenceURL(r.Name), doc); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		return nil, err
	}
	self := ReferenceURL("gregor-registry-schema.json")
	if err := c.AddResource(self, doc); err != nil {
		return nil, err
	}
	return c.Compile(self)
}

// ReferenceURL is where a JSON Schema reference named name is placed, so a "$ref" naming it
// resolves to it: the name itself when it is an absolute URL.
func ReferenceURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return name
	}
	return jsonSchemaBase + strings.TrimPrefix(name, "/")
}

// refsOnly refuses every URL: references are the only documents a JSON Schema may use.
type refsOnly struct{}

func (refsOnly) Load(u string) (any, error) {
	return nil, fmt.Errorf("$ref %s is not one of the schema's references", u)
}

// MessageAt returns the message Confluent's message indexes name in fd: the first index picks a
// top-level message, each next one a message nested in the previous.
func MessageAt(fd protoreflect.FileDescriptor, indexes []int) (protoreflect.MessageDescriptor, error) {
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range indexes {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("message indexes %v are not in the schema", indexes)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	if md == nil {
		return nil, errors.New("no message indexes")
	}
	return md, nil
}

// MessageIndexes returns the message indexes of the message named name in fd, or false.
func MessageIndexes(fd protoreflect.FileDescriptor, name protoreflect.FullName) ([]int, bool) {
	var find func(msgs protoreflect.MessageDescriptors, path []int) []int
	find = func(msgs protoreflect.MessageDescriptors, path []int) []int {
		for i := 0; i < msgs.Len(); i++ {
			m := msgs.Get(i)
			p := append(append([]int(nil), path...), i)
			if m.FullName() == name {
				return p
			}
			if found := find(m.Messages(), p); found != nil {
				return found
			}
		}
		return nil
	}
	idx := find(fd.Messages(), nil)
	return idx, idx != nil
}
