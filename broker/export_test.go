package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	replication "github.com/gregor-streams/gregor/broker/partition"
	"github.com/gregor-streams/gregor/broker/replica"
)

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

// HostedReplica returns the replica state of a partition the metadata images assigned to this KRaft
// broker, and false if it hosts none.
func HostedReplica(b *Broker, topic string, partition int32) (replication.Snapshot, bool) {
	if b.kraft == nil || b.kraft.applier == nil {
		return replication.Snapshot{}, false
	}
	p := b.kraft.applier.hosted(topic, partition)
	if p == nil {
		return replication.Snapshot{}, false
	}
	return p.state.Snapshot(), true
}

// SendToController sends req to the active controller through this KRaft broker's controller client.
func SendToController(ctx context.Context, b *Broker, req kmsg.Request) (kmsg.Response, error) {
	return b.kraft.client.Send(ctx, req)
}

// PartitionDir is the directory of a partition's log.
func PartitionDir(b *Broker, topic string, partition int32) string {
	return b.partitionDir(topic, partition)
}

// ReplicaFetchers returns how many replica fetchers (one per leader followed) this KRaft broker runs.
func ReplicaFetchers(b *Broker) int {
	if b.kraft == nil || b.kraft.applier == nil {
		return 0
	}
	return b.kraft.applier.replicas.Fetchers()
}

// StopReplicaFetching stops this KRaft broker's replica fetching of one partition (as if its
// fetcher stalled); the broker stays registered and the partition stays a follower.
func StopReplicaFetching(b *Broker, topic string, partition int32) {
	img := b.MetadataImage()
	t := img.Topic(topic)
	if t == nil || b.kraft.applier == nil {
		return
	}
	b.kraft.applier.replicas.Unfollow(replica.TopicPartition{Topic: topic, TopicID: t.ID, Partition: partition})
}

// MetadataLogRecords reads every record committed to this node's metadata log (a controller's).
func MetadataLogRecords(b *Broker) ([]metadata.Record, error) {
	var out []metadata.Record
	from := uint64(1)
	for range 100_000 {
		batches, err := b.kraft.ctl.Quorum().ReadCommitted(from, 1<<20)
		if err != nil || len(batches) == 0 {
			return out, err
		}
		for _, c := range batches {
			recs, err := metadata.DecodeRecords(c.Records)
			if err != nil {
				return out, err
			}
			out = append(out, recs...)
			from = c.Index + 1
		}
	}
	return out, nil
}
