package streams

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// KStream is a record stream of keys K and values V, named as in Kafka Streams (the function
// Stream creates one from a topic; the type cannot share its name). It carries the serdes of
// its keys and values when they are known; operations that write records (To, a repartition,
// a store) need them, and the build fails when one is missing.
type KStream[K, V any] struct {
	b          *Builder
	n          *node
	keySerde   Serde[K]
	valueSerde Serde[V]
	// keyChanged is set below an operation that may change keys (Map, SelectKey, FlatMap):
	// records may then sit on the wrong partition for a stateful operation, which needs a
	// repartition first.
	keyChanged bool
}

// Stream reads topic as a KStream, deserialising keys and values with the given serdes. A
// record with a null key or value gets the zero K or V without calling the serde. Each topic
// may be a source only once per topology.
func Stream[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...Option) *KStream[K, V] {
	c := options(opts)
	return addSource(b, &node{kind: sourceNode, topic: topic, name: b.nextName("KSTREAM-SOURCE", c.name),
		timestampExtractor: c.timestampExtractor}, keySerde, valueSerde)
}

// addSource makes n read its topic as a KStream.
func addSource[K, V any](b *Builder, n *node, keySerde Serde[K], valueSerde Serde[V]) *KStream[K, V] {
	topic := n.topic
	if prev, ok := b.sources[topic]; ok {
		b.errorf("topic %q is already the source of %s", topic, prev.name)
	} else {
		b.sources[topic] = n
	}
	if keySerde == nil || valueSerde == nil {
		b.errorf("source %s of topic %q: key and value serdes are required", n.name, topic)
	}
	n.instantiate = func(t *task, children []any) (any, error) {
		next := fanout[K, V](children)
		return func(kr *kgo.Record) error {
			r := Record[K, V]{nullKey: kr.Key == nil, nullValue: kr.Value == nil}
			var err error
			if kr.Key != nil {
				if r.Key, err = keySerde.Deserialize(kr.Key); err != nil {
					return &DeserializationError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Part: "key", Err: err}
				}
			}
			if kr.Value != nil {
				if r.Value, err = valueSerde.Deserialize(kr.Value); err != nil {
					return &DeserializationError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Part: "value", Err: err}
				}
			}
			r.Timestamp = kr.Timestamp.UnixMilli()
			if len(kr.Headers) > 0 {
				r.Headers = make([]Header, len(kr.Headers))
				for i, h := range kr.Headers {
					r.Headers[i] = Header{Key: h.Key, Value: h.Value}
				}
			}
			return next(r)
		}, nil
	}
	b.addNode(n)
	return &KStream[K, V]{b: b, n: n, keySerde: keySerde, valueSerde: valueSerde}
}

// child adds a processor below s whose instance is made by inst from the forwarding function
// of its children.
func child[K, V, K2, V2 any](s *KStream[K, V], prefix string, opts []Option, inst func(t *task, next func(Record[K2, V2]) error) (func(Record[K, V]) error, error)) *node {
	c := options(opts)
	n := &node{kind: processorNode, name: s.b.nextName(prefix, c.name)}
	n.instantiate = func(t *task, children []any) (any, error) {
		return inst(t, fanout[K2, V2](children))
	}
	return s.b.addNode(n, s.n)
}

// stateless adds a stateless processor whose per-record behaviour f does not depend on the task.
//
// NB: it counts its records itself (countsItself), in the closure that calls f anyway: wrapping
// it in forwardTo would add a call, and a copy of the record, per record.
func stateless[K, V, K2, V2 any](s *KStream[K, V], prefix string, opts []Option, f func(r Record[K, V], next func(Record[K2, V2]) error) error) *node {
	var n *node
	n = child(s, prefix, opts, func(t *task, next func(Record[K2, V2]) error) (func(Record[K, V]) error, error) {
		m := t.nodeMetrics(n)
		if m == nil {
			return func(r Record[K, V]) error { return f(r, next) }, nil
		}
		return func(r Record[K, V]) error {
			m.count++
			if m.count&latencySampleMask != 1 {
				return f(r, next)
			}
			start := time.Now()
			err := f(r, next)
			m.latency.observe(time.Since(start))
			return err
		}, nil
	})
	n.countsItself = true
	return n
}

