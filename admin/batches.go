package admin

import "github.com/twmb/franz-go/pkg/kadm"

// DefaultCommitBatchPartitions is how many partitions' offsets a front end commits per
// OffsetCommit request when it splits a large reset (SplitOffsets), so that it can report
// progress between requests.
const DefaultCommitBatchPartitions = 1000

// SplitOffsets splits offsets into batches of at most size partitions, in topic and partition
// order (a size <= 0 means one batch). Committing the batches in turn commits offsets.
func SplitOffsets(offsets kadm.Offsets, size int) []kadm.Offsets {
	sorted := offsets.Sorted()
	if len(sorted) == 0 {
		return nil
	}
	if size <= 0 {
		size = len(sorted)
	}
	var batches []kadm.Offsets
	for len(sorted) > 0 {
		n := min(size, len(sorted))
		batch := kadm.Offsets{}
		for _, o := range sorted[:n] {
			batch.Add(o)
		}
		batches = append(batches, batch)
		sorted = sorted[n:]
	}
	return batches
}
