package streams

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// JoinWindowSpec bounds a stream-stream join: a left record at time t joins right records of
// the same key with timestamps in [t - before, t + after]. Made by JoinWindows; Before and
// After make it asymmetric. The grace period defaults to 0, as Kafka 3.x's
// JoinWindows.ofTimeDifferenceWithNoGrace.
type JoinWindowSpec struct {
	before, after, grace int64
	problem              string
}

// JoinWindows joins records whose timestamps differ by at most timeDifference, either way.
func JoinWindows(timeDifference time.Duration) JoinWindowSpec {
	ms := timeDifference.Milliseconds()
	j := JoinWindowSpec{before: ms, after: ms}
	if ms < 0 {
		j.problem = fmt.Sprintf("join time difference %s must not be negative", timeDifference)
	}
	return j
}

// Before sets how much earlier than a left record a right record may be and still join it.
func (j JoinWindowSpec) Before(d time.Duration) JoinWindowSpec {
	j.before = d.Milliseconds()
	if j.problem == "" && j.before+j.after < 0 {
		j.problem = fmt.Sprintf("join window before=%s after=%dms is empty", d, j.after)
	}
	return j
}

// After sets how much later than a left record a right record may be and still join it.
func (j JoinWindowSpec) After(d time.Duration) JoinWindowSpec {
	j.after = d.Milliseconds()
	if j.problem == "" && j.before+j.after < 0 {
		j.problem = fmt.Sprintf("join window before=%dms after=%s is empty", j.before, d)
	}
	return j
}

// Grace sets how long after a join window has ended out-of-order records may still join, and
// so how long a left or outer join waits before it emits a record that found no partner.
func (j JoinWindowSpec) Grace(d time.Duration) JoinWindowSpec {
	j.grace = d.Milliseconds()
	if j.problem == "" && d < 0 {
		j.problem = fmt.Sprintf("grace period %s must not be negative", d)
	}
	return j
}

// JoinStreams is the windowed inner join of two streams (Kafka's KStream#join with
// JoinWindows): for each pair of records with equal keys whose timestamps are within windows,
// it emits joiner(leftValue, rightValue), timestamped with the later of the two. Each side is
// kept in a window store (retention before + after + grace) with a changelog.
//
// Both streams must be co-partitioned: they run in one task per partition, and Start fails
// with ErrCoPartitioning when their topics' partition counts differ. A stream whose key was
// changed upstream (Map, SelectKey, FlatMap) is first repartitioned by key.
//
// The processors are named <name>-join-this, <name>-join-other and <name>-merge with
// Named(name), and the stores <store>-this-join-store, <store>-other-join-store (and
// <store>-outer-shared-join-store) with Materialized(store). valueSerde may be nil when nothing
// downstream serialises the result.
//
// NB: named JoinStreams, not Join: Go has no overloading, and Join is left to the
// stream-table join.
func JoinStreams[K, V1, V2, VR any](left *KStream[K, V1], right *KStream[K, V2], joiner func(left V1, right V2) VR,
	windows JoinWindowSpec, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return streamJoin(left, right, windows, false, false, func(l *V1, r *V2) VR { return joiner(*l, *r) }, valueSerde, opts)
}

// LeftJoinStreams is the windowed left join of two streams: as JoinStreams, and every left
// record that joined no right record is emitted as joiner(leftValue, nil) once its window has
// closed (stream time past its timestamp + after + grace), with its own timestamp. As in Kafka
// 3.x, such results are not emitted eagerly, so a right record arriving late within the
// window produces only the joined result.
func LeftJoinStreams[K, V1, V2, VR any](left *KStream[K, V1], right *KStream[K, V2], joiner func(left V1, right *V2) VR,
	windows JoinWindowSpec, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return streamJoin(left, right, windows, true, false, func(l *V1, r *V2) VR { return joiner(*l, r) }, valueSerde, opts)
}

