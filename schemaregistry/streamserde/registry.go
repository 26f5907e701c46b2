package streamserde

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/schemaregistry/compiled"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// registryTimeout bounds one registry call.
const registryTimeout = 30 * time.Second

// Registry is a schema registry client with a cache of writer schemas by id, shared by the
// serdes made from it. It is safe for concurrent use.
type Registry struct {
	client *sr.Client

	// schemas maps id → compiled schema; it is replaced, never changed, so readers load it
	// without a lock.
	schemas atomic.Pointer[map[int]*compiled.Schema]
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
	r.schemas.Store(&map[int]*compiled.Schema{})
	return r, nil
}

// Client returns the underlying franz-go client.
func (r *Registry) Client() *sr.Client { return r.client }

// byID returns the compiled schema of id, from the cache or the registry (with its references),
// refusing a schema of another type than want.
func (r *Registry) byID(id int, want sr.SchemaType) (*compiled.Schema, error) {
	s, ok := (*r.schemas.Load())[id]
	if !ok {
		var err error
		if s, err = r.fetchLocked(id); err != nil {
			return nil, err
		}
	}
	if s.Type != want {
		return nil, fmt.Errorf("streamserde: schema %d is %s, not %s", id, s.Type, want)
	}
	return s, nil
}

// fetchLocked takes the lock itself: it is the slow path of byID, one registry call per id.
func (r *Registry) fetchLocked(id int) (*compiled.Schema, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.schemas.Load()
	if s, ok := cur[id]; ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	s, err := compiled.Fetch(ctx, r.client, id)
	if err != nil {
		return nil, fmt.Errorf("streamserde: %w", err)
	}
	next := make(map[int]*compiled.Schema, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[id] = s
	r.schemas.Store(&next)
	return s, nil
}

// schemaByID returns the Avro schema of id, from the cache or the registry.
func (r *Registry) schemaByID(id int) (avro.Schema, error) {
	s, err := r.byID(id, sr.TypeAvro)
	if err != nil {
		return nil, err
	}
	return s.Avro, nil
}

// register registers (or, with lookupOnly, looks up) schema under subject and returns its id.
func (r *Registry) register(subject string, schema sr.Schema, lookupOnly bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	var ss sr.SubjectSchema
	var err error
	if lookupOnly {
		ss, err = r.client.LookupSchema(ctx, subject, schema)
	} else {
		ss, err = r.client.CreateSchema(ctx, subject, schema)
	}
	if err != nil {
		return 0, fmt.Errorf("streamserde: subject %s: %w", subject, compiled.RegistryError(err))
	}
	return ss.ID, nil
}

// compile compiles a serde's own schema (its references fetched from the registry).
func (r *Registry) compile(subject string, schema sr.Schema) (*compiled.Schema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	s, err := compiled.Compile(ctx, r.client, schema)
	if err != nil {
		return nil, fmt.Errorf("streamserde: subject %s: %w", subject, err)
	}
	return s, nil
}
