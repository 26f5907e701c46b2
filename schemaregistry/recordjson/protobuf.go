package recordjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

type protobufCodec struct {
	file protoreflect.FileDescriptor
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
	md, err := compiled.MessageAt(p.file, indexes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	msg := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, msg); err != nil {
		return nil, fmt.Errorf("%w: decoding Protobuf message %s: %v", ErrData, md.FullName(), err)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: message %s as JSON: %v", ErrData, md.FullName(), err)
	}
	// NB: protojson varies its spacing on purpose (so nobody relies on its bytes); a console
	// prints one stable form.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("%w: message %s as JSON: %v", ErrData, md.FullName(), err)
	}
	return buf.Bytes(), nil
}
