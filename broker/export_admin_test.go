package broker

// OpenedHighWatermark is the high watermark this KRaft broker's replica of topic-partition opened
// with, and false if it hosts none.
func OpenedHighWatermark(b *Broker, topic string, partition int32) (int64, bool) {
	p := b.kraft.applier.hosted(topic, partition)
	if p == nil {
		return 0, false
	}
	return p.openedHighWatermark, true
}

// ReplicaLogSize is the bytes of this KRaft broker's replica of topic-partition, and false if it
// hosts none.
func ReplicaLogSize(b *Broker, topic string, partition int32) (int64, bool) {
	p := b.kraft.applier.hosted(topic, partition)
	if p == nil {
		return 0, false
	}
	return p.log.Size(), true
}
