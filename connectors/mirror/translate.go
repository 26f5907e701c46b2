package mirror

import "sort"

// maxSyncsPerPartition bounds the offset syncs kept per source partition for translation.
const maxSyncsPerPartition = 256

// syncStore keeps, per source partition, offset syncs sorted by upstream offset. It is owned by
// one goroutine.
type syncStore map[partitionID][]OffsetSync

// add records a sync; a later sync for the same upstream offset replaces an earlier one, and a sync
// behind the newest (a task rewound after a crash) drops the newer ones it contradicts.
func (s syncStore) add(sync OffsetSync) {
	id := partitionID{sync.Topic, sync.Partition}
	list := s[id]
	i := sort.Search(len(list), func(i int) bool { return list[i].UpstreamOffset >= sync.UpstreamOffset })
	list = append(list[:i], sync) // NB: drops syncs after it: they mapped to target offsets now stale
	if len(list) > maxSyncsPerPartition {
		list = append(list[:0:0], list[len(list)-maxSyncsPerPartition:]...)
	}
	s[id] = list
}

// translate maps a committed source offset to a target offset that loses nothing: the target
// offset of the newest sync at or before it, plus one if the committed offset is past that sync
// (the records in between may sit anywhere after it). ok is false without such a sync.
func (s syncStore) translate(topic string, partition int32, upstream int64) (downstream int64, ok bool) {
	list := s[partitionID{topic, partition}]
	i := sort.Search(len(list), func(i int) bool { return list[i].UpstreamOffset > upstream }) - 1
	if i < 0 {
		return 0, false
	}
	if list[i].UpstreamOffset == upstream {
		return list[i].DownstreamOffset, true
	}
	return list[i].DownstreamOffset + 1, true
}
