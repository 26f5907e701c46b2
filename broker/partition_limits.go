package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// Every partition costs at least one open file (its active segment's .log) for as long as the
// broker runs; a broker that runs out of descriptors can neither append nor accept connections. New
// partitions are therefore checked against three bounds before any is created:
//
//   - controller.max.records.per.batch: the partitions one CreateTopics or CreatePartitions request
//     may add (the controller, as Kafka's KRaft controller, 10,000 by default);
//   - max.broker.partitions (KIP-578): the replicas a broker may hold (the controller);
//   - the process's open-file limit (ulimit -n), keeping fdReserve descriptors free for
//     connections and segment rolls (this broker, before it forwards the request: checkOpenFileRoom).
//
// All three answer POLICY_VIOLATION with a message naming the bound.

// fdsPerPartition is the descriptors a new, empty partition holds open.
const fdsPerPartition = 1

// fdReserve is the descriptors kept free: a tenth of the limit, within [256, 4096].
func fdReserve(limit uint64) uint64 { return min(max(limit/10, 256), 4096) }

// checkOpenFileRoom refuses, with POLICY_VIOLATION naming ulimit -n, a request that would place more
// replicas on this broker than its open-file limit leaves room for. replicas is the number of
// replicas the request adds in the whole cluster.
//
// NB: the controller places replicas, but only the broker knows its own limit. The broker checks
// before forwarding, assuming an even spread over the usable brokers (exact on a single node).
func (b *Broker) checkOpenFileRoom(replicas int64) error {
	open, limit, ok := openFiles()
	if !ok || replicas <= 0 {
		return nil
	}
	brokers := int64(1)
	if img := b.MetadataImage(); img != nil {
		brokers = max(int64(len(img.UsableBrokers())), 1)
	}
	n := (replicas + brokers - 1) / brokers
	need := uint64(n) * fdsPerPartition
	if open+need+fdReserve(limit) > limit {
		return apiErr(kerr.PolicyViolation, "%d more partitions need %d more open files; the broker has %d open of its limit %d (ulimit -n) and keeps %d free",
			n, need, open, limit, fdReserve(limit))
	}
	return nil
}
