package streams_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/gregor-streams/gregor/streams/streamstest"
	"github.com/twmb/franz-go/pkg/kgo"
)

type reading struct {
	At    int64 `json:"at"` // when the sensor took it, ms
	Value int64 `json:"value"`
}

// readingTime takes a reading's time from its value; an unreadable value has none (-1).
func readingTime(r *kgo.Record) int64 {
	var v reading
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return -1
	}
	return v.At
}

// bucketCounts counts readings per sensor and 10s bucket of their timestamp, through a
// repartition (the bucket is the new key).
func bucketCounts(t *testing.T, opts ...streams.Option) *streams.Topology {
	b := streams.NewBuilder()
	readings := streams.Stream(b, "readings", statestore.String{}, statestore.JSON[reading]{}, opts...)
	byBucket := streams.Process(readings, func() streams.Processor[string, reading, string, int64] {
		return streams.ProcessorFunc[string, reading, string, int64](func(ctx streams.ProcessorContext[string, int64], r streams.Record[string, reading]) error {
			bucket := r.Timestamp / 10000 * 10000
			return ctx.Forward(streams.Record[string, int64]{Key: fmt.Sprintf("%s@%d", r.Key, bucket), Value: r.Value.Value, Timestamp: r.Timestamp})
		})
	}, statestore.String{}, statestore.Int64{})
	byBucket.GroupByKey().Count(streams.Materialized("per-bucket")).ToStream().To("bucket-counts", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestTimestampExtractorDecidesWhichBucketARecordFallsIn(t *testing.T) {
	// Every reading is produced with the same record timestamp (99s); its value says when it
	// was taken.
	pipe := func(d *streamstest.Driver) {
		in := streamstest.Input(d, "readings", statestore.String{}, statestore.JSON[reading]{})
		for _, r := range []struct {
			sensor string
			at     int64
		}{{"s1", 1000}, {"s1", 5000}, {"s1", 12000}, {"s2", 15000}, {"s1", 9999}} {
			in.Pipe(r.sensor, reading{At: r.at, Value: 1}, 99000)
		}
	}
	byValueTime := []string{"s1@0:3@9999[]", "s1@10000:1@12000[]", "s2@10000:1@15000[]"}
	for _, tc := range []struct {
		name string
		topo func(t *testing.T) *streams.Topology
		cfg  streams.Config
		want []string
	}{
		{"record timestamps without an extractor", func(t *testing.T) *streams.Topology { return bucketCounts(t) },
			streams.Config{}, []string{"s1@90000:4@99000[]", "s2@90000:1@99000[]"}},
		{"extractor of the source", func(t *testing.T) *streams.Topology {
			return bucketCounts(t, streams.WithTimestampExtractor(readingTime))
		}, streams.Config{}, byValueTime},
		{"default extractor of the Config", func(t *testing.T) *streams.Topology { return bucketCounts(t) },
			streams.Config{TimestampExtractor: readingTime}, byValueTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := streamstest.New(t, tc.topo(t), streamstest.Options{Config: tc.cfg})
			out := streamstest.Output(d, "bucket-counts", statestore.String{}, statestore.Int64{})
			pipe(d)
			// The extracted timestamps went through the repartition topic (whose own records
			// are read with their record timestamps) to the output.
			assertRecords(t, "latest count per bucket", show(out.Latest()), tc.want)
		})
	}
}

func TestNegativeExtractedTimestampStopsTheAppNamingTheRecord(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "readings", 1)
	createTopic(t, tb.Addr(), "bucket-counts", 1)
	good, _ := json.Marshal(reading{At: 1000, Value: 1})
	produce(t, tb.Addr(),
		&kgo.Record{Topic: "readings", Key: []byte("s1"), Value: good},
		&kgo.Record{Topic: "readings", Key: []byte("s1"), Value: []byte("not json")})
	app := startApp(t, bucketCounts(t, streams.WithTimestampExtractor(readingTime)),
		streams.Config{ApplicationID: "ts", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir()})
	select {
	case <-app.Done():
	case <-time.After(waitTimeout):
		t.Fatal("app did not stop on a record without a valid timestamp")
	}
	err := app.Err()
	if !errors.Is(err, streams.ErrInvalidTimestamp) || !strings.Contains(err.Error(), "readings/0@1") {
		t.Fatalf("Err = %v, want ErrInvalidTimestamp naming readings/0@1", err)
	}
}
