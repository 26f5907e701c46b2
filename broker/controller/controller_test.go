package controller

import (
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func testController() *Controller {
	cfg := DefaultConfig()
	cfg.Rand = mrand.New(mrand.NewPCG(3, 4))
	return New(cfg, metadata.Empty())
}

func register(t *testing.T, c *Controller, now time.Time, id int32) Result {
	t.Helper()
	r := kmsg.NewPtrBrokerRegistrationRequest()
	r.BrokerID = id
	r.IncarnationID = [16]byte{byte(id)}
	res, err := c.Handle(now, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestStandbyControllerRefusesRequestsAndFollowsTheLog(t *testing.T) {
	now := time.Unix(0, 0)
	active, standby := testController(), testController()
	if _, err := standby.Handle(now, kmsg.NewPtrBrokerRegistrationRequest()); !errors.Is(err, ErrNotActive) {
		t.Fatalf("standby Handle: %v, want ErrNotActive", err)
	}
	if _, err := standby.Tick(now); !errors.Is(err, ErrNotActive) {
		t.Fatalf("standby Tick: %v, want ErrNotActive", err)
	}
	active.BecomeActive(now, 1)
	if _, err := active.Handle(now, kmsg.NewPtrFetchRequest()); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Fetch: %v, want ErrUnsupported", err)
	}
	res := register(t, active, now, 1)
	for _, c := range []*Controller{active, standby} {
		if err := c.ApplyCommitted(5, 1, res.Records); err != nil {
			t.Fatal(err)
		}
	}
	if standby.Committed().Broker(1) == nil || standby.Image().Offset() != 5 {
		t.Fatal("standby did not apply the committed registration")
	}
	if active.Image() != active.Committed() {
		t.Fatal("active working image should be the committed one with nothing pending")
	}
}

func TestUncommittedProposalsAreVisibleUntilResign(t *testing.T) {
	now := time.Unix(0, 0)
	c := testController()
	c.BecomeActive(now, 1)
	res := register(t, c, now, 1)
	if c.Image().Broker(1) == nil || c.Committed().Broker(1) != nil {
		t.Fatal("a proposal must be in the working image and not in the committed one")
	}
	// The same incarnation again sees its own uncommitted registration: same epoch, no new record.
	again := register(t, c, now, 1)
	if len(again.Records) != 0 {
		t.Fatalf("retry wrote %v", again.Records)
	}
	if got, want := again.Reply.(*kmsg.BrokerRegistrationResponse).BrokerEpoch, res.Reply.(*kmsg.BrokerRegistrationResponse).BrokerEpoch; got != want {
		t.Fatalf("retry epoch %d, want %d", got, want)
	}
	c.Resign()
	if c.Image().Broker(1) != nil {
		t.Fatal("Resign kept an uncommitted proposal")
	}
}

func TestCommittedRecordsNotProposedHereAreADivergence(t *testing.T) {
	now := time.Unix(0, 0)
	c := testController()
	c.BecomeActive(now, 1)
	err := c.ApplyCommitted(1, 2, []metadata.Record{&metadata.NoOpRecord{}})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("err %v, want ErrDiverged", err)
	}
}

func TestCorruptCommittedLogIsAnError(t *testing.T) {
	c := testController()
	err := c.ApplyCommitted(1, 1, []metadata.Record{&metadata.FenceBrokerRecord{BrokerID: 9}})
	if !errors.Is(err, metadata.ErrInconsistent) {
		t.Fatalf("err %v, want metadata.ErrInconsistent", err)
	}
}

func TestReplyCarriesTheRequestVersion(t *testing.T) {
	now := time.Unix(0, 0)
	c := testController()
	c.BecomeActive(now, 1)
	r := kmsg.NewPtrCreateTopicsRequest()
	r.Version = 7
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "x", 1, 1
	r.Topics = append(r.Topics, tt)
	res, err := c.Handle(now, r)
	if err != nil {
		t.Fatal(err)
	}
	resp := res.Reply.(*kmsg.CreateTopicsResponse)
	if resp.Version != 7 {
		t.Fatalf("version %d", resp.Version)
	}
	// No broker is registered: replication factor 1 cannot be met.
	if resp.Topics[0].ErrorCode != kerr.InvalidReplicationFactor.Code {
		t.Fatalf("error %d, want INVALID_REPLICATION_FACTOR", resp.Topics[0].ErrorCode)
	}
}

func TestPlacementSpreadsLeadersAndReplicasEvenly(t *testing.T) {
	for seed := range uint64(20) {
		c := New(Config{Rand: mrand.New(mrand.NewPCG(seed, 1))}, metadata.Empty())
		pl := c.newPlacement([]int32{1, 2, 3, 4, 5})
		leaders := map[int32]int{}
		replicas := map[int32]int{}
		for p := range int32(50) {
			rs, err := pl.assign(p, 3)
			if err != nil {
				t.Fatal(err)
			}
			if hasDup(rs) {
				t.Fatalf("partition %d replicas %v repeat a broker", p, rs)
			}
			leaders[rs[0]]++
			for _, r := range rs {
				replicas[r]++
			}
		}
		for b := int32(1); b <= 5; b++ {
			if leaders[b] != 10 || replicas[b] != 30 {
				t.Fatalf("seed %d broker %d leads %d (want 10), holds %d replicas (want 30)", seed, b, leaders[b], replicas[b])
			}
		}
	}
}

func TestAutoLeaderRebalanceMovesLeadershipBackAfterTheInterval(t *testing.T) {
	h := newHarness(t)
	h.run("cluster n=2")
	h.run("create-topic name=t assign=1,2;1,2")
	h.run("heartbeat id=1 want-fence")
	h.run("register id=1 incarnation=9")
	h.run("heartbeat id=1")
	for _, p := range []string{"0", "1"} {
		h.run("alter-partition id=2 topic=t p=" + p + " isr=2,1")
	}
	if l, _, _ := h.c.Image().Leader("t", 0); l != 2 {
		t.Fatalf("leader %d before the rebalance, want 2", l)
	}
	h.now = h.now.Add(299 * time.Second)
	// Keep the brokers' sessions alive across the jumps.
	h.run("heartbeat id=1")
	h.run("heartbeat id=2")
	if res, _ := h.c.Tick(h.now); len(res.Records) != 0 {
		t.Fatalf("rebalanced before leader.imbalance.check.interval: %v", res.Records)
	}
	h.now = h.now.Add(time.Second)
	h.run("heartbeat id=1")
	h.run("heartbeat id=2")
	if out := h.run("tick"); out == "ok" {
		t.Fatal("no rebalance after the interval")
	}
	if l, _, _ := h.c.Image().Leader("t", 0); l != 1 {
		t.Fatalf("leader %d after the rebalance, want the preferred 1", l)
	}
}