// OuterJoinStreams is the windowed outer join of two streams: as LeftJoinStreams, and also
// every right record that joined no left record is emitted as joiner(nil, rightValue) once its
// window has closed.
func OuterJoinStreams[K, V1, V2, VR any](left *KStream[K, V1], right *KStream[K, V2], joiner func(left *V1, right *V2) VR,
	windows JoinWindowSpec, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return streamJoin(left, right, windows, true, true, joiner, valueSerde, opts)
}

// joinNames derives a join's processor and store names from the options.
func joinNames(b *Builder, opts []Option) (this, other, merge, thisStore, otherStore, shared string) {
	c := options(opts)
	suffixed := func(s string) string {
		if c.name == "" {
			return ""
		}
		return c.name + s
	}
	this = b.nextName("KSTREAM-JOINTHIS", suffixed("-join-this"))
	other = b.nextName("KSTREAM-JOINOTHER", suffixed("-join-other"))
	merge = b.nextName("KSTREAM-MERGE", suffixed("-merge"))
	if c.store != "" {
		return this, other, merge, c.store + "-this-join-store", c.store + "-other-join-store",
			c.store + "-outer-shared-join-store"
	}
	shared = b.nextName("KSTREAM-OUTERSHARED", "") + "-store"
	return this, other, merge, this + "-store", other + "-store", shared
}

func streamJoin[K, V1, V2, VR any](left *KStream[K, V1], right *KStream[K, V2], windows JoinWindowSpec,
	leftOuter, rightOuter bool, joiner func(l *V1, r *V2) VR, valueSerde Serde[VR], opts []Option) *KStream[K, VR] {
	b := left.b
	if right.b != b {
		b.errorf("join of %s and %s: the streams come from different builders", left.n.name, right.n.name)
	}
	if windows.problem != "" {
		b.errorf("join of %s and %s: %s", left.n.name, right.n.name, windows.problem)
	}
	if left.keyChanged {
		left = left.repartition("")
	}
	if right.keyChanged {
		right = right.repartition("")
	}
	thisName, otherName, mergeName, thisStore, otherStore, sharedStore := joinNames(b, opts)
	if left.keySerde == nil || left.valueSerde == nil || right.valueSerde == nil {
		b.errorf("join %s of %s and %s: unknown key or value serde; the join stores both sides", thisName, left.n.name, right.n.name)
	}
	j := &streamJoiner[K, V1, V2, VR]{
		name: thisName, windows: windows, leftOuter: leftOuter, rightOuter: rightOuter, joiner: joiner,
		keySerde: left.keySerde, leftSerde: left.valueSerde, rightSerde: right.valueSerde,
		leftStore: thisStore, rightStore: otherStore,
	}
	stores := []string{thisStore, otherStore}
	if leftOuter || rightOuter {
		j.sharedStore = sharedStore
		stores = append(stores, sharedStore)
	}
	// NB: all stores are listed on the this-side node only: a sub-topology opens each of its
	// nodes' stores, and the two sides share them.
	thisNode := &node{kind: processorNode, name: thisName, stores: stores}
	thisNode.instantiate = func(t *task, children []any) (any, error) {
		return j.leftProcessor(t, fanout[K, VR](children))
	}
	otherNode := &node{kind: processorNode, name: otherName}
	otherNode.instantiate = func(t *task, children []any) (any, error) {
		return j.rightProcessor(t, fanout[K, VR](children))
	}
	mergeNode := &node{kind: processorNode, name: mergeName}
	mergeNode.instantiate = func(_ *task, children []any) (any, error) { return fanout[K, VR](children), nil }
	b.addNode(thisNode, left.n)
	b.addNode(otherNode, right.n)
	b.addNode(mergeNode, thisNode, otherNode)
	b.addWindowedStore(thisStore, thisName, windowStore, windows.retention())
	b.addWindowedStore(otherStore, otherName, windowStore, windows.retention())
	if j.sharedStore != "" {
		b.addStore(sharedStore, thisName)
	}
	return &KStream[K, VR]{b: b, n: mergeNode, keySerde: left.keySerde, valueSerde: valueSerde}
}

