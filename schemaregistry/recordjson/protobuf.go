package recordjson

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoMainFile is the name the schema itself compiles under; references compile under their
// reference names, which are the names the schema imports.
const protoMainFile = "gregor_recordjson_schema.proto"

type protobufCodec struct {
	file protoreflect.FileDescriptor
}

// compileProtobuf compiles a .proto schema with its references as its imports (google/protobuf
// well-known types built in).
func compileProtobuf(schema string, refs []reference) (compiled, error) {
	sources := map[string]string{protoMainFile: schema}
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
	if files[0].Messages().Len() == 0 {
		return nil, errors.New("the Protobuf schema has no message")
	}
	return &protobufCodec{file: files[0]}, nil
}

// encode writes the file's first message, message indexes [0], as Confluent's serializers do
// by default.
func (p *protobufCodec) encode(dst []byte, id int, text []byte) ([]byte, error) {
	md := p.file.Messages().Get(0)
	msg := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(text, msg); err != nil {
		return nil, fmt.Errorf("%w: message %s: %v", ErrData, md.FullName(), strings.TrimPrefix(err.Error(), "proto: "))
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: message %s: %v", ErrData, md.FullName(), err)
	}
	dst = serde.AppendProtobufHeader(dst, uint32(id), []int{0})
	return append(dst, enc...), nil
}

// decode finds the message of the record's message indexes and writes it with the proto3 JSON
// mapping, field names as the .proto spells them.
func (p *protobufCodec) decode(framed []byte) ([]byte, error) {
	_, indexes, payload, err := serde.DecodeProtobuf(framed)
	if err != nil {
		return nil, err
	}
	msgs := p.file.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range indexes {
		if i >= msgs.Len() {
			return nil, fmt.Errorf("%w: message indexes %v are not in the schema", ErrData, indexes)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, msg); err != nil {
		return nil, fmt.Errorf("%w: decoding Protobuf message %s: %v", ErrData, md.FullName(), err)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: message %s as JSON: %v", ErrData, md.FullName(), err)
	}
	return out, nil
}
