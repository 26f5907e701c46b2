//go:build unix

package testcluster

import (
	"context"
	be "encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// idempotentBatch encodes (with kmsg) a v2 record batch of producer pid at epoch whose records
// carry values and start at sequence seq, with its CRC.
func idempotentBatch(pid int64, epoch int16, seq int32, values ...string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.NewRecord()
		r.OffsetDelta, r.Value = int32(i), []byte(v)
		// NB: the length prefix counts the bytes after it; with Length 0 it takes one byte, as
		// it does for the small records here.
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: pid, ProducerEpoch: epoch,
		FirstSequence: seq, NumRecords: int32(len(values)), Records: records,
	}
	raw := b.AppendTo(nil)
	be.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	be.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// produceBatch sends batch to topic-0 with acks=all to node n alone and returns the partition's
// answer.
func produceBatch(t *testing.T, n *Node, topic string, batch []byte) (kmsg.ProduceResponseTopicPartition, error) {
	t.Helper()
	// NB: Produce v12 names the topic; v13 would need its ID.
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.MaxVersions(kversion.V3_6_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return kmsg.ProduceResponseTopicPartition{}, err
	}
	sp := resp.Topics[0].Partitions[0]
	return sp, kerr.ErrorForCode(sp.ErrorCode)
}

// TestRetriedBatchAfterLeaderChangeIsNotWrittenTwice: an idempotent producer's batch acknowledged
// by a leader that then dies is sent again, byte for byte, to the new leader (what a client does
// when it never saw the acknowledgement). The new leader rebuilt the producer's state from its
// replicated log: it answers with the batch's original offset and does not append it again; the
// producer's next sequence goes on after it, and a sequence gap is refused.
func TestRetriedBatchAfterLeaderChangeIsNotWrittenTwice(t *testing.T) {
	const topic = "dedup"
	c := startReplicated(t, topic, 1)
	old := partitionLeader(t, c, topic, 0, true)
	cl := replicatedClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pid int64
	var epoch int16
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return err
		}
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return nil
	})

	first, second := idempotentBatch(pid, epoch, 0, "a0", "a1"), idempotentBatch(pid, epoch, 2, "b0", "b1", "b2")
	if _, err := produceBatch(t, old, topic, first); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	acked, err := produceBatch(t, old, topic, second)
	if err != nil {
		t.Fatalf("second batch: %v", err)
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	leader := newLeader(t, c, topic, old)
	// The retry may reach the new leader before it has its ISR's fetches: poll until answered.
	var retried kmsg.ProduceResponseTopicPartition
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		retried, err = produceBatch(t, leader, topic, second)
		return err
	})
	if retried.BaseOffset != acked.BaseOffset {
		t.Errorf("retried batch answered at offset %d, first acknowledged at %d", retried.BaseOffset, acked.BaseOffset)
	}
	next, err := produceBatch(t, leader, topic, idempotentBatch(pid, epoch, 5, "c0"))
	if err != nil {
		t.Fatalf("next sequence after the retry: %v", err)
	}
	if want := acked.BaseOffset + 3; next.BaseOffset != want {
		t.Errorf("next batch at offset %d, want %d (right after the acknowledged one)", next.BaseOffset, want)
	}
	if _, err := produceBatch(t, leader, topic, idempotentBatch(pid, epoch, 9, "gap")); err != kerr.OutOfOrderSequenceNumber {
		t.Errorf("a sequence gap on the new leader: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	log := readPartition(t, c, topic, next.BaseOffset+1)
	seen := map[string]int{}
	for _, v := range log {
		seen[v]++
	}
	for _, v := range []string{"a0", "a1", "b0", "b1", "b2", "c0"} {
		if seen[v] != 1 {
			t.Errorf("%s is in the log %d times, want once (log %v)", v, seen[v], log)
		}
	}
	if len(log) != 6 {
		t.Errorf("log holds %d records, want 6: %v", len(log), log)
	}
}

// TestEveryNodeHandsOutDistinctProducerIDs: producer IDs come from blocks the controller
// allocates (AllocateProducerIds), so InitProducerId answered by different nodes of a cluster
// never gives two producers the same ID. (With IDs from a per-node counter, two idempotent
// producers bootstrapped through different nodes shared an ID, and the leader took one's batches
// for retries of the other's: acknowledged, never written.)
func TestEveryNodeHandsOutDistinctProducerIDs(t *testing.T) {
	c := Start(t, append([]Option{Nodes(3), KRaft()}, failoverSettings...)...)
	seen := map[int64]int32{}
	for round := range 2 {
		for _, n := range c.Nodes {
			cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl.SeedBrokers()[0])
			cancel()
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				t.Fatalf("node %d: InitProducerId: %v", n.ID, err)
			}
			if other, dup := seen[resp.ProducerID]; dup {
				t.Fatalf("round %d: node %d handed out producer ID %d, as node %d did", round, n.ID, resp.ProducerID, other)
			}
			seen[resp.ProducerID] = n.ID
		}
	}
}