// streamJoiner is one stream-stream join (Kafka 3.x's KStreamKStreamJoin): each side's records
// go into that side's window store and are looked up in the other side's. With a left or
// outer join, records that found no partner wait in the shared store, keyed by timestamp, side
// and key, until their window closes; a record of the other side that joins them removes them.
type streamJoiner[K, V1, V2, VR any] struct {
	name                  string
	windows               JoinWindowSpec
	leftOuter, rightOuter bool
	joiner                func(l *V1, r *V2) VR
	keySerde              Serde[K]
	leftSerde             Serde[V1]
	rightSerde            Serde[V2]
	leftStore, rightStore string
	sharedStore           string // "" for an inner join

	// mu guards the hand-over of the state made for a task by one side's processor to the
	// other side's. NB: a task instantiates all its processors in one go, so the two sides of
	// one task are normally opened one after the other; if Apps sharing the topology interleave,
	// the sides get separate states, which only costs the shared floor's optimisation.
	mu struct {
		sync.Mutex
		lastTask     *task
		lastJoinTask *joinTask
	}
}

// joinTask is a join's state in one task, shared by both sides.
type joinTask struct {
	left, right *statestore.WindowStore
	shared      *statestore.KeyValueStore // nil for an inner join
	// sharedFloor is a timestamp below which the shared store holds nothing. NB: emitClosed
	// deletes from the head of the store, and a LevelDB iterator steps over deleted keys until
	// compaction drops them; starting at the floor keeps it from rescanning them all.
	sharedFloor int64
}

const (
	joinSideLeft  byte = 0
	joinSideRight byte = 1
)

func (j *streamJoiner[K, V1, V2, VR]) open(t *task) (*joinTask, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mu.lastTask == t {
		return j.mu.lastJoinTask, nil
	}
	var jt joinTask
	var err error
	if jt.left, err = t.windowStore(j.leftStore); err != nil {
		return nil, err
	}
	if jt.right, err = t.windowStore(j.rightStore); err != nil {
		return nil, err
	}
	if j.sharedStore != "" {
		if jt.shared, err = t.store(j.sharedStore); err != nil {
			return nil, err
		}
	}
	j.mu.lastTask, j.mu.lastJoinTask = t, &jt
	return &jt, nil
}

func (j *streamJoiner[K, V1, V2, VR]) leftProcessor(t *task, next func(Record[K, VR]) error) (func(Record[K, V1]) error, error) {
	jt, err := j.open(t)
	if err != nil {
		return nil, err
	}
	return func(r Record[K, V1]) error {
		kb, vb, err := serializeJoinRecord(j.name, j.keySerde, j.leftSerde, r.Key, r.Value)
		if err != nil {
			return err
		}
		return j.process(t, jt, next, joinSideLeft, kb, vb, r.Timestamp,
			func(other []byte, otherTs int64) error {
				v2, err := j.rightSerde.Deserialize(other)
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize value: %w", j.name, j.rightStore, err)
				}
				return next(Record[K, VR]{Key: r.Key, Value: j.joiner(&r.Value, &v2), Timestamp: max(r.Timestamp, otherTs), Headers: r.Headers})
			},
			func() error {
				return next(Record[K, VR]{Key: r.Key, Value: j.joiner(&r.Value, nil), Timestamp: r.Timestamp, Headers: r.Headers})
			})
	}, nil
}

