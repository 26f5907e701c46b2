package recordjson

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gregor-streams/gregor/schemaregistry/serde"
	"github.com/twmb/franz-go/pkg/sr"
)

// maxReferences bounds the schemas one schema may pull in through references (transitively),
// so a reference cycle or a hostile registry cannot make a fetch loop forever.
const maxReferences = 256

// ErrData is wrapped by every error about a value that does not fit its schema; the message
// names the field.
var ErrData = errors.New("recordjson: value does not match the schema")

// Codec encodes JSON to framed records and back through a schema registry. It is safe for
// concurrent use; schemas are cached by id for the Codec's life.
type Codec struct {
	client *sr.Client
	// schemas maps id → compiled schema; it is replaced, never changed, so a hit takes no lock.
	schemas atomic.Pointer[map[int]compiled]
	mu      struct {
		sync.Mutex // serializes misses of schemas
	}
}

// compiled is one registry schema ready to transcode.
type compiled interface {
	// encode appends the frame of id and the binary form of the JSON text to dst.
	encode(dst []byte, id int, text []byte) ([]byte, error)
	// decode returns the JSON text of a framed record (header included).
	decode(framed []byte) ([]byte, error)
}

// New returns a Codec fetching schemas with client.
func New(client *sr.Client) *Codec {
	c := &Codec{client: client}
	c.schemas.Store(&map[int]compiled{})
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
func (c *Codec) schema(ctx context.Context, id int) (compiled, error) {
	if s, ok := (*c.schemas.Load())[id]; ok {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.schemas.Load()
	if s, ok := cur[id]; ok {
		return s, nil
	}
	s, err := c.client.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, registryError(err))
	}
	refs, err := c.references(ctx, s.References)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	var cs compiled
	switch s.Type {
	case sr.TypeAvro:
		cs, err = compileAvro(s.Schema, refs)
	case sr.TypeProtobuf:
		cs, err = compileProtobuf(s.Schema, refs)
	case sr.TypeJSON:
		cs, err = compileJSONSchema(s.Schema, refs)
	default:
		err = fmt.Errorf("schema type %s is not supported", s.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	next := make(map[int]compiled, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[id] = cs
	c.schemas.Store(&next)
	return cs, nil
}

// reference is one schema a schema refers to, by the name it imports it as.
type reference struct {
	name   string
	schema string
}

// references fetches refs and what they refer to, depth first, so each schema comes after the
// ones it refers to; each (subject, version) is fetched once.
func (c *Codec) references(ctx context.Context, refs []sr.SchemaReference) ([]reference, error) {
	var out []reference
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
			ss, err := c.client.SchemaByVersion(ctx, r.Subject, r.Version)
			if err != nil {
				return fmt.Errorf("reference %q (subject %s version %d): %w", r.Name, r.Subject, r.Version, registryError(err))
			}
			if err := visit(ss.References, depth+1); err != nil {
				return err
			}
			out = append(out, reference{name: r.Name, schema: ss.Schema.Schema})
		}
		return nil
	}
	if err := visit(refs, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// registryError words a registry's error response as Confluent's clients do: the error code and
// the registry's own message.
func registryError(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && re.ErrorCode != 0 {
		return fmt.Errorf("schema registry error %d: %w", re.ErrorCode, err)
	}
	return err
}
