package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// heartbeat sends broker id's heartbeat at now, caught up to offset, and returns the result.
func heartbeat(t *testing.T, c *Controller, now time.Time, id int32, epoch, offset int64) Result {
	t.Helper()
	r := kmsg.NewPtrBrokerHeartbeatRequest()
	r.BrokerID, r.BrokerEpoch, r.CurrentMetadataOffset = id, epoch, offset
	res, err := c.Handle(now, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// fencedBy returns the brokers res's records fence.
func fencedBy(res Result) []int32 {
	var out []int32
	for _, r := range res.Records {
		if r, ok := r.(*metadata.BrokerRegistrationChangeRecord); ok && r.Fenced == 1 {
			out = append(out, r.BrokerID)
		}
	}
	return out
}

// TestANewlyActiveControllerGivesEveryBrokerAFreshSession: brokers heartbeat to the active
// controller, which then loses leadership; an hour later (another controller was active meanwhile)
// it becomes active again, and the last contacts it remembers are an hour old, as are those of a
// standby that never heard a heartbeat. Either fences nobody for a whole session timeout from its
// activation (every registered broker's last contact starts then), then only the broker that never
// reached it; that broker, once it heartbeats caught up, is unfenced at once.
func TestANewlyActiveControllerGivesEveryBrokerAFreshSession(t *testing.T) {
	t0 := time.Unix(1000, 0)
	old, standby := testController(), testController()
	old.BecomeActive(t0, 1)
	offset := int64(0)
	commit := func(res Result) {
		t.Helper()
		if len(res.Records) == 0 {
			return
		}
		offset++
		for _, c := range []*Controller{old, standby} {
			if err := c.ApplyCommitted(offset, 1, res.Records); err != nil {
				t.Fatal(err)
			}
		}
	}
	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		res := register(t, old, t0, id)
		epochs[id] = res.Reply.(*kmsg.BrokerRegistrationResponse).BrokerEpoch
		commit(res)
	}
	for id := int32(1); id <= 3; id++ {
		res := heartbeat(t, old, t0, id, epochs[id], offset)
		if res.Reply.(*kmsg.BrokerHeartbeatResponse).IsFenced {
			t.Fatalf("broker %d still fenced after a caught-up heartbeat", id)
		}
		commit(res)
	}
	old.Resign()
	for _, c := range []*Controller{old, standby} {
		t.Run(map[*Controller]string{old: "formerly-active", standby: "standby"}[c], func(t *testing.T) {
			freshSessions(t, c, t0.Add(time.Hour), epochs, offset)
		})
	}
}

// freshSessions makes c active at t1 and checks the sessions it gives brokers 1-3, registered and
// unfenced at offset (their epochs in epochs).
func freshSessions(t *testing.T, c *Controller, t1 time.Time, epochs map[int32]int64, offset int64) {
	session := c.cfg.SessionTimeout
	standby := c
	standby.BecomeActive(t1, 2)
	res, err := standby.Tick(t1.Add(session - time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if f := fencedBy(res); len(f) > 0 {
		t.Fatalf("new controller fenced %v within a session timeout of its activation", f)
	}
	// Brokers 1 and 2 reach the new controller; broker 3 does not.
	for _, id := range []int32{1, 2} {
		if res := heartbeat(t, standby, t1.Add(session/2), id, epochs[id], offset); len(res.Records) > 0 {
			t.Fatalf("heartbeat of unfenced broker %d wrote %v", id, res.Records)
		}
	}
	res, err = standby.Tick(t1.Add(session))
	if err != nil {
		t.Fatal(err)
	}
	if f := fencedBy(res); !slices.Equal(f, []int32{3}) {
		t.Fatalf("new controller fenced %v one session after activation, want [3]", f)
	}
	offset++
	if err := standby.ApplyCommitted(offset, 2, res.Records); err != nil {
		t.Fatal(err)
	}
	hb := heartbeat(t, standby, t1.Add(session+time.Second), 3, epochs[3], offset)
	if hb.Reply.(*kmsg.BrokerHeartbeatResponse).IsFenced || len(hb.Records) == 0 {
		t.Fatalf("fenced broker 3 heartbeating caught up: fenced %v, records %v; want unfenced at once",
			hb.Reply.(*kmsg.BrokerHeartbeatResponse).IsFenced, hb.Records)
	}
}
