package streams

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// Windowed is a key of a windowed aggregation: the record key and the window it belongs to.
// For time windows Start is inclusive and End exclusive ([Start, End)); for session windows
// both are inclusive ([Start, End]), as in Kafka Streams. Times are ms since the Unix epoch.
type Windowed[K any] struct {
	Key   K
	Start int64
	End   int64
}

// String formats the key as Kafka Streams' Windowed.toString does: [key@start/end].
func (w Windowed[K]) String() string { return fmt.Sprintf("[%v@%d/%d]", w.Key, w.Start, w.End) }

// windowBounds lets Suppress read the window of a key whose type it only knows as K.
func (w Windowed[K]) windowBounds() (start, end int64) { return w.Start, w.End }

type windowBounder interface{ windowBounds() (start, end int64) }

// TimeWindowedSerde serialises a Windowed key of a time window as Kafka's
// TimeWindowedSerializer does: the key's bytes (through Key) followed by the window start as
// 8 big-endian bytes. The end is not written; Deserialize computes it as start + WindowSize
// (Kafka's TimeWindowedDeserializer needs the window size for the same reason). A WindowSize
// of 0 gives End = math.MaxInt64, Kafka's default.
type TimeWindowedSerde[K any] struct {
	Key        Serde[K]
	WindowSize time.Duration
}

// Serialize returns the key bytes followed by the 8-byte window start.
func (s TimeWindowedSerde[K]) Serialize(w Windowed[K]) ([]byte, error) {
	kb, err := s.Key.Serialize(w.Key)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(kb)+8), kb...), uint64(w.Start)), nil
}

// Deserialize splits the key bytes and the window start and computes the end.
func (s TimeWindowedSerde[K]) Deserialize(b []byte) (Windowed[K], error) {
	var w Windowed[K]
	if len(b) < 8 {
		return w, fmt.Errorf("streams: time-windowed key of %d bytes is shorter than the 8-byte window start", len(b))
	}
	n := len(b) - 8
	k, err := s.Key.Deserialize(b[:n])
	if err != nil {
		return w, err
	}
	w.Key, w.Start = k, int64(binary.BigEndian.Uint64(b[n:]))
	w.End = math.MaxInt64
	if size := s.WindowSize.Milliseconds(); size > 0 && w.Start <= math.MaxInt64-size {
		w.End = w.Start + size
	}
	return w, nil
}

// SessionWindowedSerde serialises a Windowed key of a session as Kafka's
// SessionWindowedSerializer does: the key's bytes (through Key), then the session end, then
// the session start, each as 8 big-endian bytes.
type SessionWindowedSerde[K any] struct {
	Key Serde[K]
}

// Serialize returns the key bytes followed by the 8-byte end and the 8-byte start.
func (s SessionWindowedSerde[K]) Serialize(w Windowed[K]) ([]byte, error) {
	kb, err := s.Key.Serialize(w.Key)
	if err != nil {
		return nil, err
	}
	return statestore.SessionKey(kb, w.Start, w.End), nil
}

// Deserialize splits the key bytes, the session end and the session start.
func (s SessionWindowedSerde[K]) Deserialize(b []byte) (Windowed[K], error) {
	var w Windowed[K]
	kb, start, end, err := statestore.SplitSessionKey(b)
	if err != nil {
		return w, fmt.Errorf("streams: session-windowed key: %w", err)
	}
	k, err := s.Key.Deserialize(kb)
	if err != nil {
		return w, err
	}
	return Windowed[K]{Key: k, Start: start, End: end}, nil
}

// Windows is a windowing of a grouped stream: TimeWindows (TumblingWindows, AdvanceBy for
// hopping windows), SlidingWindowSpec (SlidingWindows) or SessionWindowSpec (SessionWindows).
// Pass it to WindowedBy.
type Windows interface {
	windowRule
	// gracePeriod is how long after its end a window still accepts records.
	gracePeriod() int64
	// invalid describes what is wrong with the windows, "" if nothing.
	invalid() string
}

