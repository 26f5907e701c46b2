package streams

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Processor is a node of the Processor API, Kafka Streams' lower layer under the DSL: it sees
// every record of its input stream, may keep state in the key-value stores it is connected to,
// forwards any number of records of type Record[K2, V2] downstream, and may schedule
// punctuations. Add one with Process or ProcessValues.
//
// Each task (one per input partition of the processor's sub-topology) gets its own instance
// from the supplier, and calls it from one goroutine: Init once when the task opens (its
// stores already restored), Process for each record, Close when the task closes (on Close of
// the App, a rebalance, or a failure). An error from Init or Process stops the App, like any
// processing error; Close errors are logged.
type Processor[K, V, K2, V2 any] interface {
	// Init prepares the processor for its task: look up stores, schedule punctuations.
	Init(ctx ProcessorContext[K2, V2]) error
	// Process handles one record; it may call ctx.Forward any number of times.
	Process(ctx ProcessorContext[K2, V2], rec Record[K, V]) error
	// Close releases what Init acquired. The task's stores are closed after it returns.
	Close() error
}

// ProcessorFunc adapts a function to a Processor with no Init or Close work.
type ProcessorFunc[K, V, K2, V2 any] func(ctx ProcessorContext[K2, V2], rec Record[K, V]) error

// Init does nothing.
func (ProcessorFunc[K, V, K2, V2]) Init(ProcessorContext[K2, V2]) error { return nil }

// Process calls f.
func (f ProcessorFunc[K, V, K2, V2]) Process(ctx ProcessorContext[K2, V2], rec Record[K, V]) error {
	return f(ctx, rec)
}

// Close does nothing.
func (ProcessorFunc[K, V, K2, V2]) Close() error { return nil }

// ProcessorContext is what a Processor's task offers it. Its methods must be called only from
// the processor's Init, Process and Close and from its punctuators, on the task's goroutine.
// Its errors do not name the processor: the App adds the name when they stop it.
type ProcessorContext[K, V any] interface {
	// Forward sends rec to every child of the processor. Its timestamp and headers are those
	// given (copy the input's to keep them); they are written with it by sinks.
	Forward(rec Record[K, V]) error
	// ForwardTo sends rec to the child named child only (see Named).
	ForwardTo(child string, rec Record[K, V]) error
	// KeyValueStore returns the task's partition of a store the processor is connected to
	// (ConnectStores). It is a byte store: wrap it with statestore.NewTyped for typed access.
	// Every write also goes to the store's changelog topic and is committed with the task's
	// input offsets, as for the DSL's stores. The task owns it: do not Close it.
	KeyValueStore(name string) (*statestore.KeyValueStore, error)
	// WindowStore returns the task's partition of a window store (AddWindowStore) the processor
	// is connected to, and SessionStore of a session store (AddSessionStore). Like the DSL's
	// windowed stores they expire entries past their retention, log to a compact,delete
	// changelog and are committed with the task's input offsets, so they restore exactly after
	// a crash. The task owns them: do not Close them.
	WindowStore(name string) (*statestore.WindowStore, error)
	SessionStore(name string) (*statestore.SessionStore, error)
	// RecordMetadata is the topic, partition and offset of the input record being processed,
	// as read from the sub-topology's source (a repartition topic below a repartition). ok is
	// false in Init, Close and punctuators. The record's timestamp and headers are on the
	// Record passed to Process.
	RecordMetadata() (md RecordMetadata, ok bool)
	// Schedule calls fn every interval of the given time (StreamTime or WallClockTime) until
	// cancel is called or the task closes. See PunctuationType for when it fires. interval
	// must be at least a millisecond.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (cancel func(), err error)
	// StreamTime is the task's stream time: the largest timestamp of the records it has
	// processed (ms), the record being processed included; -1 before the first.
	StreamTime() int64
	// WallClockTime is the App's wall-clock time (Config.Clock) in ms since the Unix epoch.
	WallClockTime() int64
	// TaskID names the task as Kafka Streams does: <sub-topology>_<partition>.
	TaskID() string
	// ApplicationID is Config.ApplicationID.
	ApplicationID() string
}

