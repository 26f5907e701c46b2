package streams

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// Serde turns values of type T into bytes and back; it is statestore's, so the serdes
// statestore.String{}, statestore.Int64{}, statestore.JSON[T]{}, ... and user serdes work here.
type Serde[T any] = statestore.Serde[T]

// Record is one key-value record flowing through a topology, with the timestamp and headers
// of the input record it derives from.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64 // ms since the Unix epoch, as in Kafka
	Headers   []Header

	// nullKey and nullValue mark a record read with a null key or value (Key or Value is then
	// the zero value); a null value is a delete, a tombstone, and sinks write it as null.
	// On a KTable's updates, old is the key's previous value when hasOld.
	nullKey, nullValue bool
	old                V
	hasOld             bool
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Option names or configures one operation of the DSL.
type Option func(*opConfig)

type opConfig struct {
	name  string // processor name, "" for a generated one
	store string // store name, "" for a generated one
	// timestampExtractor is a source's (WithTimestampExtractor); stores are those a
	// processor of the Processor API is connected to (ConnectStores).
	timestampExtractor TimestampExtractor
	stores             []string
	cachingDisabled    bool
}

// Named names the processor an operation creates, instead of a generated
// KSTREAM-<OP>-<index> name. Names must be unique within a topology.
func Named(name string) Option { return func(c *opConfig) { c.name = name } }

// Materialized names the state store of a stateful operation (Count, Reduce, Aggregate). The
// store's changelog topic is <ApplicationID>-<name>-changelog, so naming stores keeps their
// state stable when the topology changes. Store names must be unique within a topology.
func Materialized(store string) Option { return func(c *opConfig) { c.store = store } }

// WithCachingDisabled turns the record cache off for the store of a stateful operation (Count,
// Reduce, Aggregate and the windowed aggregations): every update is forwarded at once, as
// Kafka's Materialized.withCachingDisabled. See Config.CacheMaxBytes.
func WithCachingDisabled() Option { return func(c *opConfig) { c.cachingDisabled = true } }

func options(opts []Option) opConfig {
	var c opConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

type nodeKind int

const (
	sourceNode nodeKind = iota
	processorNode
	sinkNode
)

// node is one processor of the topology graph, untyped. Its typed behaviour lives in
// instantiate, a closure made by the generic DSL function that created the node.
type node struct {
	name  string
	kind  nodeKind
	topic string // source or sink topic
	// internal marks a topic the application owns (a repartition topic): its full name is
	// <ApplicationID>-<topic>, known only when the App is made.
	internal bool
	// sizedByReader marks an internal topic whose partition count is that of the
	// sub-topology reading it, not writing it (a foreign-key join's subscription topics).
	sizedByReader bool
	parents       []*node
	children      []*node
	// coLocated are nodes that must run in the same task as this one without forwarding to
	// it: a join reads their stores (Kafka connects processors and state stores the same way).
	coLocated []*node
	stores    []string
	// instantiate makes this node's instance for one task, given its children's instances
	// (built first). For a source it returns a func(*kgo.Record) error; otherwise a
	// func(Record[K, V]) error for the node's input types K and V.
	instantiate func(t *task, children []any) (any, error)
	// window is set on a windowed aggregation: when its windows close (see Suppress).
	window windowRule
	// cachingDisabled turns the record cache of an aggregation off (WithCachingDisabled, or a
	// Suppress below it).
	cachingDisabled bool
	// timestampExtractor, on a source, gives its records' timestamps (timestamp.go); nil
	// means Config.TimestampExtractor, or the record's own timestamp.
	timestampExtractor TimestampExtractor
	// countsItself marks a node whose instance updates its own metrics (task.nodeMetrics), so
	// openTask does not wrap it (see forwardTo).
	countsItself bool
}

// storeSpec is a key-value store of the topology.
type storeSpec struct {
	name string
	node string // the processor that owns it
	// kind is a key-value store unless set to a window or session store, whose retention
	// bounds the windows kept (see window_task.go).
	kind      storeKind
	retention time.Duration
}

// Builder collects the DSL calls that describe a topology. It is not safe for concurrent use.
// DSL errors (a duplicate name, a missing serde) do not panic: they are recorded and Build
// returns them.
type Builder struct {
	nodes     []*node
	names     map[string]bool
	stores    []*storeSpec
	storeName map[string]bool
	sources   map[string]*node // by topic
	globals   []*globalSpec
	index     int
	errs      []error
	built     bool
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{names: map[string]bool{}, storeName: map[string]bool{}, sources: map[string]*node{}}
}

func (b *Builder) errorf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf("streams: "+format, args...))
}

// nextName returns the user's name or a generated <prefix>-<10-digit index> one. The index
// advances for every node, named or not, so naming one processor does not rename the others
// (and their generated stores and changelogs).
func (b *Builder) nextName(prefix, user string) string {
	i := b.index
	b.index++
	if user != "" {
		return user
	}
	return fmt.Sprintf("%s-%010d", prefix, i)
}