// TimeWindows are fixed-size windows: tumbling (TumblingWindows; windows follow each other
// without gap or overlap) or hopping (.AdvanceBy: a new window starts every advance, so windows
// overlap when advance < size). Window boundaries are aligned to the epoch: a window starts at
// a multiple of the advance. A record belongs to every window with start <= timestamp < end.
//
// The grace period defaults to 0, as Kafka 3.x's TimeWindows.ofSizeWithNoGrace: a window
// closes as soon as stream time reaches its end, and later records for it are dropped (and
// counted in Stats.DroppedRecords). Set one with Grace to accept out-of-order records.
type TimeWindows struct {
	size, advance, grace int64
	problem              string
}

// TumblingWindows returns tumbling windows of the given size and no grace period.
func TumblingWindows(size time.Duration) TimeWindows {
	w := TimeWindows{size: size.Milliseconds(), advance: size.Milliseconds()}
	if w.size <= 0 {
		w.problem = fmt.Sprintf("window size %s must be at least 1ms", size)
	}
	return w
}

// AdvanceBy makes hopping windows: a window of the same size starts every advance, which must
// be at least 1ms and at most the size.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.advance = advance.Milliseconds()
	if w.problem == "" && (w.advance <= 0 || w.advance > w.size) {
		w.problem = fmt.Sprintf("advance %s must be at least 1ms and at most the window size %dms", advance, w.size)
	}
	return w
}

// Grace sets how long after its end a window still accepts out-of-order records.
func (w TimeWindows) Grace(d time.Duration) TimeWindows {
	w.grace = d.Milliseconds()
	if w.problem == "" && d < 0 {
		w.problem = fmt.Sprintf("grace period %s must not be negative", d)
	}
	return w
}

// Size is the window size.
func (w TimeWindows) Size() time.Duration { return msDuration(w.size) }

func (w TimeWindows) gracePeriod() int64 { return w.grace }
func (w TimeWindows) invalid() string    { return w.problem }

// windowStarts returns the starts of the windows that contain ts, in increasing order
// (Kafka's TimeWindows.windowsFor).
func (w TimeWindows) windowStarts(ts int64) []int64 {
	start := max(0, ts-w.size+w.advance) / w.advance * w.advance
	var starts []int64
	for ; start <= ts; start += w.advance {
		starts = append(starts, start)
	}
	return starts
}

// SessionWindowSpec are session windows: a session of a key gathers its records until no
// record arrives for the inactivity gap. A record that falls within the gap of two sessions
// merges them into one. A session [start, end] closes when stream time passes end + gap +
// grace (Kafka 3.x). Made by SessionWindows; the grace period defaults to 0, as Kafka's
// SessionWindows.ofInactivityGapWithNoGrace.
type SessionWindowSpec struct {
	gap, grace int64
	problem    string
}

// SessionWindows returns session windows with the given inactivity gap and no grace period.
func SessionWindows(inactivityGap time.Duration) SessionWindowSpec {
	w := SessionWindowSpec{gap: inactivityGap.Milliseconds()}
	if w.gap <= 0 {
		w.problem = fmt.Sprintf("inactivity gap %s must be at least 1ms", inactivityGap)
	}
	return w
}

// Grace sets how long after a session has closed (end + gap) it still accepts records.
func (w SessionWindowSpec) Grace(d time.Duration) SessionWindowSpec {
	w.grace = d.Milliseconds()
	if w.problem == "" && d < 0 {
		w.problem = fmt.Sprintf("grace period %s must not be negative", d)
	}
	return w
}

// InactivityGap is the session inactivity gap.
func (w SessionWindowSpec) InactivityGap() time.Duration { return msDuration(w.gap) }

func (w SessionWindowSpec) gracePeriod() int64 { return w.grace }
func (w SessionWindowSpec) invalid() string    { return w.problem }

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// WindowedKStream is a grouped stream with a windowing, ready for a windowed aggregation
// (Count, Reduce, WindowedAggregate, SessionAggregate) into a KTable keyed by Windowed[K].
// Named after Kafka Streams' TimeWindowedKStream and SessionWindowedKStream, which it both is.
type WindowedKStream[K, V any] struct {
	g *KGroupedStream[K, V]
	w Windows
}

