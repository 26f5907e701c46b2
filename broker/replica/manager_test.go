package replica

import "testing"

// FetcherID spreads partitions as Kafka's AbstractFetcherManager.getFetcherId does:
// abs(31 * topic.hashCode() + partition) % num.replica.fetchers, with Java's String.hashCode and
// int overflow ("hello".hashCode() is 99162322; "polygenelubricants".hashCode() is MIN_VALUE).
func TestFetcherIDMatchesKafkasPartitionSpread(t *testing.T) {
	for _, c := range []struct {
		topic       string
		partition   int32
		numFetchers int
		want        int
	}{
		{"t", 0, 1, 0},
		{"t", 5, 0, 0},
		{"t", 0, 2, 0}, // 31*116 + 0 = 3596
		{"t", 1, 2, 1},
		{"hello", 0, 3, 2}, // 31*99162322 overflows int32
		{"hello", 1, 3, 0},
		{"polygenelubricants", 0, 3, 0}, // abs(MIN_VALUE) is Kafka's 0, not negative
		{"polygenelubricants", 5, 3, 2},
		{"héllo-✓", 7, 4, 3}, // UTF-16 code units, as Java hashes them
	} {
		got := FetcherID(TopicPartition{Topic: c.topic, Partition: c.partition}, c.numFetchers)
		if got != c.want || got < 0 || (c.numFetchers > 0 && got >= c.numFetchers) {
			t.Errorf("FetcherID(%s-%d, %d) = %d, want %d", c.topic, c.partition, c.numFetchers, got, c.want)
		}
	}
}
