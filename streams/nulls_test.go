package streams_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAggregationsDropNullKeysAndStreamAggregationsNullValues: as Kafka Streams, a stream
// aggregation (Count, Reduce, Aggregate, Cogroup) skips a record whose key or value is null,
// a windowed aggregation one whose key is null — also after MapValues, which keeps the key —
// and each is counted in DroppedRecords; an empty key or value is not null and counts.
func TestAggregationsDropNullKeysAndStreamAggregationsNullValues(t *testing.T) {
	t.Parallel()
	b := streams.NewBuilder()
	src := streams.Stream(b, "events", statestore.String{}, statestore.String{})
	src.GroupByKey().Count(streams.Materialized("counts")).ToStream().To("counts", nil, nil)
	upper := streams.MapValues(src, func(_, v string) string { return v + "!" }, statestore.String{})
	streams.WindowedBy(upper.GroupByKey(), streams.TumblingWindows(time.Second)).Count(streams.Materialized("windowed")).
		ToStream().To("windowed", nil, nil)
	streams.Cogroup(src.GroupByKey(), func(_ string, v string, agg string) string { return agg + v }).
		Aggregate(func() string { return "" }, statestore.String{}, streams.Materialized("cogrouped")).
		ToStream().To("cogrouped", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := streamstest.New(t, topo, streamstest.Options{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := []*kgo.Record{
		{Topic: "events", Key: []byte("k"), Value: []byte("a")},
		{Topic: "events", Key: nil, Value: []byte("b")},       // null key: no aggregation takes it
		{Topic: "events", Key: []byte("k"), Value: nil},       // null value: the windowed count takes it
		{Topic: "events", Key: []byte(""), Value: []byte("")}, // empty, not null: counted everywhere
	}
	for _, r := range recs {
		r.Timestamp = time.UnixMilli(100)
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	d.WaitProcessed()
	counts := streamstest.ReadStore(d, "counts", statestore.String{}, statestore.Int64{})
	if want := map[string]int64{"k": 1, "": 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("Count = %v, want %v (null key and null value dropped)", counts, want)
	}
	cogrouped := streamstest.ReadStore(d, "cogrouped", statestore.String{}, statestore.String{})
	if want := map[string]string{"k": "a", "": ""}; fmt.Sprint(cogrouped) != fmt.Sprint(want) {
		t.Errorf("Cogroup = %q, want %q (null key and null value dropped)", cogrouped, want)
	}
	var windowed []string
	for _, r := range streamstest.Output(d, "windowed", streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: time.Second}, statestore.Int64{}).ReadAll() {
		windowed = append(windowed, fmt.Sprintf("%q@%d=%d", r.Key.Key, r.Key.Start, r.Value))
	}
	if want := []string{`"k"@0=1`, `"k"@0=2`, `""@0=1`}; !slices.Equal(windowed, want) {
		t.Errorf("windowed Count = %v, want %v (only the null key dropped, also after MapValues)", windowed, want)
	}
	// The null key in Count, Cogroup and the windowed count; the null value in Count and Cogroup.
	if n := d.App().Stats().DroppedRecords; n != 5 {
		t.Errorf("DroppedRecords = %d, want 5", n)
	}
}
