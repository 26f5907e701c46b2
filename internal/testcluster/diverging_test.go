//go:build unix

package testcluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// leaderEpoch returns topic-0's leader epoch as the cluster's metadata says.
func leaderEpoch(t *testing.T, c *Cluster, topic string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(replicatedClient(t, c)).Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[topic].Partitions[0].LeaderEpoch
}

// fetchAt sends node n one consumer Fetch v12 of topic-0 at offset, naming lastFetchedEpoch.
func fetchAt(t *testing.T, n *Node, topic string, currentEpoch, lastFetchedEpoch int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	// NB: Fetch v12 names topics (v13 would need the topic ID) and is the first with
	// LastFetchedEpoch and DivergingEpoch.
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr()), kgo.MaxVersions(kversion.V3_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.FetchOffset, rp.PartitionMaxBytes = currentEpoch, lastFetchedEpoch, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version < 12 {
		t.Fatalf("fetch answered at v%d, want v12", resp.Version)
	}
	return resp.Topics[0].Partitions[0]
}

// TestFetchPastTheEndOfAnEpochAnswersDivergingEpoch: after a leader change, a fetcher whose last
// batch is of the old epoch and that asks for an offset past where that epoch ends on the new
// leader (it holds records the new leader never had) is answered DivergingEpoch with the old
// epoch and its end offset, and no records (KIP-320); a fetcher at that end offset gets records.
func TestFetchPastTheEndOfAnEpochAnswersDivergingEpoch(t *testing.T) {
	const topic = "diverge"
	c := startReplicated(t, topic, 1)
	old := partitionLeader(t, c, topic, 0, true)
	oldEpoch := leaderEpoch(t, c, topic)
	for i := range 5 {
		if _, err := produceOnce(t, c, topic, fmt.Sprintf("e0-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	leader := newLeader(t, c, topic, old)
	for i := range 5 {
		testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
			_, err := produceOnce(t, c, topic, fmt.Sprintf("e1-%d", i))
			return err
		})
	}
	epoch := leaderEpoch(t, c, topic)
	if epoch <= oldEpoch {
		t.Fatalf("leader epoch %d after the kill, was %d", epoch, oldEpoch)
	}

	sp := fetchAt(t, leader, topic, epoch, oldEpoch, 7)
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		t.Fatalf("diverged fetch: %v", err)
	}
	if sp.DivergingEpoch.Epoch != oldEpoch || sp.DivergingEpoch.EndOffset != 5 || len(sp.RecordBatches) != 0 {
		t.Fatalf("diverged fetch: DivergingEpoch %+v and %d record bytes, want epoch %d ending at 5 and none",
			sp.DivergingEpoch, len(sp.RecordBatches), oldEpoch)
	}
	sp = fetchAt(t, leader, topic, epoch, oldEpoch, 5)
	if sp.ErrorCode != 0 || sp.DivergingEpoch.EndOffset != -1 || len(sp.RecordBatches) == 0 {
		t.Fatalf("fetch at the epoch's end: error %d, DivergingEpoch %+v, %d record bytes, want records",
			sp.ErrorCode, sp.DivergingEpoch, len(sp.RecordBatches))
	}
	sp = fetchAt(t, leader, topic, epoch, epoch, 7)
	if sp.ErrorCode != 0 || sp.DivergingEpoch.EndOffset != -1 || len(sp.RecordBatches) == 0 {
		t.Fatalf("fetch in the current epoch: error %d, DivergingEpoch %+v, %d record bytes, want records",
			sp.ErrorCode, sp.DivergingEpoch, len(sp.RecordBatches))
	}
	// The killed leader comes back, truncates by epoch and fetches (naming its last epoch) into
	// the ISR again.
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	partitionLeader(t, c, topic, 0, true)
	log := readPartition(t, c, topic, 10)
	if len(log) != 10 {
		t.Fatalf("log holds %d records, want 10: %v", len(log), log)
	}
}
