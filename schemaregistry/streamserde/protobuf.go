package streamserde

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// marshal is deterministic so equal messages make equal bytes (a compacted topic's keys, a
// store's keys).
var marshal = proto.MarshalOptions{Deterministic: true}

// protoWriter is what both Protobuf serdes write with: the registered id and the message's frame.
type protoWriter struct {
	reg     *Registry
	subject string
	id      int
	md      protoreflect.MessageDescriptor
	header  []byte // magic byte, id, message indexes
}

// newProtoWriter registers (or looks up) schema under subject and finds the message named name
// in it (the first message when name is empty).
func newProtoWriter(reg *Registry, subject, schema string, name protoreflect.FullName, opts Options) (*protoWriter, error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeProtobuf, References: opts.References}
	c, err := reg.compile(subject, s)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = c.Protobuf.Messages().Get(0).FullName()
	}
	indexes, ok := compiled.MessageIndexes(c.Protobuf, name)
	if !ok {
		return nil, fmt.Errorf("streamserde: subject %s: the schema has no message %s", subject, name)
	}
	md, _ := compiled.MessageAt(c.Protobuf, indexes)
	id, err := reg.register(subject, s, opts.LookupOnly)
	if err != nil {
		return nil, err
	}
	return &protoWriter{reg: reg, subject: subject, id: id, md: md,
		header: serde.AppendProtobufHeader(nil, uint32(id), indexes)}, nil
}

func (w *protoWriter) serialize(m proto.Message) ([]byte, error) {
	out := make([]byte, len(w.header), len(w.header)+marshal.Size(m))
	copy(out, w.header)
	out, err := marshal.MarshalAppend(out, m)
	if err != nil {
		return nil, fmt.Errorf("streamserde: subject %s: %w", w.subject, err)
	}
	return out, nil
}

// writerMessage returns the message a framed record was written as, by its schema id and
// message indexes, and its payload.
func (w *protoWriter) writerMessage(b []byte) (protoreflect.MessageDescriptor, []byte, error) {
	id, indexes, payload, err := serde.DecodeProtobuf(b)
	if err != nil {
		return nil, nil, err
	}
	s, err := w.reg.byID(int(id), sr.TypeProtobuf)
	if err != nil {
		return nil, nil, err
	}
	md, err := compiled.MessageAt(s.Protobuf, indexes)
	if err != nil {
		return nil, nil, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	return md, payload, nil
}

// Protobuf is a Serde[T] of generated Protobuf messages in the Confluent wire format, as
// Confluent's KafkaProtobufSerde writes them: magic byte, schema id, message indexes, the
// message. It reads any record whose writer message has T's full name (Protobuf's own rules make
// older and newer versions of a message read into T). It is safe for concurrent use.
type Protobuf[T proto.Message] struct {
	w *protoWriter
	// checked holds, per schema id, the message indexes (as their encoded bytes) already seen to
	// name T's message; replaced, never changed, so a known frame takes no lock and no registry call.
	checked atomic.Pointer[map[uint32]map[string]bool]
	mu      struct {
		sync.Mutex // serializes misses of checked
	}
}

// NewProtobuf returns a Protobuf serde writing T under subject with schema, the .proto text of
// T's file (Confluent registers the file of the generated class; give the same text); schema
// must define T's message. The schema is registered (or looked up) now.
func NewProtobuf[T proto.Message](reg *Registry, subject, schema string, opts Options) (*Protobuf[T], error) {
	var zero T
	w, err := newProtoWriter(reg, subject, schema, zero.ProtoReflect().Descriptor().FullName(), opts)
	if err != nil {
		return nil, err
	}
	p := &Protobuf[T]{w: w}
	p.checked.Store(&map[uint32]map[string]bool{})
	return p, nil
}

// ID returns the writer schema's registry id.
func (p *Protobuf[T]) ID() int { return p.w.id }

// Serialize implements statestore.Serde.
func (p *Protobuf[T]) Serialize(v T) ([]byte, error) { return p.w.serialize(v) }

// Deserialize implements statestore.Serde.
func (p *Protobuf[T]) Deserialize(b []byte) (T, error) {
	var zero T
	id, _, payload, err := serde.DecodeProtobuf(b)
	if err != nil {
		return zero, err
	}
	frame := b[serde.HeaderSize : len(b)-len(payload)]
	if !(*p.checked.Load())[id][string(frame)] {
		if err := p.check(b, id, frame); err != nil {
			return zero, err
		}
	}
	v := zero.ProtoReflect().New().Interface().(T)
	if err := proto.Unmarshal(payload, v); err != nil {
		return zero, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	return v, nil
}

// check verifies that the frame names T's message and remembers it.
func (p *Protobuf[T]) check(b []byte, id uint32, frame []byte) error {
	md, _, err := p.w.writerMessage(b)
	if err != nil {
		return err
	}
	if md.FullName() != p.w.md.FullName() {
		return fmt.Errorf("streamserde: subject %s: record of schema %d is a %s, not a %s", p.w.subject, id, md.FullName(), p.w.md.FullName())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := *p.checked.Load()
	next := make(map[uint32]map[string]bool, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	frames := make(map[string]bool, len(cur[id])+1)
	for k := range cur[id] {
		frames[k] = true
	}
	frames[string(frame)] = true
	next[id] = frames
	p.checked.Store(&next)
	return nil
}

// GenericProtobuf is a Serde[*dynamicpb.Message] that reads every record as its writer's message
// (any message of any registered schema, by the record's id and message indexes), as a generic
// consumer does, and writes one message of one schema. It is safe for concurrent use.
type GenericProtobuf struct {
	w *protoWriter
}

// NewGenericProtobuf returns a generic serde writing opts.Message (default the schema's first
// message) of schema under subject.
func NewGenericProtobuf(reg *Registry, subject, schema string, opts Options) (*GenericProtobuf, error) {
	w, err := newProtoWriter(reg, subject, schema, protoreflect.FullName(opts.Message), opts)
	if err != nil {
		return nil, err
	}
	return &GenericProtobuf{w: w}, nil
}

// ID returns the writer schema's registry id.
func (g *GenericProtobuf) ID() int { return g.w.id }

// New returns an empty message of the one the serde writes, to fill and Serialize.
func (g *GenericProtobuf) New() *dynamicpb.Message { return dynamicpb.NewMessage(g.w.md) }

// Serialize implements statestore.Serde. v must be the message the serde writes.
func (g *GenericProtobuf) Serialize(v *dynamicpb.Message) ([]byte, error) {
	if got := v.Descriptor().FullName(); got != g.w.md.FullName() {
		return nil, fmt.Errorf("streamserde: subject %s: cannot write a %s as a %s", g.w.subject, got, g.w.md.FullName())
	}
	return g.w.serialize(v)
}

// Deserialize implements statestore.Serde.
func (g *GenericProtobuf) Deserialize(b []byte) (*dynamicpb.Message, error) {
	md, payload, err := g.w.writerMessage(b)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, fmt.Errorf("streamserde: message %s: %w", md.FullName(), err)
	}
	return m, nil
}