func derive[K, V, K2, V2 any](s *KStream[K, V], n *node, ks Serde[K2], vs Serde[V2], keyChanged bool) *KStream[K2, V2] {
	return &KStream[K2, V2]{b: s.b, n: n, keySerde: ks, valueSerde: vs, keyChanged: keyChanged}
}

// Filter keeps the records for which keep returns true.
func (s *KStream[K, V]) Filter(keep func(K, V) bool, opts ...Option) *KStream[K, V] {
	n := stateless(s, "KSTREAM-FILTER", opts, func(r Record[K, V], next func(Record[K, V]) error) error {
		if keep(r.Key, r.Value) {
			return next(r)
		}
		return nil
	})
	return derive(s, n, s.keySerde, s.valueSerde, s.keyChanged)
}

// FilterNot drops the records for which drop returns true.
func (s *KStream[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) *KStream[K, V] {
	return s.Filter(func(k K, v V) bool { return !drop(k, v) }, opts...)
}

// Peek calls f on each record and passes the record on unchanged.
func (s *KStream[K, V]) Peek(f func(K, V), opts ...Option) *KStream[K, V] {
	n := stateless(s, "KSTREAM-PEEK", opts, func(r Record[K, V], next func(Record[K, V]) error) error {
		f(r.Key, r.Value)
		return next(r)
	})
	return derive(s, n, s.keySerde, s.valueSerde, s.keyChanged)
}

// ForEach calls f on each record; it ends the stream. f runs on the task's goroutine: a slow f
// slows the task, and f must be safe for concurrent use when the topology has several tasks.
func (s *KStream[K, V]) ForEach(f func(K, V), opts ...Option) {
	stateless(s, "KSTREAM-FOREACH", opts, func(r Record[K, V], _ func(Record[K, V]) error) error {
		f(r.Key, r.Value)
		return nil
	})
}

// Merge combines s and other into one stream; chain it to merge more. Merged sources end up in
// one sub-topology, so their topics must be co-partitioned (same partition count), which Start
// checks.
func (s *KStream[K, V]) Merge(other *KStream[K, V], opts ...Option) *KStream[K, V] {
	c := options(opts)
	n := &node{kind: processorNode, name: s.b.nextName("KSTREAM-MERGE", c.name)}
	n.instantiate = func(_ *task, children []any) (any, error) { return fanout[K, V](children), nil }
	s.b.addNode(n, s.n, other.n)
	return derive(s, n, s.keySerde, s.valueSerde, s.keyChanged || other.keyChanged)
}

// To writes the stream to topic, partitioned by the hash of the serialised key as Kafka's
// default partitioner does (murmur2). A nil serde means the stream's own; the build fails if
// that is unknown too.
func (s *KStream[K, V]) To(topic string, keySerde Serde[K], valueSerde Serde[V], opts ...Option) {
	c := options(opts)
	n := &node{kind: sinkNode, topic: topic, name: s.b.nextName("KSTREAM-SINK", c.name)}
	if keySerde == nil {
		keySerde = s.keySerde
	}
	if valueSerde == nil {
		valueSerde = s.valueSerde
	}
	if keySerde == nil || valueSerde == nil {
		s.b.errorf("sink %s to topic %q: unknown key or value serde of %s's output; pass them to To", n.name, topic, s.n.name)
	}
	addSink(s, n, keySerde, valueSerde)
}

// addSink makes n write s's records to n's topic with the given serdes.
func addSink[K, V any](s *KStream[K, V], n *node, keySerde Serde[K], valueSerde Serde[V]) {
	n.instantiate = func(t *task, _ []any) (any, error) {
		topic := topicName(t.app.cfg.ApplicationID, n)
		return func(r Record[K, V]) error {
			kr := &kgo.Record{Topic: topic}
			var err error
			if r.nullKey {
				kr.Key = nil
			} else if kr.Key, err = keySerde.Serialize(r.Key); err != nil {
				return fmt.Errorf("sink %s: serialize key: %w", n.name, err)
			}
			if r.nullValue {
				kr.Value = nil // a tombstone stays one
			} else if kr.Value, err = valueSerde.Serialize(r.Value); err != nil {
				return fmt.Errorf("sink %s: serialize value: %w", n.name, err)
			}
			kr.Timestamp = msTime(r.Timestamp)
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			t.produce(kr)
			return nil
		}, nil
	}
	s.b.addNode(n, s.n)
}

// Map turns each record into a new key and value. Keys may change, so a later grouping needs
// a repartition. keySerde and valueSerde describe the output and may be nil when no later
// operation needs them.
func Map[K, V, K2, V2 any](s *KStream[K, V], f func(K, V) (K2, V2), keySerde Serde[K2], valueSerde Serde[V2], opts ...Option) *KStream[K2, V2] {
	n := stateless(s, "KSTREAM-MAP", opts, func(r Record[K, V], next func(Record[K2, V2]) error) error {
		k, v := f(r.Key, r.Value)
		return next(Record[K2, V2]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
	})
	return derive(s, n, keySerde, valueSerde, true)
}

// MapValues turns each value into a new one, keeping keys (and so partitioning).
func MapValues[K, V, V2 any](s *KStream[K, V], f func(K, V) V2, valueSerde Serde[V2], opts ...Option) *KStream[K, V2] {
	n := stateless(s, "KSTREAM-MAPVALUES", opts, func(r Record[K, V], next func(Record[K, V2]) error) error {
		return next(Record[K, V2]{Key: r.Key, Value: f(r.Key, r.Value), Timestamp: r.Timestamp, Headers: r.Headers, nullKey: r.nullKey})
	})
	return derive(s, n, s.keySerde, valueSerde, s.keyChanged)
}

// FlatMapValues turns each value into zero or more values, each with the record's key.
func FlatMapValues[K, V, V2 any](s *KStream[K, V], f func(K, V) []V2, valueSerde Serde[V2], opts ...Option) *KStream[K, V2] {
	n := stateless(s, "KSTREAM-FLATMAPVALUES", opts, func(r Record[K, V], next func(Record[K, V2]) error) error {
		for _, v := range f(r.Key, r.Value) {
			if err := next(Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers, nullKey: r.nullKey}); err != nil {
				return err
			}
		}
		return nil
	})
	return derive(s, n, s.keySerde, valueSerde, s.keyChanged)
}

// FlatMap turns each record into zero or more records with new keys and values.
func FlatMap[K, V, K2, V2 any](s *KStream[K, V], f func(K, V) []Record[K2, V2], keySerde Serde[K2], valueSerde Serde[V2], opts ...Option) *KStream[K2, V2] {
	n := stateless(s, "KSTREAM-FLATMAP", opts, func(r Record[K, V], next func(Record[K2, V2]) error) error {
		for _, out := range f(r.Key, r.Value) {
			if out.Timestamp == 0 {
				out.Timestamp = r.Timestamp
			}
			if out.Headers == nil {
				out.Headers = r.Headers
			}
			if err := next(out); err != nil {
				return err
			}
		}
		return nil
	})
	return derive(s, n, keySerde, valueSerde, true)
}

// SelectKey gives each record a new key computed from it, keeping its value.
func SelectKey[K, V, K2 any](s *KStream[K, V], f func(K, V) K2, keySerde Serde[K2], opts ...Option) *KStream[K2, V] {
	n := stateless(s, "KSTREAM-KEY-SELECT", opts, func(r Record[K, V], next func(Record[K2, V]) error) error {
		return next(Record[K2, V]{Key: f(r.Key, r.Value), Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers})
	})
	return derive(s, n, keySerde, s.valueSerde, true)
}
