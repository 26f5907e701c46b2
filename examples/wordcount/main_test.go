package main

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams/streamstest"
)

func TestWordCountWritesEveryNewCountAndKeepsTheTotalsInItsStore(t *testing.T) {
	topology, err := buildTopology("lines", "word-counts")
	if err != nil {
		t.Fatal(err)
	}
	d := streamstest.New(t, topology, streamstest.Options{})
	lines := streamstest.Input(d, "lines", statestore.String{}, statestore.String{})
	counts := streamstest.Output(d, "word-counts", statestore.String{}, statestore.String{})

	lines.PipeValue("The quick brown fox", 1000)
	lines.PipeValue("the lazy dog, the END.", 2000)

	// One update per word, in order, each with the timestamp of its line.
	var got []string
	for _, r := range counts.ReadAll() {
		got = append(got, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp))
	}
	want := []string{"the=1@1000", "quick=1@1000", "brown=1@1000", "fox=1@1000",
		"the=2@2000", "lazy=1@2000", "dog=1@2000", "the=3@2000", "end=1@2000"}
	if !slices.Equal(got, want) {
		t.Fatalf("word-counts:\n got %q\nwant %q", got, want)
	}

	stored := streamstest.ReadStore(d, "counts", statestore.String{}, statestore.Int64{})
	wantStored := map[string]int64{"the": 3, "quick": 1, "brown": 1, "fox": 1, "lazy": 1, "dog": 1, "end": 1}
	if len(stored) != len(wantStored) {
		t.Fatalf("store counts = %v, want %v", stored, wantStored)
	}
	for w, n := range wantStored {
		if stored[w] != n {
			t.Fatalf("store counts = %v, want %v", stored, wantStored)
		}
	}

	// A later line continues from the stored counts.
	lines.PipeValue("fox", 3000)
	if latest := streamstest.ToMap(counts.Latest()); latest["fox"] != "2" || latest["the"] != "3" {
		t.Fatalf("latest counts = %v, want fox=2 and the=3", latest)
	}
}
