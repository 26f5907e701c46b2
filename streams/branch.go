package streams

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Splitter routes the records of a stream to named branches: each record goes to the first
// branch whose predicate it matches, or to the default branch, or nowhere (Kafka's
// BranchedKStream). Make one with KStream.Split, add branches with Branch, and end with
// Default or NoDefault, which return the branches by name.
type Splitter[K, V any] struct {
	s        *KStream[K, V]
	n        *node
	prefix   string
	preds    []func(K, V) bool
	branches map[string]*KStream[K, V]
	ended    bool
}

// Split starts routing s to branches. Named names the split processor and prefixes the
// branch names: Split(Named("x")).Branch(p, "a") is branch "x-a", as in Kafka Streams.
// Without Named the prefix is the generated processor name (KSTREAM-BRANCH-<index>).
func (s *KStream[K, V]) Split(opts ...Option) *Splitter[K, V] {
	c := options(opts)
	sp := &Splitter[K, V]{s: s, branches: map[string]*KStream[K, V]{}}
	name := s.b.nextName("KSTREAM-BRANCH", c.name)
	sp.prefix = name
	sp.n = &node{kind: processorNode, name: name}
	sp.n.instantiate = func(_ *task, children []any) (any, error) {
		// Children are the branches in the order they were added; the default, if any, last.
		next := make([]func(Record[K, V]) error, len(children))
		for i, ch := range children {
			next[i] = forwardTo[K, V](ch)
		}
		preds := sp.preds
		return func(r Record[K, V]) error {
			for i, keep := range preds {
				if keep(r.Key, r.Value) {
					return next[i](r)
				}
			}
			if len(next) > len(preds) {
				return next[len(preds)](r)
			}
			return nil
		}, nil
	}
	s.b.addNode(sp.n, s.n)
	return sp
}

// Branch adds a branch taking the records that match keep and no earlier branch. Its name is
// <prefix>-<name>, or <prefix>-<position> (from 1) when name is "".
func (sp *Splitter[K, V]) Branch(keep func(K, V) bool, name string) *Splitter[K, V] {
	if sp.ended {
		sp.s.b.errorf("split %s: Branch after Default or NoDefault", sp.prefix)
		return sp
	}
	if name == "" {
		name = fmt.Sprint(len(sp.preds) + 1)
	}
	sp.preds = append(sp.preds, keep)
	sp.addBranch(name)
	return sp
}

// Default ends the split with a branch for the records that match no predicate, named
// <prefix>-<name> (<prefix>-0 when name is ""), and returns every branch by name.
func (sp *Splitter[K, V]) Default(name string) map[string]*KStream[K, V] {
	if sp.ended {
		sp.s.b.errorf("split %s: ended twice", sp.prefix)
		return sp.branches
	}
	if name == "" {
		name = "0"
	}
	sp.addBranch(name)
	sp.ended = true
	return sp.branches
}

// NoDefault ends the split, dropping the records that match no predicate, and returns every
// branch by name.
func (sp *Splitter[K, V]) NoDefault() map[string]*KStream[K, V] {
	if sp.ended {
		sp.s.b.errorf("split %s: ended twice", sp.prefix)
	}
	sp.ended = true
	return sp.branches
}

func (sp *Splitter[K, V]) addBranch(name string) {
	full := sp.prefix + "-" + name
	n := &node{kind: processorNode, name: full}
	n.instantiate = func(_ *task, children []any) (any, error) { return fanout[K, V](children), nil }
	sp.s.b.addNode(n, sp.n)
	if _, dup := sp.branches[full]; dup {
		return // addNode recorded the duplicate name
	}
	sp.branches[full] = derive(sp.s, n, sp.s.keySerde, sp.s.valueSerde, sp.s.keyChanged)
}

// ErrNoTopic is returned (wrapped, naming the sink) when the topic chooser of ToFunc returns
// an empty topic name.
var ErrNoTopic = errors.New("streams: topic chooser returned no topic")

// ToFunc writes each record to the topic chosen for it by topic (Kafka's
// TopicNameExtractor), partitioned by key hash as To does. The topics must exist. nil serdes
// mean the stream's own.
func (s *KStream[K, V]) ToFunc(topic func(K, V) string, keySerde Serde[K], valueSerde Serde[V], opts ...Option) {
	c := options(opts)
	n := &node{kind: sinkNode, topic: "<chosen per record>", name: s.b.nextName("KSTREAM-SINK", c.name)}
	if keySerde == nil {
		keySerde = s.keySerde
	}
	if valueSerde == nil {
		valueSerde = s.valueSerde
	}
	if keySerde == nil || valueSerde == nil {
		s.b.errorf("sink %s: unknown key or value serde of %s's output; pass them to ToFunc", n.name, s.n.name)
	}
	n.instantiate = func(t *task, _ []any) (any, error) {
		return func(r Record[K, V]) error {
			to := topic(r.Key, r.Value)
			if to == "" {
				return fmt.Errorf("sink %s: %w", n.name, ErrNoTopic)
			}
			kr := &kgo.Record{Topic: to, Timestamp: msTime(r.Timestamp)}
			var err error
			if !r.nullKey {
				if kr.Key, err = keySerde.Serialize(r.Key); err != nil {
					return fmt.Errorf("sink %s: serialize key: %w", n.name, err)
				}
			}
			if !r.nullValue {
				if kr.Value, err = valueSerde.Serialize(r.Value); err != nil {
					return fmt.Errorf("sink %s: serialize value: %w", n.name, err)
				}
			}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			t.produce(kr)
			return nil
		}, nil
	}
	s.b.addNode(n, s.n)
}

// Repartition writes s to the topic <ApplicationID>-<name>-repartition, partitioned by key,
// and reads it back (Kafka's KStream#repartition), so that a later stateful operation or join
// sees every record of a key in one task. name comes from Named, or is generated
// (KSTREAM-REPARTITION-<index>). The topic gets the partition count of the sub-topology that
// writes it. s's serdes must be known.
func (s *KStream[K, V]) Repartition(opts ...Option) *KStream[K, V] {
	return s.repartition(options(opts).name)
}
