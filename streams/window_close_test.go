package streams

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// closeEvent is one step of a task's run as the property test sees it, in processing order:
// an input record, an update of the windowed count, or a final result of its Suppress.
type closeEvent struct {
	kind  byte // 'i' input, 'u' update, 'f' final
	key   Windowed[string]
	ts    int64 // input timestamp
	value int64
	tomb  bool
}

// closeHarness runs a windowed count and its Suppress in one task, without a broker: real
// processors, real stores (LevelDB, no changelog), the records fed to the task directly.
type closeHarness struct {
	t      *testing.T
	app    *App
	sub    *subtopology
	task   *task
	events []closeEvent
	offset int64
}

func newCloseHarness(t *testing.T, w Windows) *closeHarness {
	h := &closeHarness{t: t}
	b := NewBuilder()
	src := Stream(b, "events", statestore.String{}, statestore.String{})
	stateless(src, "TEST-INPUT", nil, func(r Record[string, string], _ func(Record[string, string]) error) error {
		h.events = append(h.events, closeEvent{kind: 'i', key: Windowed[string]{Key: r.Key}, ts: r.Timestamp})
		return nil
	})
	counts := WindowedBy(src.GroupByKey(), w).Count(Materialized("counts"))
	record := func(kind byte) func(Record[Windowed[string], int64], func(Record[Windowed[string], int64]) error) error {
		return func(r Record[Windowed[string], int64], _ func(Record[Windowed[string], int64]) error) error {
			h.events = append(h.events, closeEvent{kind: kind, key: r.Key, value: r.Value, tomb: r.nullValue})
			return nil
		}
	}
	stateless(counts.ToStream(), "TEST-UPDATE", nil, record('u'))
	stateless(counts.Suppress(UntilWindowCloses(Unbounded()), Materialized("finals")).ToStream(), "TEST-FINAL", nil, record('f'))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	h.app, err = New(topo, Config{ApplicationID: "close-rule", BootstrapServers: []string{"127.0.0.1:1"},
		StateDir: t.TempDir(), CacheMaxEntries: 1000,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.sub = topo.subs[0]
	h.open()
	t.Cleanup(func() { h.task.close() })
	return h
}

func (h *closeHarness) open() {
	tk, err := openTask(context.Background(), h.app, h.sub, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	h.task = tk
}

// restart commits the task (its stores and position) and reopens it from its local state.
func (h *closeHarness) restart() {
	if err := h.task.flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.task.close()
	h.open()
}

func (h *closeHarness) feed(key string, ts int64) {
	r := &kgo.Record{Topic: "events", Key: []byte(key), Value: []byte("x"), Timestamp: time.UnixMilli(ts), Offset: h.offset}
	h.offset++
	if _, _, err := h.task.process(context.Background(), "events", []*kgo.Record{r}); err != nil {
		h.t.Fatal(err)
	}
}

// check verifies the run against the spec's rule: updates only of open windows (and, for time
// windows, of exactly the open windows of the record), one final result per window, when the
// first record closing it is processed, with its last value, in order of window end; at the
// end, every window still open is in the store with its last value.
func (h *closeHarness) check(w Windows) (finals int) {
	h.t.Helper()
	type win = Windowed[string]
	streamTime := int64(-1)
	pending := map[win]int64{}
	final := map[win]bool{}
	lastEnd := int64(-1)
	var expect map[win]bool // the time windows a record must update
	endInput := func() {
		for k := range expect {
			h.t.Fatalf("record at stream time %d did not update its open window %v", streamTime, k)
		}
	}
	for i, e := range h.events {
		switch e.kind {
		case 'i':
			endInput()
			for k := range pending {
				if windowClosed(w, k.End, streamTime) {
					h.t.Fatalf("event %d: window %v closed at stream time %d (close time %d) without a final result", i, k, streamTime, w.closeTime(k.End))
				}
			}
			streamTime = max(streamTime, e.ts)
			if tw, ok := w.(TimeWindows); ok {
				expect = map[win]bool{}
				for _, s := range tw.windowStarts(e.ts) {
					if !windowClosed(w, s+tw.size, streamTime) {
						expect[win{Key: e.key.Key, Start: s, End: s + tw.size}] = true
					}
				}
			}
		case 'u':
			if e.tomb {
				// A session merged into a new one (possibly one closed already: Kafka's rule
				// merges a session within the gap of the record).
				delete(pending, e.key)
				continue
			}
			if windowClosed(w, e.key.End, streamTime) {
				h.t.Fatalf("event %d: update of %v, closed at stream time %d", i, e.key, streamTime)
			}
			if expect != nil && !expect[e.key] {
				h.t.Fatalf("event %d: update of %v, not an open window of the record", i, e.key)
			}
			delete(expect, e.key)
			pending[e.key] = e.value
		case 'f':
			v, ok := pending[e.key]
			switch {
			case final[e.key]:
				h.t.Fatalf("event %d: second final result of %v", i, e.key)
			case !windowClosed(w, e.key.End, streamTime):
				h.t.Fatalf("event %d: final result of %v at stream time %d, before it closes at %d", i, e.key, streamTime, w.closeTime(e.key.End))
			case !ok || v != e.value:
				h.t.Fatalf("event %d: final result %v=%d, last update %d (pending %v)", i, e.key, e.value, v, ok)
			case e.key.End < lastEnd:
				h.t.Fatalf("event %d: final result of %v after one ending at %d", i, e.key, lastEnd)
			}
			lastEnd = e.key.End
			final[e.key] = true
			finals++
			delete(pending, e.key)
		}
	}
	endInput()
	for k, v := range pending {
		if windowClosed(w, k.End, streamTime) {
			h.t.Fatalf("window %v closed at stream time %d without a final result", k, streamTime)
		}
		if got, ok := h.stored(w, k); !ok || got != v {
			h.t.Fatalf("open window %v: store has %d (found %v), last update %d: retention dropped an open window", k, got, ok, v)
		}
	}
	return finals
}

// stored reads a window's count from the aggregation's store.
func (h *closeHarness) stored(w Windows, k Windowed[string]) (int64, bool) {
	h.t.Helper()
	var raw []byte
	if _, ok := w.(SessionWindowSpec); ok {
		ss, err := h.task.sessionStore("counts")
		if err != nil {
			h.t.Fatal(err)
		}
		it := ss.FindSessions([]byte(k.Key), k.End, k.Start)
		for it.Next() {
			if it.Start() == k.Start && it.End() == k.End {
				raw = append([]byte(nil), it.Value()...)
			}
		}
		if err := it.Close(); err != nil {
			h.t.Fatal(err)
		}
		if raw == nil {
			return 0, false
		}
	} else {
		ws, err := h.task.windowStore("counts")
		if err != nil {
			h.t.Fatal(err)
		}
		v, ok, err := ws.Get([]byte(k.Key), k.Start)
		if err != nil {
			h.t.Fatal(err)
		}
		if !ok || len(v) < 8 {
			return 0, false
		}
		raw = v[8:]
	}
	n, err := statestore.Int64{}.Deserialize(raw)
	if err != nil {
		h.t.Fatalf("window %v: stored count %x: %v", k, raw, err)
	}
	return n, true
}

// TestWindowCloseRuleAggregationSuppressAndRetentionAgreeOnRandomTimelines replays random
// timelines (mostly in order, some records out of order within grace, some later than grace,
// restarts in between) through each window spec's count and Suppress, and checks them
// against the spec's one closing rule.
func TestWindowCloseRuleAggregationSuppressAndRetentionAgreeOnRandomTimelines(t *testing.T) {
	t.Parallel()
	specs := []struct {
		name string
		w    Windows
	}{
		{"tumbling", TumblingWindows(10 * time.Millisecond).Grace(15 * time.Millisecond)},
		{"tumbling-no-grace", TumblingWindows(10 * time.Millisecond)},
		{"hopping", TumblingWindows(20 * time.Millisecond).AdvanceBy(5 * time.Millisecond).Grace(7 * time.Millisecond)},
		{"sliding", SlidingWindows(10 * time.Millisecond).Grace(12 * time.Millisecond)},
		{"session", SessionWindows(8 * time.Millisecond).Grace(10 * time.Millisecond)},
		{"session-no-grace", SessionWindows(5 * time.Millisecond)},
	}
	const timelines, records = 6, 80
	for _, spec := range specs {
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			finals, dropped := 0, int64(0)
			for seed := range uint64(timelines) {
				t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 15))
					h := newCloseHarness(t, spec.w)
					now := int64(rng.IntN(20))
					for range records {
						ts := now
						switch p := rng.IntN(10); {
						case p < 6:
							now += int64(rng.IntN(6))
							ts = now
						case p < 9: // out of order: within grace or later
							ts = max(0, now-int64(rng.IntN(40)))
						default:
							now += int64(10 + rng.IntN(30))
							ts = now
						}
						h.feed(fmt.Sprintf("k%d", rng.IntN(3)), ts)
						if rng.IntN(25) == 0 {
							h.restart()
						}
					}
					finals += h.check(spec.w)
					dropped += h.app.droppedRecords.Load()
				})
			}
			// NB: the timelines must exercise the rule, not pass vacuously.
			if finals == 0 || dropped == 0 {
				t.Fatalf("%d final results and %d late records in %d timelines: the timelines do not test the rule", finals, dropped, timelines)
			}
		})
	}
}
