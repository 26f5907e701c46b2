package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Every partition costs at least one open file (its active segment's .log) for as long as the
// broker runs; a broker that runs out of descriptors can neither append nor persist its topic
// registry, nor accept connections. New partitions are therefore checked against three bounds
// before any is created:
//
//   - controller.max.records.per.batch: the partitions one CreateTopics or CreatePartitions request
//     may add (Kafka's KRaft controller bounds a request the same way, 10,000 by default);
//   - max.broker.partitions (KIP-578): the partitions the broker may hold;
//   - the process's open-file limit (ulimit -n), keeping fdReserve descriptors free for
//     connections, segment rolls and the registry.
//
// All three answer POLICY_VIOLATION with a message naming the bound.

// fdsPerPartition is the descriptors a new, empty partition holds open.
const fdsPerPartition = 1

// fdReserve is the descriptors kept free: a tenth of the limit, within [256, 4096].
func fdReserve(limit uint64) uint64 { return min(max(limit/10, 256), 4096) }

// requestBudget is what is left of controller.max.records.per.batch for the rest of one request.
type requestBudget struct{ left int64 }

func (b *Broker) newRequestBudget() *requestBudget {
	return &requestBudget{left: b.cfg.ControllerMaxRecordsPerBatch}
}

// take spends n partitions of the request's budget.
func (rb *requestBudget) take(n int32) error {
	if rb == nil {
		return nil
	}
	if int64(n) > rb.left {
		return apiErr(kerr.PolicyViolation, "excessively large number of partitions per request: %d more would pass controller.max.records.per.batch (%d left in this request)", n, rb.left)
	}
	rb.left -= int64(n)
	return nil
}

// reservePartitionsLocked checks that n more partitions fit max.broker.partitions and the open-file
// limit, and reserves them until releasePartitionsLocked. Requires b.mu held for writing.
func (b *Broker) reservePartitionsLocked(n int32) error {
	have := int64(b.pendingPartitions)
	for _, t := range b.topics {
		have += int64(len(t.partitions))
	}
	if have+int64(n) > b.cfg.MaxBrokerPartitions {
		return apiErr(kerr.PolicyViolation, "%d more partitions would pass max.broker.partitions (%d): the broker has %d", n, b.cfg.MaxBrokerPartitions, have)
	}
	if open, limit, ok := openFiles(); ok {
		need := uint64(n) * fdsPerPartition
		if open+need+fdReserve(limit) > limit {
			return apiErr(kerr.PolicyViolation, "%d more partitions need %d more open files; the broker has %d open of its limit %d (ulimit -n) and keeps %d free",
				n, need, open, limit, fdReserve(limit))
		}
	}
	b.pendingPartitions += int(n)
	return nil
}

func (b *Broker) releasePartitionsLocked(n int32) { b.pendingPartitions -= int(n) }

// openNewPartitions creates partitions [from, to) of t. A directory left at one of those indexes
// (by a crash during an earlier creation) is stale and removed first. On failure it closes and
// deletes every partition it opened, so nothing half-created remains, in memory or on disk.
func (b *Broker) openNewPartitions(t *topic, from, to int32) ([]*partition, error) {
	parts := make([]*partition, 0, to-from)
	for p := from; p < to; p++ {
		if err := b.fs.RemoveAll(b.partitionDir(t.name, p)); err != nil {
			b.deletePartitions(parts)
			return nil, fmt.Errorf("remove stale directory of %s-%d: %w", t.name, p, err)
		}
		part, err := b.openPartition(t, p, 0)
		if err != nil {
			b.deletePartitions(parts)
			return nil, err
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// deletePartitions closes parts and removes their directories (a rollback).
func (b *Broker) deletePartitions(parts []*partition) {
	for _, p := range parts {
		if err := p.log.Delete(); err != nil {
			b.logger.Warn("rolling back a new partition failed", "topic", p.topic.name, "partition", p.index, "err", err)
		}
	}
}