// RecordMetadata locates the input record being processed.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Process adds a Processor below s, whose instances (one per task) supply makes. The result is
// the stream of the records the processor forwards; keySerde and valueSerde describe them and
// may be nil when nothing downstream serialises them. Since the processor may change keys, a
// later grouping repartitions first (use ProcessValues to keep keys).
//
// Options: Named names the processor; ConnectStores connects it to stores.
//
//	counts := streams.Process(words, func() streams.Processor[string, string, string, int64] {
//		return &counter{}
//	}, statestore.String{}, statestore.Int64{}, streams.ConnectStores("counts"))
func Process[K, V, K2, V2 any](s *KStream[K, V], supply func() Processor[K, V, K2, V2], keySerde Serde[K2], valueSerde Serde[V2], opts ...Option) *KStream[K2, V2] {
	n := addProcessor(s, "KSTREAM-PROCESSOR", supply, nil, opts)
	return derive(s, n, keySerde, valueSerde, true)
}

// ProcessValues is Process for a processor that keeps keys, so that no repartition is needed
// below it (Kafka Streams' processValues with a FixedKeyProcessor): Forward writes each record
// under the key of the record being processed, whatever its Key says, and fails in a
// punctuator, where there is no such record.
func ProcessValues[K, V, V2 any](s *KStream[K, V], supply func() Processor[K, V, K, V2], valueSerde Serde[V2], opts ...Option) *KStream[K, V2] {
	n := addProcessor(s, "KSTREAM-PROCESSVALUES", supply, func(r Record[K, V]) K { return r.Key }, opts)
	return derive(s, n, s.keySerde, valueSerde, s.keyChanged)
}

// ConnectStores connects the processor made by Process or ProcessValues to the named stores,
// so that ProcessorContext.KeyValueStore (WindowStore, SessionStore) returns them. A store not added
// with AddStore before is added by this. Processors sharing a store run in the same
// sub-topology (and task). It has no effect on other operations.
func ConnectStores(names ...string) Option {
	return func(c *opConfig) { c.stores = append(c.stores, names...) }
}

// AddStore adds a key-value store to the topology for the Processor API, as Kafka Streams'
// addStateStore does: a LevelDB store per task with the changelog topic
// <ApplicationID>-<name>-changelog, restored before the task processes anything and buffered
// like the DSL's (Config.CacheMaxEntries). Connect processors to it with ConnectStores. A
// store added but never connected fails Build.
func AddStore(b *Builder, name string) {
	if name == "" {
		b.errorf("AddStore: empty store name")
		return
	}
	b.addStore(name, "")
}

// AddWindowStore adds a window store (statestore.WindowStore) for the Processor API, as Kafka
// Streams' Stores.persistentWindowStore: windows whose start is more than retention behind the
// latest window start put are dropped, and its changelog <ApplicationID>-<name>-changelog has
// cleanup.policy=compact,delete and retention.ms = retention + 1 day. Connect processors to it
// with ConnectStores; ProcessorContext.WindowStore returns it.
func AddWindowStore(b *Builder, name string, retention time.Duration) {
	addProcessorWindowedStore(b, "AddWindowStore", name, retention, windowStore)
}

// AddSessionStore adds a session store (statestore.SessionStore) for the Processor API, as
// Kafka Streams' Stores.persistentSessionStore: sessions that ended more than retention before
// the latest session end put are dropped. Connect processors to it with ConnectStores;
// ProcessorContext.SessionStore returns it.
func AddSessionStore(b *Builder, name string, retention time.Duration) {
	addProcessorWindowedStore(b, "AddSessionStore", name, retention, sessionStore)
}

func addProcessorWindowedStore(b *Builder, op, name string, retention time.Duration, kind storeKind) {
	switch {
	case name == "":
		b.errorf("%s: empty store name", op)
	case retention.Milliseconds() < 1:
		b.errorf("%s %q: retention %s must be at least 1ms", op, name, retention)
	default:
		b.addWindowedStore(name, "", kind, retention.Milliseconds())
	}
}

