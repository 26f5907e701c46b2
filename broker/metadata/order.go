package metadata

import (
	"cmp"
	"strings"
)

// The orders every listing in this package uses: topics by name, partitions by topic name then ID,
// config resources by type then name.

func compareTopics(a, b *Topic) int { return strings.Compare(a.Name, b.Name) }

func comparePartitionChanges(a, b PartitionChange) int {
	if c := strings.Compare(a.TopicName, b.TopicName); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

func compareResources(a, b ConfigResource) int {
	if c := cmp.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
