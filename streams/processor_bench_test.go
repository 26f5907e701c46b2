package streams

import (
	"testing"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkRecordHooks measures what timestamps and the Processor API add to every record a
// task processes: timestamp extraction, stream time, and the stream-time punctuation check.
func BenchmarkRecordHooks(b *testing.B) {
	for _, bc := range []struct {
		name string
		ext  TimestampExtractor
	}{{"record timestamp", nil}, {"extractor", func(r *kgo.Record) int64 { return int64(len(r.Value)) }}} {
		b.Run(bc.name, func(b *testing.B) {
			bld := NewBuilder()
			Stream(bld, "in", statestore.String{}, statestore.String{}, WithTimestampExtractor(bc.ext))
			topo, err := bld.Build()
			if err != nil {
				b.Fatal(err)
			}
			t := &task{app: &App{topo: topo, cfg: Config{ApplicationID: "bench"}}}
			r := &kgo.Record{Topic: "in", Value: []byte("value"), Timestamp: time.UnixMilli(1000)}
			b.ReportAllocs()
			for b.Loop() {
				if err := t.beforeRecord(r); err != nil {
					b.Fatal(err)
				}
				if err := t.afterRecord(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
