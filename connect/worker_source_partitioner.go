package connect

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// explicitPartition marks, in a kgo.Record's Context, a record whose SourceRecord named its
// partition.
type explicitPartition struct{}

// explicitPartitionCtx is the Context of every record with an explicit partition. NB: it is
// never done, as produce's own context (not the record's) is what unblocks a stopping task.
var explicitPartitionCtx = context.WithValue(context.Background(), explicitPartition{}, true)

// sourcePartitioner honours SourceRecord.Partition: a record marked with explicitPartitionCtx
// goes to the partition it names (one the producer's metadata does not know yet fails with
// kgo's invalid-partition error, as with kgo.ManualPartitioner); any other goes to the sticky key
// partitioner (murmur2 of the key, as Kafka's producer).
type sourcePartitioner struct{ fallback kgo.Partitioner }

func newSourcePartitioner() kgo.Partitioner {
	return sourcePartitioner{fallback: kgo.StickyKeyPartitioner(nil)}
}

// ForTopic implements kgo.Partitioner.
func (p sourcePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return sourceTopicPartitioner{fallback: p.fallback.ForTopic(topic)}
}

type sourceTopicPartitioner struct{ fallback kgo.TopicPartitioner }

func isExplicit(r *kgo.Record) bool { return r.Context == explicitPartitionCtx }

func (p sourceTopicPartitioner) OnNewBatch() {
	if o, ok := p.fallback.(kgo.TopicPartitionerOnNewBatch); ok {
		o.OnNewBatch()
	}
}

func (p sourceTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isExplicit(r) || p.fallback.RequiresConsistency(r)
}

func (p sourceTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if isExplicit(r) {
		return int(r.Partition)
	}
	return p.fallback.Partition(r, n)
}
