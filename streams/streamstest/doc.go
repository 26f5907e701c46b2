// Package streamstest runs a streams Topology in a test against a real broker, in the manner
// of Kafka Streams' TopologyTestDriver: pipe records with explicit timestamps into the input
// topics, read what the App wrote to the output topics, look into its state stores, and move
// its wall clock to fire wall-clock punctuations.
//
// Unlike TopologyTestDriver nothing is simulated: New starts an in-process Gregor broker
// (internal/testbroker), creates the topology's source and sink topics and runs a real
// streams.App on them, with a temporary state directory, a short commit interval and a
// streams.ManualClock. Records therefore go through the real consumer group, serdes,
// repartition topics, changelogs and commits, and the App runs asynchronously: reads wait
// (up to Options.Timeout, failing the test after it) until the App has processed every record
// piped so far, including those it wrote to its own repartition topics.
//
//	func TestWordCount(t *testing.T) {
//		d := streamstest.New(t, wordCountTopology(), streamstest.Options{})
//		lines := streamstest.Input(d, "lines", statestore.String{}, statestore.String{})
//		counts := streamstest.Output(d, "word-counts", statestore.String{}, statestore.Int64{})
//
//		lines.PipeValue("the cat and the hat", 1000)
//		got := streamstest.ToMap(counts.Latest())
//		if got["the"] != 2 || got["hat"] != 1 {
//			t.Fatalf("counts = %v", got)
//		}
//		stored := streamstest.ReadStore(d, "counts", statestore.String{}, statestore.Int64{})
//		if stored["cat"] != 1 {
//			t.Fatalf("store = %v", stored)
//		}
//	}
//
// Output records carry their keys, values, timestamps and headers as streams.Record values,
// so a test can compare them exactly. ReadUntil waits for a number of records, ReadAll returns
// every record available once the App is idle, Latest the latest record per key (what a table
// converges to).
//
// Wall-clock punctuations follow the driver's ManualClock, which starts at Options.StartTime
// (the Unix epoch by default) and moves only with AdvanceWallClock; AdvanceWallClock returns
// when the App has fired the punctuations due at the new time and flushed their output.
// Stream-time punctuations follow the timestamps of the piped records, as in the App.
//
// A Driver's methods, and those of its input and output topics, must be called from the test's
// goroutine: they fail the test with t.Fatal.
package streamstest
