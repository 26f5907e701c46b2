package streamserde

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Options adjust how a serde finds its writer schema id and reads records.
type Options struct {
	// LookupOnly looks the schema up under the subject instead of registering it (Confluent's
	// auto.register.schemas=false); the serde fails to build if the subject does not hold it.
	LookupOnly bool
	// References are the registered schemas the schema refers to (Avro named types, Protobuf
	// imports, JSON Schema $refs), registered with it.
	References []sr.SchemaReference
	// Message is the Protobuf message GenericProtobuf writes (full name); default the schema's
	// first message. Protobuf[T] writes T's message.
	Message string
	// Validate makes a JSON Schema serde validate each record it writes against its schema and
	// each it reads against its writer's schema (Confluent's json.fail.invalid.schema=true).
	Validate bool
}

// Avro is a Serde[T] of Avro records in the Confluent wire format: T is a Go struct with avro
// tags (hamba/avro), or map[string]any for generic records. It is safe for concurrent use.
type Avro[T any] struct {
	reg     *Registry
	schema  avro.Schema
	id      int
	header  [serde.HeaderSize]byte
	subject string

	// resolved maps a writer schema id to the schema that reads its data into T (the writer
	// resolved against the reader schema); replaced, never changed.
	resolved atomic.Pointer[map[int]avro.Schema]
	mu       sync.Mutex // serializes misses of resolved
}

// NewAvro returns an Avro serde writing schema under subject (Confluent's TopicNameStrategy
// names it "<topic>-value" or "<topic>-key"); the schema is registered (or looked up) now.
// Records read back may be written with any schema the registry holds that resolves to schema.
func NewAvro[T any](reg *Registry, subject, schema string, opts Options) (*Avro[T], error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeAvro, References: opts.References}
	c, err := reg.compile(subject, s)
	if err != nil {
		return nil, err
	}
	parsed := c.Avro
	id, err := reg.register(subject, s, opts.LookupOnly)
	if err != nil {
		return nil, err
	}
	a := &Avro[T]{reg: reg, schema: parsed, id: id, subject: subject}
	copy(a.header[:], serde.AppendHeader(nil, uint32(id)))
	a.resolved.Store(&map[int]avro.Schema{id: parsed})
	return a, nil
}

// ID returns the writer schema's registry id.
func (a *Avro[T]) ID() int { return a.id }

// Schema returns the writer (and reader) schema.
func (a *Avro[T]) Schema() avro.Schema { return a.schema }

// Serialize implements statestore.Serde.
func (a *Avro[T]) Serialize(v T) ([]byte, error) {
	enc, err := avroAPI.Marshal(a.schema, v)
	if err != nil {
		return nil, fmt.Errorf("streamserde: subject %s: %w", a.subject, err)
	}
	out := make([]byte, 0, serde.HeaderSize+len(enc))
	out = append(out, a.header[:]...)
	return append(out, enc...), nil
}

// Deserialize implements statestore.Serde.
func (a *Avro[T]) Deserialize(b []byte) (T, error) {
	var v T
	id, payload, err := serde.Decode(b)
	if err != nil {
		return v, err
	}
	s, err := a.readerFor(int(id))
	if err != nil {
		return v, err
	}
	if err := avroAPI.Unmarshal(s, payload, &v); err != nil {
		return v, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	return v, nil
}

func (a *Avro[T]) readerFor(id int) (avro.Schema, error) {
	if s, ok := (*a.resolved.Load())[id]; ok {
		return s, nil
	}
	writer, err := a.reg.schemaByID(id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := *a.resolved.Load()
	if s, ok := cur[id]; ok {
		return s, nil
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(a.schema, writer)
	if err != nil {
		return nil, fmt.Errorf("streamserde: subject %s: writer schema %d does not resolve to the reader schema: %w", a.subject, id, err)
	}
	next := make(map[int]avro.Schema, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[id] = resolved
	a.resolved.Store(&next)
	return resolved, nil
}

// GenericAvro is a Serde[map[string]any] that reads every record with its own writer schema
// (no reader schema, no resolution), as a generic consumer does, and writes with one schema.
type GenericAvro struct {
	writer *Avro[map[string]any]
}

// NewGenericAvro returns a generic serde writing schema under subject.
func NewGenericAvro(reg *Registry, subject, schema string, opts Options) (*GenericAvro, error) {
	w, err := NewAvro[map[string]any](reg, subject, schema, opts)
	if err != nil {
		return nil, err
	}
	return &GenericAvro{writer: w}, nil
}

// ID returns the writer schema's registry id.
func (g *GenericAvro) ID() int { return g.writer.id }

// Serialize implements statestore.Serde.
func (g *GenericAvro) Serialize(v map[string]any) ([]byte, error) { return g.writer.Serialize(v) }

// Deserialize implements statestore.Serde.
func (g *GenericAvro) Deserialize(b []byte) (map[string]any, error) {
	id, payload, err := serde.Decode(b)
	if err != nil {
		return nil, err
	}
	s, err := g.writer.reg.schemaByID(int(id))
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := avroAPI.Unmarshal(s, payload, &v); err != nil {
		return nil, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	return v, nil
}
