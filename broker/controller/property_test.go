package controller

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkInvariants fails the test when img breaks a rule the controller must keep:
// replicas non-empty without duplicates; ISR ⊆ replicas; leader ∈ ISR; ISR non-empty while there is a
// leader; no fenced or shutting-down leader; with a leader, no fenced broker in the ISR; adding and
// removing replicas ⊆ replicas and disjoint.
func checkInvariants(t testing.TB, img *metadata.Image) {
	t.Helper()
	for _, tp := range img.Topics() {
		for _, p := range tp.Partitions() {
			where := fmt.Sprintf("%s-%d %+v", tp.Name, p.ID, *p)
			if len(p.Replicas) == 0 || hasDup(p.Replicas) || hasDup(p.Isr) {
				t.Fatalf("%s: empty or duplicate replicas/ISR", where)
			}
			for _, b := range p.Isr {
				if !p.HasReplica(b) {
					t.Fatalf("%s: ISR member %d is not a replica", where, b)
				}
			}
			for _, b := range append(slices.Clone(p.AddingReplicas), p.RemovingReplicas...) {
				if !p.HasReplica(b) {
					t.Fatalf("%s: adding/removing %d is not a replica", where, b)
				}
			}
			if len(intersect(p.AddingReplicas, p.RemovingReplicas)) > 0 {
				t.Fatalf("%s: adding and removing overlap", where)
			}
			if p.Leader == metadata.NoLeader {
				continue
			}
			if !p.InIsr(p.Leader) {
				t.Fatalf("%s: leader not in ISR", where)
			}
			if !img.IsUsable(p.Leader) {
				t.Fatalf("%s: leader %d is fenced or shutting down", where, p.Leader)
			}
			for _, b := range p.Isr {
				if br := img.Broker(b); br == nil || br.Fenced {
					t.Fatalf("%s: ISR holds fenced broker %d while the partition has a leader", where, b)
				}
			}
		}
	}
}

func hasDup(s []int32) bool {
	for i, x := range s {
		if slices.Contains(s[:i], x) {
			return true
		}
	}
	return false
}

// checkMonotonic fails when a partition's leader or partition epoch went back between two images.
func checkMonotonic(t testing.TB, prev, cur *metadata.Image) {
	t.Helper()
	for _, tp := range cur.Topics() {
		old := prev.TopicByID(tp.ID)
		if old == nil {
			continue
		}
		for _, p := range tp.Partitions() {
			q := old.Partition(p.ID)
			if q == nil {
				continue
			}
			if p.LeaderEpoch < q.LeaderEpoch || p.PartitionEpoch < q.PartitionEpoch {
				t.Fatalf("%s-%d epochs went back: leader %d→%d partition %d→%d", tp.Name, p.ID,
					q.LeaderEpoch, p.LeaderEpoch, q.PartitionEpoch, p.PartitionEpoch)
			}
			if p.Leader != q.Leader && p.LeaderEpoch == q.LeaderEpoch {
				t.Fatalf("%s-%d leader changed %d→%d without a new leader epoch", tp.Name, p.ID, q.Leader, p.Leader)
			}
		}
	}
}

type committedBatch struct {
	offset int64
	recs   []metadata.Record
}

