package streams

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/statestore"
)

// SlidingWindowSpec are sliding windows (Kafka's SlidingWindows): windows of a fixed time
// difference, both ends inclusive ([start, start + timeDifference]), that are not aligned to
// the epoch but to the records: every distinct set of a key's records that fit within the
// time difference has exactly one window. A record at t creates the window ending at t and,
// when later records exist within the difference, the window starting at t+1, and updates
// every existing window that contains t. Made by SlidingWindows; the grace period defaults to
// 0, as Kafka 3.x's SlidingWindows.ofTimeDifferenceWithNoGrace.
//
// A window closes when stream time passes its end + grace. Records with timestamps below the
// time difference all go into the window [0, timeDifference], as in Kafka Streams.
type SlidingWindowSpec struct {
	diff, grace int64
	problem     string
}

// NB: the spec types (TimeWindows, SessionWindowSpec, SlidingWindowSpec) read alike on purpose:
// each is a small value with its own validation message, and their shared rules (grace, closing,
// retention) live once in setGrace and window_close.go.

// SlidingWindows returns sliding windows of the given time difference and no grace period.
func SlidingWindows(timeDifference time.Duration) SlidingWindowSpec {
	w := SlidingWindowSpec{diff: timeDifference.Milliseconds()}
	if w.diff <= 0 {
		w.problem = fmt.Sprintf("sliding window time difference %s must be at least 1ms", timeDifference)
	}
	return w
}

// Grace sets how long after its end a window still accepts out-of-order records.
func (w SlidingWindowSpec) Grace(d time.Duration) SlidingWindowSpec {
	setGrace(&w.grace, &w.problem, d)
	return w
}

// TimeDifference is the window size.
func (w SlidingWindowSpec) TimeDifference() time.Duration { return msDuration(w.diff) }

func (w SlidingWindowSpec) gracePeriod() int64 { return w.grace }
func (w SlidingWindowSpec) invalid() string    { return w.problem }

// slidingAgg is the content of one sliding window: its aggregate and the largest timestamp of
// its records (Kafka keeps both in a timestamped window store). found is false for a window
// about to be created, whose aggregate starts from the initializer.
type slidingAgg[A any] struct {
	agg   A
	ts    int64
	found bool
}

// slidingWindow is a stored window met while processing a record.
type slidingWindow[A any] struct {
	start int64
	slidingAgg[A]
}

// slidingWindowProcessor is Kafka Streams' sliding window aggregation (KStreamSlidingWindowAggregate,
// its in-order variant): windows are stored by start, each value holding the largest record
// timestamp (8 bytes big-endian) followed by the serialised aggregate.
func slidingWindowProcessor[K, V, A any](n *node, store string, ws SlidingWindowSpec, keySerde Serde[K], aggSerde Serde[A],
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
			ts, diff := r.Timestamp, ws.diff
			// NB: the last window a record at ts can be in ends at ts + diff.
			if ts < 0 || windowClosed(ws, ts+diff, t.streamTime) {
				t.dropLate(name, ts, ts-diff, ts)
				return nil
			}
			kb, err := keySerde.Serialize(r.Key)
			if err != nil {
				return fmt.Errorf("%s: serialize key: %w", name, err)
			}
			put := func(start int64, a slidingAgg[A]) error {
				ab, err := aggSerde.Serialize(a.agg)
				if err != nil {
					return fmt.Errorf("%s: serialize aggregate: %w", name, err)
				}
				v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(ab)), uint64(a.ts))
				if err := wst.Put(kb, start, append(v, ab...)); err != nil {
					return fmt.Errorf("%s: store %s: %w", name, store, err)
				}
				return next(statestore.WindowKey(kb, start), Record[Windowed[K], A]{Key: Windowed[K]{Key: r.Key, Start: start, End: start + diff},
					Value: a.agg, Timestamp: a.ts, Headers: r.Headers}, len(v)+len(ab))
			}
			// update adds the record to the window starting at start, unless it has closed.
			update := func(start int64, cur slidingAgg[A]) error {
				if windowClosed(ws, start+diff, t.streamTime) {
					t.dropLate(name, ts, start, start+diff)
					return nil
				}
				newTs := ts
				if cur.found {
					newTs = max(ts, cur.ts)
				}
				return put(start, slidingAgg[A]{agg: f(r.Key, r.Value, cur.agg, cur.found), ts: newTs, found: true})
			}
			windows, err := fetchSliding(wst, kb, max(0, ts-2*diff), ts+1, aggSerde)
			if err != nil {
				return fmt.Errorf("%s: store %s: %w", name, store, err)
			}
			if ts < diff {
				return processEarlySliding(windows, ts, diff, update, put)
			}
			return processSliding(windows, ts, diff, update, put)
		}, nil
	}
}