// WindowedBy windows a grouped stream: w is TumblingWindows(...) (optionally .AdvanceBy for
// hopping windows), SlidingWindows(...) or SessionWindows(...), with an optional .Grace:
//
//	counts := streams.WindowedBy(grouped, streams.TumblingWindows(time.Minute)).Count()
//
// NB: a function, not a method of KGroupedStream as in Kafka Streams: a method would make Go
// instantiate KGroupedStream[Windowed[K]], then KGroupedStream[Windowed[Windowed[K]]], ... (an
// instantiation cycle through KTable.ToStream and GroupByKey), which Go rejects.
func WindowedBy[K, V any](g *KGroupedStream[K, V], w Windows) *WindowedKStream[K, V] {
	if w == nil {
		g.s.b.errorf("WindowedBy below %s: nil windows", g.s.n.name)
	} else if p := w.invalid(); p != "" {
		g.s.b.errorf("WindowedBy below %s: %s", g.s.n.name, p)
	}
	return &WindowedKStream[K, V]{g: g, w: w}
}

// Count counts records per key and window into a KTable[Windowed[K], int64], updated (and
// emitted) on every record; use Suppress for one final count per window.
func (w *WindowedKStream[K, V]) Count(opts ...Option) *KTable[Windowed[K], int64] {
	return windowedAggregate(w, "KSTREAM-AGGREGATE", opts, statestore.Int64{},
		func(_ K, _ V, agg int64, _ bool) int64 { return agg + 1 },
		func(_ K, agg int64, _ bool, other int64) int64 { return agg + other })
}

// Reduce combines the values of each key and window with reducer (a window's first value is
// kept as is). For sessions, reducer also merges the aggregates of merged sessions.
func (w *WindowedKStream[K, V]) Reduce(reducer func(agg, value V) V, opts ...Option) *KTable[Windowed[K], V] {
	return windowedAggregate(w, "KSTREAM-REDUCE", opts, w.g.s.valueSerde,
		func(_ K, v V, agg V, found bool) V {
			if !found {
				return v
			}
			return reducer(agg, v)
		},
		func(_ K, agg V, found bool, other V) V {
			if !found {
				return other
			}
			return reducer(agg, other)
		})
}

// WindowedAggregate folds the values of each key and time (or sliding) window into an A,
// starting from initial(), into a KTable[Windowed[K], A]. Session windows need a merger: use
// SessionAggregate.
func WindowedAggregate[K, V, A any](w *WindowedKStream[K, V], initial func() A, aggregator func(key K, value V, agg A) A, aggSerde Serde[A], opts ...Option) *KTable[Windowed[K], A] {
	if _, ok := w.w.(SessionWindowSpec); ok {
		w.g.s.b.errorf("WindowedAggregate below %s: session windows merge aggregates; use SessionAggregate with a merger", w.g.s.n.name)
	}
	return windowedAggregate(w, "KSTREAM-AGGREGATE", opts, aggSerde,
		func(k K, v V, agg A, found bool) A {
			if !found {
				agg = initial()
			}
			return aggregator(k, v, agg)
		}, nil)
}

// SessionAggregate folds the values of each key and session into an A, starting from
// initial(); when a record merges sessions, merger combines their aggregates (Kafka's
// Merger). The result is a KTable[Windowed[K], A] in which a merged-away session is deleted (a
// tombstone, a null value on an output topic).
func SessionAggregate[K, V, A any](w *WindowedKStream[K, V], initial func() A, aggregator func(key K, value V, agg A) A, merger func(key K, agg1, agg2 A) A, aggSerde Serde[A], opts ...Option) *KTable[Windowed[K], A] {
	if _, ok := w.w.(SessionWindowSpec); !ok && w.w != nil {
		w.g.s.b.errorf("SessionAggregate below %s: needs SessionWindows; use WindowedAggregate for time windows", w.g.s.n.name)
	}
	if merger == nil {
		w.g.s.b.errorf("SessionAggregate below %s: merger is required", w.g.s.n.name)
	}
	return windowedAggregate(w, "KSTREAM-AGGREGATE", opts, aggSerde,
		func(k K, v V, agg A, found bool) A {
			if !found {
				agg = initial()
			}
			return aggregator(k, v, agg)
		}, func(k K, agg A, found bool, other A) A {
			if !found {
				agg = initial()
			}
			return merger(k, agg, other)
		})
}