// addProcessor adds the node of Process or ProcessValues below s. keyOf is set for
// ProcessValues (K2 is then K): the key its records are forwarded with.
func addProcessor[K, V, K2, V2 any](s *KStream[K, V], prefix string, supply func() Processor[K, V, K2, V2], keyOf func(Record[K, V]) K2, opts []Option) *node {
	b := s.b
	c := options(opts)
	n := &node{kind: processorNode, name: b.nextName(prefix, c.name)}
	if supply == nil {
		b.errorf("processor %s: nil supplier", n.name)
	}
	for _, store := range c.stores {
		if slices.Contains(n.stores, store) {
			continue
		}
		n.stores = append(n.stores, store)
		b.connectStore(store, n.name)
	}
	n.instantiate = func(t *task, children []any) (any, error) {
		pc := &processorContext[K2, V2]{t: t, n: n, next: fanout[K2, V2](children), fixedKey: keyOf != nil,
			children: make(map[string]func(Record[K2, V2]) error, len(children))}
		for i, c := range n.children {
			pc.children[c.name] = forwardTo[K2, V2](children[i])
		}
		p := supply()
		if p == nil {
			return nil, errors.New("the supplier returned a nil Processor")
		}
		if err := p.Init(pc); err != nil {
			// NB: Init may have scheduled punctuations: they go with the task, which closes.
			return nil, fmt.Errorf("init: %w", err)
		}
		t.processorState().closers = append(t.processorState().closers, namedCloser{name: n.name, close: p.Close})
		return func(r Record[K, V]) error {
			if keyOf != nil {
				pc.key, pc.hasKey = keyOf(r), true
			}
			err := p.Process(pc, r)
			pc.hasKey = false
			if err != nil {
				return fmt.Errorf("processor %s: %w", n.name, err)
			}
			return nil
		}, nil
	}
	b.addNode(n, s.n)
	return n
}

// connectStore connects a store to a processor, adding the store if needed.
func (b *Builder) connectStore(store, processor string) {
	for _, s := range b.stores {
		if s.name == store {
			if s.node == "" {
				s.node = processor
			}
			return
		}
	}
	b.addStore(store, processor)
}

// checkStoresConnected fails the build for stores added with AddStore but not connected.
func (b *Builder) checkStoresConnected() {
	for _, s := range b.stores {
		if s.node == "" {
			b.errorf("store %q was added with AddStore but no processor is connected to it: pass streams.ConnectStores(%q) to Process", s.name, s.name)
		}
	}
}

// processorContext is the ProcessorContext of one processor in one task.
type processorContext[K, V any] struct {
	t        *task
	n        *node
	next     func(Record[K, V]) error
	children map[string]func(Record[K, V]) error
	// fixedKey is set for ProcessValues: Forward uses key, the key of the record being
	// processed (hasKey is false outside Process).
	fixedKey bool
	key      K
	hasKey   bool
}

func (pc *processorContext[K, V]) fix(rec Record[K, V]) (Record[K, V], error) {
	if !pc.fixedKey {
		return rec, nil
	}
	if !pc.hasKey {
		return rec, errors.New("a ProcessValues processor cannot forward outside Process: there is no input record whose key to keep")
	}
	rec.Key = pc.key
	return rec, nil
}

func (pc *processorContext[K, V]) Forward(rec Record[K, V]) error {
	rec, err := pc.fix(rec)
	if err != nil {
		return err
	}
	return pc.next(rec)
}

func (pc *processorContext[K, V]) ForwardTo(child string, rec Record[K, V]) error {
	next, ok := pc.children[child]
	if !ok {
		names := make([]string, 0, len(pc.n.children))
		for _, c := range pc.n.children {
			names = append(names, c.name)
		}
		return fmt.Errorf("no child %q (children: [%s])", child, strings.Join(names, ", "))
	}
	rec, err := pc.fix(rec)
	if err != nil {
		return err
	}
	return next(rec)
}

