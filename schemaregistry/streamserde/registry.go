package streamserde

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// registryTimeout bounds one registry call.
const registryTimeout = 30 * time.Second

// Registry is a schema registry client with a cache of writer schemas by id, shared by the
// serdes made from it. It is safe for concurrent use.
type Registry struct {
	client *sr.Client

	// schemas maps id → parsed Avro schema; it is replaced, never changed, so readers load it
	// without a lock.
	schemas atomic.Pointer[map[int]avro.Schema]
	mu      struct {
		sync.Mutex // serializes cache misses
	}
}

// NewRegistry returns a client of the registry at urls (comma-free, one per instance), with
// franz-go sr client options (basic auth, TLS, ...) appended.
func NewRegistry(urls []string, opts ...sr.ClientOpt) (*Registry, error) {
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(urls...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("streamserde: registry client: %w", err)
	}
	r := &Registry{client: cl}
	r.schemas.Store(&map[int]avro.Schema{})
	return r, nil
}

// Client returns the underlying franz-go client.
func (r *Registry) Client() *sr.Client { return r.client }

// schemaByID returns the Avro schema of id, from the cache or the registry.
func (r *Registry) schemaByID(id int) (avro.Schema, error) {
	if s, ok := (*r.schemas.Load())[id]; ok {
		return s, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.schemas.Load()
	if s, ok := cur[id]; ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	ss, err := r.client.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	if ss.Type != sr.TypeAvro {
		return nil, fmt.Errorf("streamserde: schema %d is %s, not Avro", id, ss.Type)
	}
	parsed, err := parse(ss.Schema)
	if err != nil {
		return nil, fmt.Errorf("streamserde: schema %d: %w", id, err)
	}
	r.storeLocked(cur, id, parsed)
	return parsed, nil
}

func (r *Registry) storeLocked(cur map[int]avro.Schema, id int, s avro.Schema) {
	next := make(map[int]avro.Schema, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[id] = s
	r.schemas.Store(&next)
}

// register registers (or, with lookupOnly, looks up) schema under subject and returns its id.
func (r *Registry) register(subject, schema string, lookupOnly bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	var ss sr.SubjectSchema
	var err error
	if lookupOnly {
		ss, err = r.client.LookupSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	} else {
		ss, err = r.client.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	}
	if err != nil {
		return 0, fmt.Errorf("streamserde: subject %s: %w", subject, err)
	}
	return ss.ID, nil
}

// parse parses an Avro schema on its own cache: two versions of one record name must not see
// each other's definition (hamba/avro's default cache is global by name).
func parse(schema string) (avro.Schema, error) {
	return avro.ParseWithCache(schema, "", &avro.SchemaCache{})
}