func (j *streamJoiner[K, V1, V2, VR]) rightProcessor(t *task, next func(Record[K, VR]) error) (func(Record[K, V2]) error, error) {
	jt, err := j.open(t)
	if err != nil {
		return nil, err
	}
	return func(r Record[K, V2]) error {
		kb, vb, err := serializeJoinRecord(j.name, j.keySerde, j.rightSerde, r.Key, r.Value)
		if err != nil {
			return err
		}
		return j.process(t, jt, next, joinSideRight, kb, vb, r.Timestamp,
			func(other []byte, otherTs int64) error {
				v1, err := j.leftSerde.Deserialize(other)
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize value: %w", j.name, j.leftStore, err)
				}
				return next(Record[K, VR]{Key: r.Key, Value: j.joiner(&v1, &r.Value), Timestamp: max(r.Timestamp, otherTs), Headers: r.Headers})
			},
			func() error {
				return next(Record[K, VR]{Key: r.Key, Value: j.joiner(nil, &r.Value), Timestamp: r.Timestamp, Headers: r.Headers})
			})
	}, nil
}

func serializeJoinRecord[K, V any](name string, ks Serde[K], vs Serde[V], k K, v V) (kb, vb []byte, err error) {
	if kb, err = ks.Serialize(k); err != nil {
		return nil, nil, fmt.Errorf("%s: serialize key: %w", name, err)
	}
	if vb, err = vs.Serialize(v); err != nil {
		return nil, nil, fmt.Errorf("%s: serialize value: %w", name, err)
	}
	return kb, vb, nil
}

// process joins one record (key kb, value vb, timestamp ts) of side with the other side:
// joined is called for each partner's value, unjoined when a left/outer record without partner
// must be emitted at once (its window has already closed).
func (j *streamJoiner[K, V1, V2, VR]) process(t *task, jt *joinTask, next func(Record[K, VR]) error, side byte,
	kb, vb []byte, ts int64, joined func(other []byte, otherTs int64) error, unjoined func() error) error {
	if ts < 0 {
		t.dropLate(j.name, ts, -1, -1)
		return nil
	}
	this, other := jt.left, jt.right
	before, after := j.windows.before, j.windows.after
	outer := j.leftOuter
	if side == joinSideRight {
		this, other = jt.right, jt.left
		before, after = after, before
		outer = j.rightOuter
	}
	if err := appendWindowValue(this, kb, ts, vb); err != nil {
		return fmt.Errorf("%s: %w", j.name, err)
	}
	if jt.shared != nil && ts == t.streamTime {
		if err := j.emitClosed(t, jt, next); err != nil {
			return err
		}
	}
	from, to := max(0, ts-before), max(0, ts+after)
	type partner struct {
		ts     int64
		values []byte
	}
	var partners []partner
	it := other.Fetch(kb, from, to)
	for it.Next() {
		partners = append(partners, partner{it.WindowStart(), append([]byte(nil), it.Value()...)})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("%s: fetch: %w", j.name, err)
	}
	for _, p := range partners {
		if jt.shared != nil {
			// The partner found a join partner: it must not be emitted as unjoined.
			sk := sharedJoinKey(p.ts, side^1, kb)
			if _, waiting, err := jt.shared.Get(sk); err != nil {
				return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
			} else if waiting {
				if err := jt.shared.Delete(sk); err != nil {
					return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
				}
			}
		}
		if err := eachJoinValue(p.values, func(v []byte) error { return joined(v, p.ts) }); err != nil {
			return err
		}
	}
	if len(partners) > 0 || !outer {
		return nil
	}
	// NB: as Kafka: a record whose whole window is already behind stream time can no longer
	// find a partner, so it is emitted at once rather than waiting in the shared store.
	if to < t.streamTime {
		return unjoined()
	}
	sk := sharedJoinKey(ts, side, kb)
	old, _, err := jt.shared.Get(sk)
	if err != nil {
		return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
	}
	if err := jt.shared.Put(sk, appendJoinValue(old, vb)); err != nil {
		return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
	}
	return nil
}