// TestRandomOperationsKeepInvariants drives the controller with random registrations, heartbeats,
// session expiries, controlled shutdowns, topic creations and deletions, AlterPartitions, elections and
// reassignments, committing some batches at once and holding others, and checks after every step the
// invariants, epoch monotonicity, and at the end that a standby replaying the committed log and a
// snapshot round trip both rebuild the same image.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	seeds := 16
	steps := 400
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, uint64(seed), steps) })
	}
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := mrand.New(mrand.NewPCG(seed, 99))
	cfg := DefaultConfig()
	cfg.Rand = mrand.New(mrand.NewPCG(seed, 7))
	var nextID uint32
	cfg.NewTopicID = func() metadata.Uuid {
		nextID++
		return metadata.Uuid{12: byte(nextID >> 8), 15: byte(nextID)}
	}
	cfg.LeaderImbalanceCheckInterval = 20 * time.Second
	c := New(cfg, metadata.Empty())
	now := time.Unix(1000, 0)
	c.BecomeActive(now, 1)
	var (
		offset  int64
		held    [][]metadata.Record
		log     []committedBatch
		topicNo int
	)
	commit := func(recs []metadata.Record) {
		offset++
		prev := c.Committed()
		if err := c.ApplyCommitted(offset, 1, recs); err != nil {
			t.Fatalf("commit at %d: %v", offset, err)
		}
		log = append(log, committedBatch{offset, recs})
		checkMonotonic(t, prev, c.Committed())
	}
	for step := range steps {
		prevWorking := c.Image()
		img := c.Image()
		var req kmsg.Request
		brokerID := int32(rng.IntN(5) + 1)
		epoch := int64(-1)
		if b := img.Broker(brokerID); b != nil {
			epoch = b.Epoch
		}
		switch op := rng.IntN(100); {
		case op < 12:
			r := kmsg.NewPtrBrokerRegistrationRequest()
			r.BrokerID = brokerID
			r.IncarnationID = [16]byte{byte(rng.IntN(3))}
			r.PreviousBrokerEpoch = -1
			if rng.IntN(2) == 0 {
				r.PreviousBrokerEpoch = epoch
			}
			req = r
		case op < 40:
			r := kmsg.NewPtrBrokerHeartbeatRequest()
			r.BrokerID, r.BrokerEpoch = brokerID, epoch
			r.CurrentMetadataOffset = c.Committed().Offset()
			r.WantShutdown = rng.IntN(15) == 0
			r.WantFence = rng.IntN(30) == 0
			req = r
		case op < 48:
			now = now.Add(time.Duration(rng.IntN(6000)) * time.Millisecond)
			res, err := c.Tick(now)
			if err != nil {
				t.Fatalf("step %d tick: %v", step, err)
			}
			if len(res.Records) > 0 {
				held = append(held, res.Records)
			}
		case op < 58:
			r := kmsg.NewPtrCreateTopicsRequest()
			tt := kmsg.NewCreateTopicsRequestTopic()
			topicNo++
			tt.Topic = fmt.Sprintf("t%d", topicNo)
			tt.NumPartitions = int32(rng.IntN(4) + 1)
			tt.ReplicationFactor = int16(rng.IntN(3) + 1)
			if rng.IntN(4) == 0 {
				v := "true"
				cfg := kmsg.NewCreateTopicsRequestTopicConfig()
				cfg.Name, cfg.Value = "unclean.leader.election.enable", &v
				tt.Configs = append(tt.Configs, cfg)
			}
			r.Topics = append(r.Topics, tt)
			req = r
		case op < 61:
			if ts := img.Topics(); len(ts) > 0 {
				r := kmsg.NewPtrDeleteTopicsRequest()
				r.TopicNames = []string{ts[rng.IntN(len(ts))].Name}
				req = r
			}
		case op < 80:
			req = randomAlterPartition(rng, img)
		case op < 85:
			r := kmsg.NewPtrElectLeadersRequest()
			r.Version = 1
			r.ElectionType = int8(rng.IntN(2))
			req = r
		case op < 92:
			if tp, p := randomPartition(rng, img); p != nil {
				r := kmsg.NewPtrAlterPartitionAssignmentsRequest()
				rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
				rt.Topic = tp.Name
				rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
				rp.Partition = p.ID
				if rng.IntN(4) != 0 {
					for _, b := range rng.Perm(5)[:rng.IntN(3)+1] {
						rp.Replicas = append(rp.Replicas, int32(b+1))
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
				r.Topics = append(r.Topics, rt)
				req = r
			}
		case op < 95:
			if tp, _ := randomPartition(rng, img); tp != nil {
				r := kmsg.NewPtrCreatePartitionsRequest()
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic, rt.Count = tp.Name, int32(tp.NumPartitions()+rng.IntN(2)+1)
				r.Topics = append(r.Topics, rt)
				req = r
			}
		case op < 97:
			// Failover: uncommitted proposals are lost; a standby that replayed the committed log takes
			// over.
			held = nil
			c.Resign()
			next := New(cfg, metadata.Empty())
			if rng.IntN(2) == 0 {
				for _, b := range log {
					if err := next.ApplyCommitted(b.offset, 1, b.recs); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				// The new controller starts from a snapshot of the committed image instead.
				img, err := metadata.ReadSnapshot(metadata.AppendSnapshot(nil, c.Committed()))
				if err != nil {
					t.Fatal(err)
				}
				next.LoadSnapshot(img)
			}
			next.BecomeActive(now, 1)
			c = next
			prevWorking = c.Image()
		default:
			if rng.IntN(2) == 0 {
				// The proposer merged the queued batches into one (allowed: order is kept).
				var merged []metadata.Record
				for _, recs := range held {
					merged = append(merged, recs...)
				}
				held = [][]metadata.Record{merged}
			}
			for _, recs := range held {
				if len(recs) > 0 {
					commit(recs)
				}
			}
			held = nil
		}
		if req != nil {
			res, err := c.Handle(now, req)
			if err != nil {
				t.Fatalf("step %d %T: %v", step, req, err)
			}
			if len(res.Records) > 0 {
				if rng.IntN(3) == 0 {
					held = append(held, res.Records)
				} else {
					for _, recs := range held {
						commit(recs)
					}
					held = nil
					commit(res.Records)
				}
			}
		}
		checkInvariants(t, c.Image())
		checkInvariants(t, c.Committed())
		checkMonotonic(t, prevWorking, c.Image())
	}
	for _, recs := range held {
		commit(recs)
	}
	if c.Image() != c.Committed() {
		t.Fatal("working image differs from committed with nothing pending")
	}
	// A standby replaying the committed log reaches the same image, and so does a snapshot.
	standby := New(DefaultConfig(), metadata.Empty())
	for _, b := range log {
		if err := standby.ApplyCommitted(b.offset, 1, b.recs); err != nil {
			t.Fatal(err)
		}
	}
	want := metadata.AppendSnapshot(nil, c.Committed())
	if got := metadata.AppendSnapshot(nil, standby.Committed()); !bytes.Equal(got, want) {
		t.Fatal("a standby replaying the log built another image")
	}
	img, err := metadata.ReadSnapshot(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(metadata.AppendSnapshot(nil, img), want) {
		t.Fatal("snapshot round trip differs")
	}
}

func randomPartition(rng *mrand.Rand, img *metadata.Image) (*metadata.Topic, *metadata.Partition) {
	ts := img.Topics()
	if len(ts) == 0 {
		return nil, nil
	}
	t := ts[rng.IntN(len(ts))]
	ps := t.Partitions()
	return t, ps[rng.IntN(len(ps))]
}

// randomAlterPartition is mostly what a real leader sends (its ISR shrunk or grew by one replica, current
// epochs), sometimes stale or wrong.
func randomAlterPartition(rng *mrand.Rand, img *metadata.Image) kmsg.Request {
	t, p := randomPartition(rng, img)
	if p == nil || p.Leader < 0 {
		return nil
	}
	leader := img.Broker(p.Leader)
	r := kmsg.NewPtrAlterPartitionRequest()
	r.Version = 3
	r.BrokerID, r.BrokerEpoch = leader.ID, leader.Epoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = t.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.ID, p.LeaderEpoch, p.PartitionEpoch
	if rng.IntN(10) == 0 {
		rp.PartitionEpoch--
	}
	isr := []int32{p.Leader}
	for _, b := range p.Replicas {
		if b != p.Leader && rng.IntN(2) == 0 {
			isr = append(isr, b)
		}
	}
	for _, b := range isr {
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = b, -1
		rp.NewEpochISR = append(rp.NewEpochISR, e)
	}
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}
