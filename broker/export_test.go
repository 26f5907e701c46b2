package broker

// FetchWakeups returns how many times a long-polling fetch was woken by a partition it reads.
func FetchWakeups(b *Broker) int64 { return b.fetchWakeups.Load() }

// FetchWaiters returns how many long-polling fetches wait on topic-partition.
func FetchWaiters(b *Broker, topic string, partition int32) int {
	_, p := b.lookup(topic, partition)
	if p == nil {
		return 0
	}
	return p.state.Snapshot().FetchWaiters
}
