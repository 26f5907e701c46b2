package broker

import "testing"

// FuzzParseHighWatermarks: any replication-offset-checkpoint content parses or is refused, never
// panics, and what parses holds only valid partitions and offsets.
func FuzzParseHighWatermarks(f *testing.F) {
	f.Add([]byte("0\n2\nt 0 5\nother.topic 12 0\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\nt -1 5\n"))
	f.Add([]byte("1\n1\nt 0 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := map[topicPartition]int64{}
		if err := parseHighWatermarks(data, got); err != nil {
			return
		}
		for tp, hw := range got {
			if tp.partition < 0 || hw < 0 || tp.topic == "" {
				t.Fatalf("parsed %+v = %d", tp, hw)
			}
		}
	})
}