// emitClosed emits, in timestamp order, the waiting left/outer records whose window has
// closed: stream time is past their timestamp + after (left) or + before (right) + grace.
func (j *streamJoiner[K, V1, V2, VR]) emitClosed(t *task, jt *joinTask, next func(Record[K, VR]) error) error {
	type waiting struct{ key, values []byte }
	var closed []waiting
	minLookBack := min(j.windows.before, j.windows.after)
	// Records put from now on have ts >= stream time - after (left) or - before (right).
	floor := max(0, t.streamTime-max(j.windows.before, j.windows.after))
	it := jt.shared.Range(sharedJoinKey(jt.sharedFloor, 0, nil), nil)
	for it.Next() {
		k := it.Key()
		if len(k) < 9 {
			continue
		}
		ts, side := int64(binary.BigEndian.Uint64(k)), k[8]
		lookBack := j.windows.after
		if side == joinSideRight {
			lookBack = j.windows.before
		}
		if !windowClosed(j.windows, ts+lookBack, t.streamTime) {
			floor = min(floor, ts)
			if !windowClosed(j.windows, ts+minLookBack, t.streamTime) {
				break // every later record's window is open too
			}
			continue
		}
		closed = append(closed, waiting{append([]byte(nil), k...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
	}
	jt.sharedFloor = max(jt.sharedFloor, floor)
	for _, w := range closed {
		ts, side := int64(binary.BigEndian.Uint64(w.key)), w.key[8]
		key, err := j.keySerde.Deserialize(w.key[9:])
		if err != nil {
			return fmt.Errorf("%s: store %s: deserialize key: %w", j.name, j.sharedStore, err)
		}
		if err := jt.shared.Delete(w.key); err != nil {
			return fmt.Errorf("%s: store %s: %w", j.name, j.sharedStore, err)
		}
		err = eachJoinValue(w.values, func(vb []byte) error {
			var out VR
			if side == joinSideLeft {
				v, err := j.leftSerde.Deserialize(vb)
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize value: %w", j.name, j.sharedStore, err)
				}
				out = j.joiner(&v, nil)
			} else {
				v, err := j.rightSerde.Deserialize(vb)
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize value: %w", j.name, j.sharedStore, err)
				}
				out = j.joiner(nil, &v)
			}
			return next(Record[K, VR]{Key: key, Value: out, Timestamp: ts})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sharedJoinKey is the key of a waiting record in the shared store: timestamp (8 bytes
// big-endian), side (0 left, 1 right), then the key, so that the store iterates in time order
// as Kafka's TimestampedKeyAndJoinSide does.
func sharedJoinKey(ts int64, side byte, kb []byte) []byte {
	k := make([]byte, 0, 9+len(kb))
	k = binary.BigEndian.AppendUint64(k, uint64(ts))
	return append(append(k, side), kb...)
}

// appendWindowValue adds vb to the values of key at ts in a join window store. NB: records of
// one key may share a timestamp, and the window store keeps one value per key and window
// start, so a join window store's value is the list of the values (Kafka retains duplicates
// with a sequence number instead).
func appendWindowValue(ws *statestore.WindowStore, kb []byte, ts int64, vb []byte) error {
	old, _, err := ws.Get(kb, ts)
	if err != nil {
		return err
	}
	return ws.Put(kb, ts, appendJoinValue(old, vb))
}

// appendJoinValue appends vb to a list of values, each prefixed by its length as a uvarint.
func appendJoinValue(list, vb []byte) []byte {
	out := make([]byte, 0, len(list)+binary.MaxVarintLen64+len(vb))
	out = append(out, list...)
	out = binary.AppendUvarint(out, uint64(len(vb)))
	return append(out, vb...)
}

// eachJoinValue calls f on each value of a list made by appendJoinValue. A corrupt list (from
// disk or a changelog) is an error, never a panic.
func eachJoinValue(list []byte, f func(v []byte) error) error {
	for len(list) > 0 {
		n, w := binary.Uvarint(list)
		if w <= 0 || n > uint64(len(list)-w) {
			return fmt.Errorf("streams: corrupt join value list")
		}
		if err := f(list[w : w+int(n)]); err != nil {
			return err
		}
		list = list[w+int(n):]
	}
	return nil
}