func (pc *processorContext[K, V]) KeyValueStore(name string) (*statestore.KeyValueStore, error) {
	if err := pc.connected(name); err != nil {
		return nil, err
	}
	if spec := pc.t.app.topo.stores[name]; spec != nil && spec.kind != keyValueStore {
		return nil, fmt.Errorf("store %q is a window or session store: use WindowStore or SessionStore", name)
	}
	return pc.t.store(name)
}

func (pc *processorContext[K, V]) WindowStore(name string) (*statestore.WindowStore, error) {
	if err := pc.connected(name); err != nil {
		return nil, err
	}
	return pc.t.windowStore(name)
}

func (pc *processorContext[K, V]) SessionStore(name string) (*statestore.SessionStore, error) {
	if err := pc.connected(name); err != nil {
		return nil, err
	}
	return pc.t.sessionStore(name)
}

func (pc *processorContext[K, V]) connected(name string) error {
	if !slices.Contains(pc.n.stores, name) {
		return fmt.Errorf("not connected to store %q: pass streams.ConnectStores(%q) to Process", name, name)
	}
	return nil
}

func (pc *processorContext[K, V]) RecordMetadata() (RecordMetadata, bool) {
	r := pc.t.processorState().current
	if r == nil {
		return RecordMetadata{}, false
	}
	return RecordMetadata{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, true
}

func (pc *processorContext[K, V]) Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (func(), error) {
	return pc.t.schedule(pc.n.name, interval, typ, fn)
}

func (pc *processorContext[K, V]) StreamTime() int64 { return pc.t.streamTime }

func (pc *processorContext[K, V]) WallClockTime() int64 { return pc.t.app.clock().Now().UnixMilli() }

func (pc *processorContext[K, V]) TaskID() string { return pc.t.id.String() }

func (pc *processorContext[K, V]) ApplicationID() string { return pc.t.app.cfg.ApplicationID }

// processorState is a task's state for the Processor API and timestamps: the record being
// processed, stream time, punctuation schedules, processors to close, and the timestamp
// extractor of each source topic. Like the task, it is used by one goroutine at a time.
type processorState struct {
	extractors map[string]TimestampExtractor // by full topic name; nil: the record's timestamp
	// lastTopic and lastExtractor cache the extractors entry of the previous record.
	lastTopic     string
	lastExtractor TimestampExtractor
	current       *kgo.Record // being processed; nil between records
	schedules     []*schedule
	closers       []namedCloser // in Init order
}

type namedCloser struct {
	name  string
	close func() error
}

// processorState returns the task's processor state, making it on first use.
func (t *task) processorState() *processorState {
	if t.proc == nil {
		t.proc = &processorState{extractors: map[string]TimestampExtractor{}}
	}
	return t.proc
}

// beforeRecord runs before a record goes through the task: its timestamp is extracted, stream
// time advances to it (as in Kafka Streams, stream time includes the record being processed),
// and it becomes the current record of RecordMetadata.
func (t *task) beforeRecord(r *kgo.Record) error {
	if err := t.extractTimestamp(r); err != nil {
		return err
	}
	ps := t.processorState()
	// NB: the task's stream time (task.streamTime) advances right after, with the windows'.
	ps.current = r
	return nil
}

// afterRecord runs after a record went through the task: the stream-time punctuations that
// are due fire.
//
// NB: Kafka Streams punctuates after a batch of records; punctuating after each record, as
// its TopologyTestDriver does, makes the punctuations independent of how records are fetched.
func (t *task) afterRecord(*kgo.Record) error {
	ps := t.processorState()
	ps.current = nil
	if len(ps.schedules) == 0 {
		return nil
	}
	_, err := t.punctuate(StreamTime, t.streamTime)
	return err
}

// closeProcessors closes the task's processors, last initialised first; errors are logged.
func (t *task) closeProcessors() {
	if t.proc == nil {
		return
	}
	t.proc.schedules = nil
	for i := len(t.proc.closers) - 1; i >= 0; i-- {
		c := t.proc.closers[i]
		if err := c.close(); err != nil {
			t.app.log.Warn("close processor", "task", t.id.String(), "processor", c.name, slog.Any("err", err))
		}
	}
	t.proc.closers = nil
}