// windowedAggregate adds the processor of a windowed aggregation and its window or session
// store. f updates a window's aggregate with a record (found is false for the window's first
// record); merge folds the aggregate of a merging session into agg (found is false for the
// first merging session).
func windowedAggregate[K, V, A any](w *WindowedKStream[K, V], prefix string, opts []Option, aggSerde Serde[A],
	f func(k K, v V, agg A, found bool) A, merge func(k K, agg A, found bool, other A) A) *KTable[Windowed[K], A] {
	s, b := w.g.s, w.g.s.b
	c := options(opts)
	name := b.nextName(prefix, c.name)
	store := c.store
	if store == "" {
		store = fmt.Sprintf("%s-STATE-STORE-%010d", prefix, b.index-1)
	}
	keySerde := s.keySerde
	if keySerde == nil || aggSerde == nil {
		b.errorf("%s (store %q): unknown key or aggregate serde", name, store)
	}
	n := &node{kind: processorNode, name: name, stores: []string{store}, cachingDisabled: c.cachingDisabled}
	table := &KTable[Windowed[K], A]{b: b, n: n, store: store, valueSerde: aggSerde}
	switch ws := w.w.(type) {
	case TimeWindows:
		n.window = ws
		table.keySerde = TimeWindowedSerde[K]{Key: keySerde, WindowSize: ws.Size()}
		n.instantiate = timeWindowProcessor(n, store, ws, keySerde, aggSerde, f)
		b.addNode(n, s.n)
		b.addWindowedStore(store, name, windowStore, ws.retention())
	case SlidingWindowSpec:
		n.window = ws
		table.keySerde = TimeWindowedSerde[K]{Key: keySerde, WindowSize: ws.TimeDifference()}
		n.instantiate = slidingWindowProcessor(n, store, ws, keySerde, aggSerde, f)
		b.addNode(n, s.n)
		b.addWindowedStore(store, name, windowStore, ws.retention())
	case SessionWindowSpec:
		n.window = ws
		table.keySerde = SessionWindowedSerde[K]{Key: keySerde}
		n.instantiate = sessionWindowProcessor(n, store, ws, keySerde, aggSerde, f, merge)
		b.addNode(n, s.n)
		b.addWindowedStore(store, name, sessionStore, ws.retention())
	default:
		if w.w != nil {
			b.errorf("%s: unsupported windows %T", name, w.w)
		}
		n.instantiate = func(*task, []any) (any, error) { return nil, fmt.Errorf("%s: no windows", name) }
		b.addNode(n, s.n)
	}
	return table
}

