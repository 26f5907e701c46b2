package recordjson

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
)

// ErrData is wrapped by every error about a value that does not fit its schema; the message
// names the field.
var ErrData = errors.New("recordjson: value does not match the schema")

// Codec encodes JSON to framed records and back through a schema registry. It is safe for
// concurrent use; schemas are cached by id for the Codec's life.
type Codec struct {
	client *sr.Client
	// schemas maps id → compiled schema; it is replaced, never changed, so a hit takes no lock.
	schemas atomic.Pointer[map[int]codec]
	mu      struct {
		sync.Mutex // serializes misses of schemas
	}
}

// codec is one registry schema ready to transcode.
type codec interface {
	// encode appends the frame of id and the binary form of the JSON text to dst.
	encode(dst []byte, id int, text []byte) ([]byte, error)
	// decode returns the JSON text of a framed record (header included).
	decode(framed []byte) ([]byte, error)
}

// New returns a Codec fetching schemas with client.
func New(client *sr.Client) *Codec {
	c := &Codec{client: client}
	c.schemas.Store(&map[int]codec{})
	return c
}

// Load fetches and compiles schema id now, so a producer learns of an unknown id or a schema it
// cannot use before its first record.
func (c *Codec) Load(ctx context.Context, id int) error {
	_, err := c.schema(ctx, id)
	return err
}

// Encode returns the JSON text encoded with schema id, framed in the Confluent wire format.
// An id the registry does not know returns the registry's error (40403); a value that does not
// match the schema returns an error wrapping ErrData that names the field.
func (c *Codec) Encode(ctx context.Context, id int, text []byte) ([]byte, error) {
	s, err := c.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	out, err := s.encode(make([]byte, 0, serde.HeaderSize+len(text)), id, text)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return out, nil
}

// Decode returns the JSON text of a framed record, decoded with the schema its header names.
func (c *Codec) Decode(ctx context.Context, framed []byte) ([]byte, error) {
	id, _, err := serde.Decode(framed)
	if err != nil {
		return nil, err
	}
	s, err := c.schema(ctx, int(id))
	if err != nil {
		return nil, err
	}
	out, err := s.decode(framed)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return out, nil
}

// schema returns the compiled schema of id, fetching and compiling it on first use.
func (c *Codec) schema(ctx context.Context, id int) (codec, error) {
	if s, ok := (*c.schemas.Load())[id]; ok {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.schemas.Load()
	if s, ok := cur[id]; ok {
		return s, nil
	}
	s, err := compiled.Fetch(ctx, c.client, id)
	if err != nil {
		return nil, err
	}
	var cs codec
	switch s.Type {
	case sr.TypeAvro:
		cs = &avroCodec{schema: s.Avro}
	case sr.TypeProtobuf:
		cs = &protobufCodec{file: s.Protobuf}
	default:
		cs = &jsonSchemaCodec{schema: s.JSON}
	}
	next := make(map[int]codec, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[id] = cs
	c.schemas.Store(&next)
	return cs, nil
}
