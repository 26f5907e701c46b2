package streams

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// simulateSliding runs the sliding window algorithm for a count over timestamps, with a map as
// the window store, and returns the windows by start.
func simulateSliding(t *testing.T, diff int64, timestamps []int64) map[int64]slidingAgg[int64] {
	store := map[int64]slidingAgg[int64]{}
	for _, ts := range timestamps {
		var windows []slidingWindow[int64]
		for start, a := range store {
			if start >= max(0, ts-2*diff) && start <= ts+1 {
				windows = append(windows, slidingWindow[int64]{start: start, slidingAgg: a})
			}
		}
		slices.SortFunc(windows, func(a, b slidingWindow[int64]) int { return int(a.start - b.start) })
		update := func(start int64, cur slidingAgg[int64]) error {
			newTs := ts
			if cur.found {
				newTs = max(ts, cur.ts)
			}
			store[start] = slidingAgg[int64]{agg: cur.agg + 1, ts: newTs, found: true}
			return nil
		}
		put := func(start int64, a slidingAgg[int64]) error {
			store[start] = a
			return nil
		}
		var err error
		if ts < diff {
			err = processEarlySliding(windows, ts, diff, update, put)
		} else {
			err = processSliding(windows, ts, diff, update, put)
		}
		if err != nil {
			t.Fatalf("record at %d after %v: %v", ts, timestamps, err)
		}
	}
	return store
}

func TestSlidingWindowsHoldExactlyTheRecordsWithinThemWhateverTheOrder(t *testing.T) {
	const diff = 10
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 500 {
		n := 1 + rng.IntN(25)
		timestamps := make([]int64, n)
		for i := range timestamps {
			timestamps[i] = rng.Int64N(80)
		}
		store := simulateSliding(t, diff, timestamps)
		count := func(from, to int64) (c int64, latest int64) {
			latest = -1
			for _, ts := range timestamps {
				if ts >= from && ts <= to {
					c++
					latest = max(latest, ts)
				}
			}
			return c, latest
		}
		for start, w := range store {
			want, latest := count(start, start+diff)
			if w.agg != want || w.ts != latest {
				t.Fatalf("run %d, records %v: window [%d,%d] holds %d (max ts %d), want %d (max ts %d)",
					run, timestamps, start, start+diff, w.agg, w.ts, want, latest)
			}
		}
		for _, ts := range timestamps {
			left := max(0, ts-diff)
			if ts < diff {
				left = 0
			}
			if _, ok := store[left]; !ok {
				t.Fatalf("run %d, records %v: no window ending at record %d", run, timestamps, ts)
			}
			if c, _ := count(ts+1, ts+1+diff); c > 0 {
				if _, ok := store[ts+1]; !ok {
					t.Fatalf("run %d, records %v: no right window after record %d", run, timestamps, ts)
				}
			}
		}
	}
}
