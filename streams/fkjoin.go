package streams

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// JoinFK joins each row of left with the row of right whose key is fk(left row) (Kafka's
// foreign-key KTable#join): the result is keyed like left and has a row for each left row
// whose foreign key has a row in right. It follows both sides: a right update changes the
// result of every left row that references it, a left row whose foreign key changes moves to
// the new right row (its result is deleted when there is none), and a delete on either side
// deletes the results it made.
//
// left and right need not be co-partitioned. As in Kafka Streams, left rows subscribe to their
// foreign key through <ApplicationID>-<name>-subscription-registration-topic (keyed by foreign
// key, with right's partition count); right's side keeps the subscriptions in the store
// <name>-subscription-store and answers through <ApplicationID>-<name>-subscription-response-topic
// (keyed by left key, with left's partition count). Each subscription carries a hash of the
// left row it was sent for, and an answer for a row that has changed since is dropped, so
// results never go back to a stale left row. name comes from Named or is generated
// (KTABLE-FK-JOIN-<index>). Both topics must have been produced with Kafka's default
// partitioner (murmur2 of the key), as the internal topics are.
//
// The result is materialized, in the store named by Materialized (default
// <name>-output-store), so that its updates carry their previous value downstream. Both
// tables must be materialized and have known serdes.
func JoinFK[K, V, KO, VO, VR any](left *KTable[K, V], right *KTable[KO, VO], fk func(V) KO, joiner func(V, VO) VR, valueSerde Serde[VR], opts ...Option) *KTable[K, VR] {
	return joinFK(left, right, fk, false, func(v V, vo *VO) VR { return joiner(v, *vo) }, valueSerde, opts)
}

// LeftJoinFK is JoinFK keeping every left row: joiner gets nil when the foreign key has no
// row in right, and a delete in right updates the results rather than deleting them.
func LeftJoinFK[K, V, KO, VO, VR any](left *KTable[K, V], right *KTable[KO, VO], fk func(V) KO, joiner func(V, *VO) VR, valueSerde Serde[VR], opts ...Option) *KTable[K, VR] {
	return joinFK(left, right, fk, true, joiner, valueSerde, opts)
}

// subscriptionInstruction tells the right side what to do with a subscription, as Kafka's
// SubscriptionWrapper.Instruction.
type subscriptionInstruction byte

const (
	// deleteKeyNoPropagate drops the subscription: the left row moved to another foreign key.
	deleteKeyNoPropagate subscriptionInstruction = iota
	// deleteKeyAndPropagate drops the subscription and answers with no value: the left row
	// was deleted, so its result is.
	deleteKeyAndPropagate
	// propagateNullIfNoFKValue stores the subscription and answers even when the foreign key
	// has no row (left joins, and a moved row whose old result must go).
	propagateNullIfNoFKValue
	// propagateOnlyIfFKValue stores the subscription and answers only when the foreign key
	// has a row.
	propagateOnlyIfFKValue
)

// subscription is one record for the registration topic, keyed by foreign key.
type subscription struct {
	fk          []byte
	instruction subscriptionInstruction
}

// subscriptionsFor is the pure core of the left side: the subscriptions a left update sends,
// given the serialised foreign keys of its old and new rows (nil when there is no row).
func subscriptionsFor(oldFK, newFK []byte, leftJoin bool) []subscription {
	propagate := propagateOnlyIfFKValue
	if leftJoin {
		propagate = propagateNullIfNoFKValue
	}
	switch {
	case oldFK != nil && newFK != nil && !bytes.Equal(oldFK, newFK):
		return []subscription{{oldFK, deleteKeyNoPropagate}, {newFK, propagateNullIfNoFKValue}}
	case oldFK != nil && newFK != nil:
		return []subscription{{newFK, propagate}}
	case oldFK != nil:
		return []subscription{{oldFK, deleteKeyAndPropagate}}
	case newFK != nil:
		return []subscription{{newFK, propagate}}
	}
	return nil
}

// valueHash identifies a left row's serialised value; nil stands for no row.
func valueHash(b []byte) []byte {
	h := fnv.New128a()
	h.Write(b)
	return h.Sum(nil)
}

const fkWireVersion = 0

var errFKWire = errors.New("streams: malformed foreign-key join record")

