package streamstest_test

import (
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
)

func wordCountTopology(t *testing.T) *streams.Topology {
	b := streams.NewBuilder()
	lines := streams.Stream(b, "lines", statestore.String{}, statestore.String{})
	words := streams.FlatMapValues(lines, func(_, line string) []string { return strings.Fields(line) }, statestore.String{})
	streams.GroupBy(words, func(_, w string) string { return w }, statestore.String{}).
		Count(streams.Materialized("counts")).ToStream().To("word-counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// The example of the package doc.
func TestWordCount(t *testing.T) {
	d := streamstest.New(t, wordCountTopology(t), streamstest.Options{})
	lines := streamstest.Input(d, "lines", statestore.String{}, statestore.String{})
	counts := streamstest.Output(d, "word-counts", statestore.String{}, statestore.Int64{})

	lines.PipeValue("the cat and the hat", 1000)
	got := streamstest.ToMap(counts.Latest())
	if got["the"] != 2 || got["hat"] != 1 {
		t.Fatalf("counts = %v", got)
	}
	stored := streamstest.ReadStore(d, "counts", statestore.String{}, statestore.Int64{})
	if stored["cat"] != 1 {
		t.Fatalf("store = %v", stored)
	}
}

func TestReadUntilReturnsRecordsInOrderAndKeepsTheRestForReadAll(t *testing.T) {
	d := streamstest.New(t, wordCountTopology(t), streamstest.Options{Partitions: 3})
	lines := streamstest.Input(d, "lines", statestore.String{}, statestore.String{})
	counts := streamstest.Output(d, "word-counts", statestore.String{}, statestore.Int64{})

	lines.Pipe("line-1", "a a a", 1000)
	first := counts.ReadUntil(2)
	if len(first) != 2 || first[0].Key != "a" || first[0].Value != 1 || first[1].Value != 2 {
		t.Fatalf("ReadUntil(2) = %+v, want a=1, a=2", first)
	}
	rest := counts.ReadAll()
	if len(rest) != 1 || rest[0].Value != 3 || rest[0].Timestamp != 1000 {
		t.Fatalf("ReadAll after ReadUntil(2) = %+v, want a=3 at 1000", rest)
	}
	if again := counts.ReadAll(); len(again) != 0 {
		t.Fatalf("second ReadAll = %+v, want nothing new", again)
	}
	if d.Store("counts")["a"] == nil {
		t.Fatalf("Store(counts) = %v, want the key a", d.Store("counts"))
	}
}