// timeWindowProcessor aggregates each record into every time window that contains it and is
// still open, and forwards each updated window, timestamped with the largest timestamp of the
// window's records (as Kafka 3.x). A window's stored value is that timestamp (8 bytes
// big-endian) followed by the serialised aggregate, as in Kafka's timestamped window store.
func timeWindowProcessor[K, V, A any](n *node, store string, ws TimeWindows, keySerde Serde[K], aggSerde Serde[A],
	f func(k K, v V, agg A, found bool) A) func(t *task, children []any) (any, error) {
	name := n.name
	return func(t *task, children []any) (any, error) {
		wst, err := t.windowStore(store)
		if err != nil {
			return nil, err
		}
		next := cachedForward(t, n, fanout[Windowed[K], A](children))
		return func(r Record[K, V]) error {
			if dropNull(t, name, r, false) {
				return nil
			}
			if r.Timestamp < 0 {
				t.dropLate(name, r.Timestamp, -1, -1)
				return nil
			}
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			for _, start := range ws.windowStarts(r.Timestamp) {
				end := start + ws.size
				if windowClosed(ws, end, t.streamTime) {
					t.dropLate(name, r.Timestamp, start, end)
					continue
				}
				var agg A
				old, found, err := wst.Get(kb, start)
				if err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				outTs := r.Timestamp
				if found {
					if len(old) < 8 {
						return fmt.Errorf("%s: store %s: corrupt window value of %d bytes", name, store, len(old))
					}
					if agg, err = aggSerde.Deserialize(old[8:]); err != nil {
						return fmt.Errorf("%s: store %s: deserialize aggregate: %w", name, store, err)
					}
					outTs = max(outTs, int64(binary.BigEndian.Uint64(old)))
				}
				agg = f(r.Key, r.Value, agg, found)
				ab, err := aggSerde.Serialize(agg)
				if err != nil {
					return fmt.Errorf("%s: serialize aggregate: %w", name, err)
				}
				v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(ab)), uint64(outTs))
				if err := wst.Put(kb, start, append(v, ab...)); err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				out := Record[Windowed[K], A]{Key: Windowed[K]{Key: r.Key, Start: start, End: end},
					Value: agg, Timestamp: outTs, Headers: r.Headers}
				if err := next(statestore.WindowKey(kb, start), out, len(v)+len(ab)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
}

// session is a stored session found for a merge.
type session struct {
	start, end int64
	value      []byte
}

// sessionWindowProcessor merges each record with the sessions of its key within the
// inactivity gap (Kafka's KStreamSessionWindowAggregate): the merged sessions are removed and
// forwarded as tombstones, and the merged session, with the record aggregated in, is stored and
// forwarded with the session end as its timestamp.
func sessionWindowProcessor[K, V, A any](n *node, store string, ws SessionWindowSpec, keySerde Serde[K], aggSerde Serde[A],
	f func(k K, v V, agg A, found bool) A, merge func(k K, agg A, found bool, other A) A) func(t *task, children []any) (any, error) {
	name := n.name
	return func(t *task, children []any) (any, error) {
		sst, err := t.sessionStore(store)
		if err != nil {
			return nil, err
		}
		next := cachedForward(t, n, fanout[Windowed[K], A](children))
		return func(r Record[K, V]) error {
			if dropNull(t, name, r, false) {
				return nil
			}
			ts := r.Timestamp
			if ts < 0 {
				t.dropLate(name, ts, -1, -1)
				return nil
			}
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			var merged []session
			it := sst.FindSessions(kb, ts-ws.gap, ts+ws.gap)
			for it.Next() {
				merged = append(merged, session{it.Start(), it.End(), append([]byte(nil), it.Value()...)})
			}
			if err := it.Close(); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			start, end := ts, ts
			var agg A
			found := false
			for _, s := range merged {
				a, err := aggSerde.Deserialize(s.value)
				if err != nil {
					return fmt.Errorf("%s: store %s: deserialize aggregate: %w", name, store, err)
				}
				agg, found = merge(r.Key, agg, found, a), true
				start, end = min(start, s.start), max(end, s.end)
			}
			if windowClosed(ws, end, t.streamTime) {
				t.dropLate(name, ts, start, end)
				return nil
			}
			if start != ts || end != ts {
				for _, s := range merged {
					if err := sst.Remove(kb, s.start, s.end); err != nil {
						return fmt.Errorf("%s: store %s: %w", name, store, err)
					}
					out := Record[Windowed[K], A]{Key: Windowed[K]{Key: r.Key, Start: s.start, End: s.end},
						Timestamp: s.end, Headers: r.Headers, nullValue: true}
					if err := next(statestore.SessionKey(kb, s.start, s.end), out, 0); err != nil {
						return err
					}
				}
			}
			agg = f(r.Key, r.Value, agg, found)
			ab, err := aggSerde.Serialize(agg)
			if err != nil {
				return fmt.Errorf("%s: serialize aggregate: %w", name, err)
			}
			if err := sst.Put(kb, start, end, ab); err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			return next(statestore.SessionKey(kb, start, end), Record[Windowed[K], A]{Key: Windowed[K]{Key: r.Key, Start: start, End: end},
				Value: agg, Timestamp: end, Headers: r.Headers}, len(ab))
		}, nil
	}
}