// appendOptional appends a presence byte and, when present, b with a length prefix.
func appendOptional(dst, b []byte, present bool) []byte {
	if !present {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func readOptional(src []byte) (b []byte, present bool, rest []byte, err error) {
	if len(src) == 0 {
		return nil, false, nil, errFKWire
	}
	if src[0] == 0 {
		return nil, false, src[1:], nil
	}
	n, w := binary.Uvarint(src[1:])
	if w <= 0 || uint64(len(src)-1-w) < n {
		return nil, false, nil, errFKWire
	}
	start := 1 + w
	return src[start : start+int(n)], true, src[start+int(n):], nil
}

// Registration value: version, instruction, optional hash, primary key.
func encodeSubscription(instr subscriptionInstruction, hash []byte, pk []byte) []byte {
	b := []byte{fkWireVersion, byte(instr)}
	b = appendOptional(b, hash, hash != nil)
	return append(b, pk...)
}

func decodeSubscription(b []byte) (instr subscriptionInstruction, hash, pk []byte, err error) {
	if len(b) < 2 || b[0] != fkWireVersion || b[1] > byte(propagateOnlyIfFKValue) {
		return 0, nil, nil, errFKWire
	}
	hash, _, pk, err = readOptional(b[2:])
	return subscriptionInstruction(b[1]), hash, pk, err
}

// Response value: version, optional hash of the left row it answers, optional right row.
func encodeResponse(hash []byte, right []byte, hasRight bool) []byte {
	b := appendOptional([]byte{fkWireVersion}, hash, hash != nil)
	return appendOptional(b, right, hasRight)
}

func decodeResponse(b []byte) (hash, right []byte, hasRight bool, err error) {
	if len(b) < 1 || b[0] != fkWireVersion {
		return nil, nil, false, errFKWire
	}
	hash, _, rest, err := readOptional(b[1:])
	if err != nil {
		return nil, nil, false, err
	}
	right, hasRight, _, err = readOptional(rest)
	return hash, right, hasRight, err
}

// subscriptionPrefix is the subscription store's key prefix of a foreign key; the key is the
// prefix followed by the left key, so a prefix scan finds a foreign key's subscribers.
func subscriptionPrefix(fk []byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(fk))), fk...)
}