// fetchSliding reads key's windows starting in [from, to], in start order.
func fetchSliding[A any](wst *statestore.WindowStore, kb []byte, from, to int64, aggSerde Serde[A]) ([]slidingWindow[A], error) {
	var out []slidingWindow[A]
	it := wst.Fetch(kb, from, to)
	for it.Next() {
		v := it.Value()
		if len(v) < 8 {
			it.Close()
			return nil, fmt.Errorf("corrupt sliding window value of %d bytes", len(v))
		}
		agg, err := aggSerde.Deserialize(v[8:])
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("deserialize aggregate: %w", err)
		}
		out = append(out, slidingWindow[A]{start: it.WindowStart(),
			slidingAgg: slidingAgg[A]{agg: agg, ts: int64(binary.BigEndian.Uint64(v)), found: true}})
	}
	return out, it.Close()
}

// processSliding handles a record at ts >= diff given the windows of its key starting in
// [ts - 2*diff, ts + 1], in start order.
func processSliding[A any](windows []slidingWindow[A], ts, diff int64,
	update func(start int64, cur slidingAgg[A]) error, put func(start int64, a slidingAgg[A]) error) error {
	starts := map[int64]bool{}
	var leftAgg, rightAgg *slidingAgg[A]
	leftExists, rightExists := false, false
	previous := int64(-1) // the latest timestamp of a record before ts, -1 if none
	for i := range windows {
		w := &windows[i]
		starts[w.start] = true
		end := w.start + diff
		switch {
		case end < ts:
			leftAgg, previous = &w.slidingAgg, w.ts
		case end == ts:
			leftExists = true
			if w.ts < ts {
				previous = w.ts
			}
			if err := update(w.start, w.slidingAgg); err != nil {
				return err
			}
		case w.start <= ts:
			cur := w.slidingAgg // NB: the window's content before this record joins it
			rightAgg = &cur
			if err := update(w.start, w.slidingAgg); err != nil {
				return err
			}
		case w.start == ts+1:
			rightExists = true
		default:
			return fmt.Errorf("unexpected sliding window starting at %d for a record at %d", w.start, ts)
		}
	}
	// The previous record's right window, if it does not exist yet and this record falls in it.
	if previous >= 0 && !starts[previous+1] && previous+1+diff >= ts {
		if err := update(previous+1, slidingAgg[A]{}); err != nil {
			return err
		}
	}
	// This record's left window [ts - diff, ts], holding the previous records within diff.
	if !leftExists {
		cur := slidingAgg[A]{}
		if previous >= 0 && ts-diff <= previous && leftAgg != nil {
			cur = slidingAgg[A]{agg: leftAgg.agg, ts: ts, found: true}
		}
		if err := update(ts-diff, cur); err != nil {
			return err
		}
	}
	// This record's right window [ts + 1, ts + 1 + diff], when later records exist.
	if !rightExists && rightAgg != nil && rightAgg.ts > ts {
		return put(ts+1, *rightAgg)
	}
	return nil
}

// processEarlySliding handles a record at ts < diff: the windows that would start before 0 are
// all the window [0, diff].
func processEarlySliding[A any](windows []slidingWindow[A], ts, diff int64,
	update func(start int64, cur slidingAgg[A]) error, put func(start int64, a slidingAgg[A]) error) error {
	starts := map[int64]bool{}
	var combined, rightAgg *slidingAgg[A]
	rightExists := false
	previous := int64(-1)
	for i := range windows {
		w := &windows[i]
		starts[w.start] = true
		switch {
		case w.start == 0:
			combined = &w.slidingAgg
			if w.ts < ts {
				previous = w.ts
			}
		case w.start <= ts:
			cur := w.slidingAgg
			rightAgg = &cur
			if err := update(w.start, w.slidingAgg); err != nil {
				return err
			}
		case w.start == ts+1:
			rightExists = true
		default:
			return fmt.Errorf("unexpected sliding window starting at %d for an early record at %d", w.start, ts)
		}
	}
	// Without a right window found, the combined window's records after ts form this record's.
	if rightAgg == nil && combined != nil && combined.ts > ts {
		rightAgg = combined
	}
	if !rightExists && rightAgg != nil && rightAgg.ts > ts {
		if err := put(ts+1, *rightAgg); err != nil {
			return err
		}
	}
	if previous >= 0 && !starts[previous+1] {
		if err := update(previous+1, slidingAgg[A]{}); err != nil {
			return err
		}
	}
	if combined == nil {
		return update(0, slidingAgg[A]{})
	}
	return update(0, *combined)
}