// addNode registers n under its name and links it below its parents.
func (b *Builder) addNode(n *node, parents ...*node) *node {
	if b.names[n.name] {
		b.errorf("duplicate processor name %q", n.name)
	}
	b.names[n.name] = true
	for _, p := range parents {
		if p == nil {
			continue
		}
		n.parents = append(n.parents, p)
		p.children = append(p.children, n)
	}
	b.nodes = append(b.nodes, n)
	return n
}

func (b *Builder) addStore(name, owner string) {
	if b.storeName[name] {
		b.errorf("duplicate store name %q", name)
	}
	b.storeName[name] = true
	b.stores = append(b.stores, &storeSpec{name: name, node: owner})
}

// Build checks the topology and returns it. The Builder must not be used afterwards.
func (b *Builder) Build() (*Topology, error) {
	if b.built {
		return nil, errors.New("streams: Build called twice")
	}
	b.built = true
	if len(b.sources) == 0 {
		b.errorf("topology has no source: call Stream first")
	}
	b.checkStoresConnected()
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	return newTopology(b), nil
}

// Topology is a built, immutable processor graph, split into sub-topologies: the connected
// parts of the graph. A sub-topology runs as one task per input partition number.
type Topology struct {
	nodes  []*node
	stores map[string]*storeSpec
	subs   []*subtopology
	// globals are the global tables, read by every instance outside the consumer group.
	globals []*globalSpec
}

// subtopology is a connected part of the graph with its source topics and stores.
type subtopology struct {
	id      int
	nodes   []*node // in creation order: parents before children
	sources []*node
	stores  []string
}

func newTopology(b *Builder) *Topology {
	t := &Topology{nodes: b.nodes, stores: map[string]*storeSpec{}, globals: b.globals}
	for _, s := range b.stores {
		t.stores[s.name] = s
	}
	// Union-find over parent links.
	parent := map[*node]*node{}
	var find func(n *node) *node
	find = func(n *node) *node {
		if p, ok := parent[n]; ok && p != n {
			r := find(p)
			parent[n] = r
			return r
		}
		parent[n] = n
		return n
	}
	for _, n := range b.nodes {
		find(n)
		for _, p := range append(n.parents[:len(n.parents):len(n.parents)], n.coLocated...) {
			if a, c := find(n), find(p); a != c {
				parent[a] = c
			}
		}
	}
	// Processors sharing a store (ConnectStores) run in one task, as in Kafka Streams.
	storeUser := map[string]*node{}
	for _, n := range b.nodes {
		for _, s := range n.stores {
			if u, ok := storeUser[s]; !ok {
				storeUser[s] = n
			} else if a, c := find(n), find(u); a != c {
				parent[a] = c
			}
		}
	}
	byRoot := map[*node]*subtopology{}
	for _, n := range b.nodes {
		r := find(n)
		st := byRoot[r]
		if st == nil {
			st = &subtopology{id: len(t.subs)}
			byRoot[r] = st
			t.subs = append(t.subs, st)
		}
		st.nodes = append(st.nodes, n)
		if n.kind == sourceNode {
			st.sources = append(st.sources, n)
		}
		for _, s := range n.stores {
			if !slices.Contains(st.stores, s) {
				st.stores = append(st.stores, s)
			}
		}
	}
	return t
}

// topicName is the full name of a source or sink node's topic for an application.
func topicName(applicationID string, n *node) string {
	if n.internal {
		return applicationID + "-" + n.topic
	}
	return n.topic
}

// Describe prints the sub-topologies, their processors, stores and sinks, in the manner of
// Kafka Streams' TopologyDescription.
func (t *Topology) Describe() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n")
	for _, st := range t.subs {
		fmt.Fprintf(&sb, "   Sub-topology: %d\n", st.id)
		for _, n := range st.nodes {
			switch n.kind {
			case sourceNode:
				fmt.Fprintf(&sb, "    Source: %s (topics: [%s])\n", n.name, topicName("<application.id>", n))
			case processorNode:
				fmt.Fprintf(&sb, "    Processor: %s (stores: [%s])\n", n.name, strings.Join(n.stores, ", "))
			case sinkNode:
				fmt.Fprintf(&sb, "    Sink: %s (topic: %s)\n", n.name, topicName("<application.id>", n))
			}
			if len(n.children) > 0 {
				names := make([]string, len(n.children))
				for i, c := range n.children {
					names[i] = c.name
				}
				fmt.Fprintf(&sb, "      --> %s\n", strings.Join(names, ", "))
			} else {
				sb.WriteString("      --> none\n")
			}
			if len(n.parents) > 0 {
				names := make([]string, len(n.parents))
				for i, p := range n.parents {
					names[i] = p.name
				}
				fmt.Fprintf(&sb, "      <-- %s\n", strings.Join(names, ", "))
			}
		}
	}
	return sb.String()
}

// fanout combines the instances of a node's children, all taking Record[K, V], into one
// forwarding function.
func fanout[K, V any](children []any) func(Record[K, V]) error {
	fs := make([]func(Record[K, V]) error, len(children))
	for i, c := range children {
		fs[i] = forwardTo[K, V](c)
	}
	switch len(fs) {
	case 0:
		return func(Record[K, V]) error { return nil }
	case 1:
		return fs[0]
	}
	return func(r Record[K, V]) error {
		for _, f := range fs {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	}
}