func joinFK[K, V, KO, VO, VR any](left *KTable[K, V], right *KTable[KO, VO], fk func(V) KO, leftJoin bool, joiner func(V, *VO) VR, valueSerde Serde[VR], opts []Option) *KTable[K, VR] {
	b := left.b
	c := options(opts)
	base := b.nextName("KTABLE-FK-JOIN", c.name)
	left.requireLookup(base)
	right.requireLookup(base)
	if left.keySerde == nil || left.valueSerde == nil || right.keySerde == nil || right.valueSerde == nil {
		b.errorf("%s: both tables' key and value serdes are required", base)
	}
	registration := base + "-subscription-registration-topic"
	response := base + "-subscription-response-topic"
	subStore := base + "-subscription-store"
	outStore := c.store
	if outStore == "" {
		outStore = base + "-output-store"
	}

	// Left side, part 1: every left update sends its subscriptions.
	send := &node{kind: processorNode, name: base + "-subscription-send"}
	send.instantiate = func(_ *task, children []any) (any, error) {
		next := fanout[[]byte, []byte](children)
		fkBytes := func(v V) ([]byte, error) {
			k, err := right.keySerde.Serialize(fk(v))
			if err == nil && k == nil {
				k = []byte{}
			}
			return k, err
		}
		return func(r Record[K, V]) error {
			var oldFK, newFK, hash []byte
			var err error
			if r.hasOld {
				if oldFK, err = fkBytes(r.old); err != nil {
					return fmt.Errorf("%s: serialize old foreign key: %w", send.name, err)
				}
			}
			if !r.nullValue {
				if newFK, err = fkBytes(r.Value); err != nil {
					return fmt.Errorf("%s: serialize foreign key: %w", send.name, err)
				}
				v, err := left.valueSerde.Serialize(r.Value)
				if err != nil {
					return fmt.Errorf("%s: serialize value: %w", send.name, err)
				}
				hash = valueHash(v)
			}
			pk, err := left.keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", send.name, err)
			}
			for _, sub := range subscriptionsFor(oldFK, newFK, leftJoin) {
				h := hash
				if sub.instruction == deleteKeyAndPropagate {
					h = nil
				}
				out := Record[[]byte, []byte]{Key: sub.fk, Value: encodeSubscription(sub.instruction, h, pk), Timestamp: r.Timestamp}
				if err := next(out); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	b.addNode(send, left.n)
	rawSink(b, base+"-subscription-registration-sink", registration, send)

	// Right side: subscriptions arrive keyed by foreign key, on right's partitions.
	regSource := addSource(b, &node{kind: sourceNode, topic: registration, internal: true, sizedByReader: true,
		name: base + "-subscription-registration-source"}, statestore.Bytes{}, statestore.Bytes{})
	receive := &node{kind: processorNode, name: base + "-subscription-receive", stores: []string{subStore}}
	receive.coLocated = []*node{right.n}
	receive.instantiate = func(tk *task, children []any) (any, error) {
		next := fanout[[]byte, []byte](children)
		subs, err := tk.store(subStore)
		if err != nil {
			return nil, err
		}
		get, err := right.lookup(tk)
		if err != nil {
			return nil, err
		}
		return func(r Record[[]byte, []byte]) error {
			instr, hash, pk, err := decodeSubscription(r.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", receive.name, err)
			}
			key := append(subscriptionPrefix(r.Key), pk...)
			if instr == deleteKeyNoPropagate || instr == deleteKeyAndPropagate {
				err = subs.Delete(key)
			} else {
				err = subs.Put(key, appendOptional([]byte{byte(instr)}, hash, hash != nil))
			}
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", receive.name, subStore, err)
			}
			respond := func(v []byte, ok bool) error {
				return next(Record[[]byte, []byte]{Key: append([]byte(nil), pk...), Value: encodeResponse(hash, v, ok), Timestamp: r.Timestamp})
			}
			switch instr {
			case deleteKeyNoPropagate:
				return nil
			case deleteKeyAndPropagate:
				return respond(nil, false)
			}
			fkey, err := right.keySerde.Deserialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: deserialize foreign key: %w", receive.name, err)
			}
			vo, ok, err := get(fkey)
			if err != nil {
				return fmt.Errorf("%s: table %s: %w", receive.name, right.n.name, err)
			}
			if !ok {
				if instr == propagateOnlyIfFKValue {
					return nil
				}
				return respond(nil, false)
			}
			v, err := right.valueSerde.Serialize(vo)
			if err != nil {
				return fmt.Errorf("%s: serialize value: %w", receive.name, err)
			}
			return respond(v, true)
		}, nil
	}
	b.addNode(receive, regSource.n)
	b.addStore(subStore, receive.name)

	// Right side: a right update answers every subscriber of its key.
	foreign := &node{kind: processorNode, name: base + "-foreign-update"}
	foreign.instantiate = func(tk *task, children []any) (any, error) {
		next := fanout[[]byte, []byte](children)
		subs, err := tk.store(subStore)
		if err != nil {
			return nil, err
		}
		return func(r Record[KO, VO]) error {
			fkey, err := right.keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", foreign.name, err)
			}
			var v []byte
			if !r.nullValue {
				if v, err = right.valueSerde.Serialize(r.Value); err != nil {
					return fmt.Errorf("%s: serialize value: %w", foreign.name, err)
				}
			}
			prefix := subscriptionPrefix(fkey)
			it := subs.PrefixScan(prefix)
			type answer struct{ pk, hash []byte }
			var answers []answer
			for it.Next() {
				if len(it.Value()) == 0 {
					it.Close()
					return fmt.Errorf("%s: store %s: empty subscription", foreign.name, subStore)
				}
				hash, _, _, err := readOptional(it.Value()[1:])
				if err != nil {
					it.Close()
					return fmt.Errorf("%s: store %s: %w", foreign.name, subStore, err)
				}
				answers = append(answers, answer{pk: bytes.Clone(it.Key()[len(prefix):]), hash: bytes.Clone(hash)})
			}
			if err := it.Close(); err != nil {
				return fmt.Errorf("%s: store %s: %w", foreign.name, subStore, err)
			}
			for _, a := range answers {
				out := Record[[]byte, []byte]{Key: a.pk, Value: encodeResponse(a.hash, v, !r.nullValue), Timestamp: r.Timestamp}
				if err := next(out); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	b.addNode(foreign, right.n)
	rawSink(b, base+"-subscription-response-sink", response, receive, foreign)

	// Left side, part 2: answers arrive keyed by left key, on left's partitions; an answer
	// for a row that has changed since its subscription is stale and dropped.
	respSource := addSource(b, &node{kind: sourceNode, topic: response, internal: true, sizedByReader: true,
		name: base + "-subscription-response-source"}, statestore.Bytes{}, statestore.Bytes{})
	result := tableNode(b, base+"-result", outStore, left.keySerde, valueSerde, func(tk *task, next func(Record[K, VR]) error) (any, error) {
		get, err := left.lookup(tk)
		if err != nil {
			return nil, err
		}
		name := base + "-result"
		return func(r Record[[]byte, []byte]) error {
			hash, rightBytes, hasRight, err := decodeResponse(r.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			pk, err := left.keySerde.Deserialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: deserialize key: %w", name, err)
			}
			cur, ok, err := get(pk)
			if err != nil {
				return fmt.Errorf("%s: table %s: %w", name, left.n.name, err)
			}
			var curHash []byte
			if ok {
				v, err := left.valueSerde.Serialize(cur)
				if err != nil {
					return fmt.Errorf("%s: serialize value: %w", name, err)
				}
				curHash = valueHash(v)
			}
			if !bytes.Equal(curHash, hash) {
				return nil // stale: the left row changed after this subscription
			}
			if !ok || (!hasRight && !leftJoin) {
				return next(tombstone[K, VR](pk, *new(VR), false, r.Timestamp, nil))
			}
			var vo *VO
			if hasRight {
				v, err := right.valueSerde.Deserialize(rightBytes)
				if err != nil {
					return fmt.Errorf("%s: deserialize value: %w", name, err)
				}
				vo = &v
			}
			return next(Record[K, VR]{Key: pk, Value: joiner(cur, vo), Timestamp: r.Timestamp})
		}, nil
	}, respSource.n)
	result.coLocated = []*node{left.n}
	return &KTable[K, VR]{b: b, n: result, store: outStore, keySerde: left.keySerde, valueSerde: valueSerde}
}

// rawSink adds a sink writing the byte records of parents to the internal topic, which is
// sized by the sub-topology that reads it.
func rawSink(b *Builder, name, topic string, parents ...*node) {
	n := &node{kind: sinkNode, topic: topic, internal: true, sizedByReader: true, name: name}
	n.instantiate = func(t *task, _ []any) (any, error) {
		full := topicName(t.app.cfg.ApplicationID, n)
		return func(r Record[[]byte, []byte]) error {
			t.produce(&kgo.Record{Topic: full, Key: r.Key, Value: r.Value, Timestamp: msTime(r.Timestamp)})
			return nil
		}, nil
	}
	b.addNode(n, parents...)
}

// sizeByReader gives the reader-sized internal topics that st reads the partition count
// of st's other source topics. Called by checkTopics.
func (a *App) sizeByReader(st *subtopology) {
	var count int32
	for _, n := range st.sources {
		if topic := topicName(a.cfg.ApplicationID, n); a.readerSized[topic] == nil {
			count = a.partitions[topic]
			break
		}
	}
	for _, n := range st.sources {
		if topic := topicName(a.cfg.ApplicationID, n); a.readerSized[topic] != nil {
			a.partitions[topic] = count
		}
	}
}

// sizeRepartitionsByExternalReaders makes the repartition topics read by a sub-topology that
// also reads a topic the application does not own take that topic's partition count instead
// of their writer's, as Kafka Streams' co-partitioning enforcer does: a stream re-keyed from a
// 3-partition topic can then join a 2-partition table.
func (a *App) sizeRepartitionsByExternalReaders() {
	for _, st := range a.topo.subs {
		external := false
		for _, n := range st.sources {
			external = external || !n.internal
		}
		if !external {
			continue
		}
		for _, n := range st.sources {
			topic := topicName(a.cfg.ApplicationID, n)
			if n.internal && a.repartitions[topic] != nil {
				delete(a.repartitions, topic)
				a.readerSized[topic] = st
			}
		}
	}
}

// readerSizedTopics are the specs of the reader-sized internal topics, known after
// checkTopics.
func (a *App) readerSizedTopics() []statestore.InternalTopic {
	var specs []statestore.InternalTopic
	for topic, reader := range a.readerSized {
		specs = append(specs, statestore.InternalTopic{Name: topic, Partitions: a.subPartitions[reader.id],
			Configs: map[string]string{"cleanup.policy": "delete"}})
	}
	return specs
}
