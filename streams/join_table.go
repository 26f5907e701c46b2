package streams

import "fmt"

// JoinTable joins each record of s with the row of t under the same key (Kafka's
// KStream#join(KTable)): a record whose key has no row in t is dropped, and the result has
// s's key and timestamp. Only the stream side triggers output: an update of t changes the
// result of later records, not of earlier ones. Records with a null key or value are dropped,
// as in Kafka Streams. t must be materialized (a Table, an aggregation, or derived from one).
//
// s and t run in one task per partition, so their topics must have the same partition count
// (Start fails with ErrCoPartitioning naming both otherwise). When s's keys may have changed
// (below Map, SelectKey, FlatMap), s first goes through a repartition topic.
func JoinTable[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], joiner func(V, VT) VR, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return joinStreamTable(s, t, "KSTREAM-JOIN", opts, valueSerde, func(v V, vt VT, ok bool) (VR, bool) {
		if !ok {
			var zero VR
			return zero, false
		}
		return joiner(v, vt), true
	})
}

// LeftJoinTable is JoinTable that keeps the records whose key has no row in t: joiner then
// gets nil.
func LeftJoinTable[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], joiner func(V, *VT) VR, valueSerde Serde[VR], opts ...Option) *KStream[K, VR] {
	return joinStreamTable(s, t, "KSTREAM-LEFTJOIN", opts, valueSerde, func(v V, vt VT, ok bool) (VR, bool) {
		if !ok {
			return joiner(v, nil), true
		}
		return joiner(v, &vt), true
	})
}

func joinStreamTable[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], prefix string, opts []Option, valueSerde Serde[VR], join func(V, VT, bool) (VR, bool)) *KStream[K, VR] {
	c := options(opts)
	if s.keyChanged {
		s = s.repartition(c.name)
	}
	t.requireLookup(prefix)
	n := child(s, prefix, opts, func(tk *task, next func(Record[K, VR]) error) (func(Record[K, V]) error, error) {
		get, err := t.lookup(tk)
		if err != nil {
			return nil, err
		}
		return func(r Record[K, V]) error {
			if r.nullKey || r.nullValue {
				return nil
			}
			vt, ok, err := get(r.Key)
			if err != nil {
				return fmt.Errorf("join with table %s: %w", t.n.name, err)
			}
			out, ok := join(r.Value, vt, ok)
			if !ok {
				return nil
			}
			return next(Record[K, VR]{Key: r.Key, Value: out, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	n.coLocated = append(n.coLocated, t.n)
	return derive(s, n, s.keySerde, valueSerde, false)
}

// JoinTables joins two tables on their keys (Kafka's KTable#join(KTable)): the result has a
// row for each key present in both, updated when either side changes, and deleted (a
// tombstone is forwarded) when either side's row is deleted. Both tables must be materialized
// and their topics co-partitioned (see JoinTable). Named names the result's processor;
// Materialized keeps the result in a store.
func JoinTables[K, VL, VR, V any](l *KTable[K, VL], r *KTable[K, VR], joiner func(VL, VR) V, valueSerde Serde[V], opts ...Option) *KTable[K, V] {
	return joinTables(l, r, "KTABLE-JOIN", opts, valueSerde, func(lv *VL, rv *VR) (V, bool) {
		if lv == nil || rv == nil {
			var zero V
			return zero, false
		}
		return joiner(*lv, *rv), true
	})
}

// LeftJoinTables is JoinTables keeping every row of l: joiner gets nil when r has no row for
// the key, and a delete in r updates the result rather than deleting it.
func LeftJoinTables[K, VL, VR, V any](l *KTable[K, VL], r *KTable[K, VR], joiner func(VL, *VR) V, valueSerde Serde[V], opts ...Option) *KTable[K, V] {
	return joinTables(l, r, "KTABLE-LEFTJOIN", opts, valueSerde, func(lv *VL, rv *VR) (V, bool) {
		if lv == nil {
			var zero V
			return zero, false
		}
		return joiner(*lv, rv), true
	})
}

// OuterJoinTables is JoinTables keeping every row of both: joiner gets nil for the side that
// has no row; the result's row is deleted when both sides' rows are.
func OuterJoinTables[K, VL, VR, V any](l *KTable[K, VL], r *KTable[K, VR], joiner func(*VL, *VR) V, valueSerde Serde[V], opts ...Option) *KTable[K, V] {
	return joinTables(l, r, "KTABLE-OUTERJOIN", opts, valueSerde, func(lv *VL, rv *VR) (V, bool) {
		if lv == nil && rv == nil {
			var zero V
			return zero, false
		}
		return joiner(lv, rv), true
	})
}

// ptr is &v when ok, nil otherwise.
func ptr[V any](v V, ok bool) *V {
	if !ok {
		return nil
	}
	return &v
}

// joinTables builds Kafka's table-table join: a processor below each table (join-this,
// join-other) that joins an update with the other table's current row, both forwarding to a
// merge processor that is the result table. join returns the result row for the two sides'
// rows (nil when absent) and whether there is one. An update is forwarded with the result
// before it as old value; nothing is forwarded when the key had no result before and has none
// after.
func joinTables[K, VL, VR, V any](l *KTable[K, VL], r *KTable[K, VR], prefix string, opts []Option, valueSerde Serde[V], join func(*VL, *VR) (V, bool)) *KTable[K, V] {
	b := l.b
	c := options(opts)
	l.requireLookup(prefix)
	r.requireLookup(prefix)
	thisName, otherName := b.nextName(prefix+"THIS", ""), b.nextName(prefix+"OTHER", "")
	if c.name != "" {
		thisName, otherName = c.name+"-join-this", c.name+"-join-other"
	}
	thisNode := tableNode(b, thisName, "", l.keySerde, valueSerde, func(tk *task, next func(Record[K, V]) error) (any, error) {
		get, err := r.lookup(tk)
		if err != nil {
			return nil, err
		}
		return func(u Record[K, VL]) error {
			rv, ok, err := get(u.Key)
			if err != nil {
				return fmt.Errorf("%s: table %s: %w", thisName, r.n.name, err)
			}
			other := ptr(rv, ok)
			newV, newOK := join(ptr(u.Value, !u.nullValue), other)
			oldV, oldOK := join(ptr(u.old, u.hasOld), other)
			if !newOK && !oldOK {
				return nil
			}
			return next(update(u.Key, newV, newOK, oldV, oldOK, u.Timestamp, u.Headers))
		}, nil
	}, l.n)
	otherNode := tableNode(b, otherName, "", l.keySerde, valueSerde, func(tk *task, next func(Record[K, V]) error) (any, error) {
		get, err := l.lookup(tk)
		if err != nil {
			return nil, err
		}
		return func(u Record[K, VR]) error {
			lv, ok, err := get(u.Key)
			if err != nil {
				return fmt.Errorf("%s: table %s: %w", otherName, l.n.name, err)
			}
			other := ptr(lv, ok)
			newV, newOK := join(other, ptr(u.Value, !u.nullValue))
			oldV, oldOK := join(other, ptr(u.old, u.hasOld))
			if !newOK && !oldOK {
				return nil
			}
			return next(update(u.Key, newV, newOK, oldV, oldOK, u.Timestamp, u.Headers))
		}, nil
	}, r.n)
	name := b.nextName("KTABLE-MERGE", c.name)
	merge := tableNode(b, name, c.store, l.keySerde, valueSerde, func(_ *task, next func(Record[K, V]) error) (any, error) {
		return next, nil
	}, thisNode, otherNode)
	out := &KTable[K, V]{b: b, n: merge, store: c.store, keySerde: l.keySerde, valueSerde: valueSerde}
	if c.store == "" && l.canLookup() && r.canLookup() {
		out.getter = func(tk *task) (valueGetter[K, V], error) {
			lget, err := l.lookup(tk)
			if err != nil {
				return nil, err
			}
			rget, err := r.lookup(tk)
			if err != nil {
				return nil, err
			}
			return func(k K) (V, bool, error) {
				var zero V
				lv, lok, err := lget(k)
				if err != nil {
					return zero, false, err
				}
				rv, rok, err := rget(k)
				if err != nil {
					return zero, false, err
				}
				v, ok := join(ptr(lv, lok), ptr(rv, rok))
				return v, ok, nil
			}, nil
		}
	}
	return out
}
