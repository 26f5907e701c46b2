package broker_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testnet"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// ownership checks that no partition is owned by two live members at once.
type ownership struct {
	t     *testing.T
	mu    sync.Mutex
	owner map[int32]string
	dead  map[string]bool
}

func (o *ownership) assigned(member string, parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if cur, ok := o.owner[p]; ok && cur != member && !o.dead[cur] {
			o.t.Errorf("partition %d assigned to %s while %s still owns it", p, member, cur)
		}
		o.owner[p] = member
	}
}

func (o *ownership) released(member string, parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if o.owner[p] == member {
			delete(o.owner, p)
		}
	}
}

func (o *ownership) kill(member string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dead[member] = true
}

type groupMember struct {
	name   string
	cl     *kgo.Client
	dialer *testnet.Dialer
	cancel context.CancelFunc
	done   chan struct{}
}

// startMember runs a franz-go group consumer (cooperative-sticky, franz-go's default) that records
// every value it processes.
func startMember(t *testing.T, addr, group, topic, name string, own *ownership, seen *sync.Map, opts ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, dialer: &testnet.Dialer{}, done: make(chan struct{})}
	base := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(150 * time.Millisecond),
		kgo.AutoCommitInterval(100 * time.Millisecond),
		kgo.Dialer(m.dialer.Dial), kgo.ClientID(name),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { own.assigned(name, a[topic]) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			cl.CommitMarkedOffsets(ctx)
			own.released(name, r[topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { own.released(name, l[topic]) }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { seen.Store(string(r.Value), name) })
		}
	}()
	return m
}

// leave stops a member cleanly: it commits and leaves the group.
func (m *groupMember) leave() {
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		panic(fmt.Sprintf("member %s: final commit: %v", m.name, err))
	}
	m.cl.Close()
}

// kill cuts a member off the network without leaving: the broker must notice by session timeout.
func (m *groupMember) kill() {
	m.dialer.Sever()
	m.cancel()
	<-m.done
	go m.cl.Close() // its LeaveGroup cannot reach the broker any more
}

func describeGroup(t *testing.T, adm *kadm.Client, group string) kadm.DescribedGroup {
	t.Helper()
	dg, err := adm.DescribeGroups(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	return dg[group]
}

func TestGroupMembersShareMoveAndResumePartitions(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("group.min.session.timeout.ms", "1000"))
	createTopic(t, tb.Addr(), "orders", 6, nil)
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	own := &ownership{t: t, owner: map[int32]string{}, dead: map[string]bool{}}
	var seen sync.Map
	produced := 0
	produce := func(n int) {
		t.Helper()
		cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic("orders"))
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(produced)), Value: []byte("r" + strconv.Itoa(produced))})
			produced++
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	allSeen := func() error {
		for i := 0; i < produced; i++ {
			if _, ok := seen.Load("r" + strconv.Itoa(i)); !ok {
				return fmt.Errorf("record r%d of %d not processed yet", i, produced)
			}
		}
		return nil
	}
	membersAndAssigned := func(n int) func() error {
		return func() error {
			g := describeGroup(t, adm, "workers")
			if g.State != "Stable" || len(g.Members) != n {
				return fmt.Errorf("group %s with %d members, want Stable with %d", g.State, len(g.Members), n)
			}
			total := 0
			for _, m := range g.Members {
				ca, _ := m.Assigned.AsConsumer()
				if ca == nil {
					return fmt.Errorf("member %s has no consumer assignment", m.MemberID)
				}
				for _, tp := range ca.Topics {
					total += len(tp.Partitions)
				}
			}
			if total != 6 {
				return fmt.Errorf("%d of 6 partitions assigned", total)
			}
			return nil
		}
	}

	produce(600)
	a := startMember(t, tb.Addr(), "workers", "orders", "a", own, &seen)
	b := startMember(t, tb.Addr(), "workers", "orders", "b", own, &seen)
	c := startMember(t, tb.Addr(), "workers", "orders", "c", own, &seen)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, membersAndAssigned(3))
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, allSeen)

	b.leave() // clean leave: LeaveGroup
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, membersAndAssigned(2))
	produce(300)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, allSeen)

	own.kill("c")
	c.kill() // no LeaveGroup: the session timeout must evict it
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, membersAndAssigned(1))
	produce(300)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, allSeen)

	d := startMember(t, tb.Addr(), "workers", "orders", "d", own, &seen)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, membersAndAssigned(2))
	produce(300)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, allSeen)

	a.leave()
	d.leave()
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := describeGroup(t, adm, "workers").State; st != "Empty" {
			return fmt.Errorf("group is %s, want Empty", st)
		}
		return nil
	})
	committed, err := adm.FetchOffsets(context.Background(), "workers")
	if err != nil {
		t.Fatal(err)
	}
	ends, _ := adm.ListEndOffsets(context.Background(), "orders")
	for p := int32(0); p < 6; p++ {
		o, ok := committed.Lookup("orders", p)
		end, _ := ends.Lookup("orders", p)
		if !ok || o.At != end.Offset {
			t.Fatalf("partition %d: committed %d, log end %d: every processed record must be committed", p, o.At, end.Offset)
		}
	}

	// A new member resumes exactly after the committed offsets.
	produce(60)
	firstSeen := map[int32]int64{}
	var mu sync.Mutex
	e, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := 0
	for got < 60 && ctx.Err() == nil {
		e.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			mu.Lock()
			if _, ok := firstSeen[r.Partition]; !ok {
				firstSeen[r.Partition] = r.Offset
			}
			mu.Unlock()
			got++
		})
	}
	if got != 60 {
		t.Fatalf("new member read %d records, want exactly the 60 new ones", got)
	}
	for p, off := range firstSeen {
		if o, _ := committed.Lookup("orders", p); off != o.At {
			t.Fatalf("partition %d: new member started at %d, committed offset %d", p, off, o.At)
		}
	}
}

func TestStaticMemberRestartKeepsPartitionsWithoutRebalance(t *testing.T) {
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "static", 4, nil)
	start := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumerGroup("statics"), kgo.ConsumeTopics("static"),
			kgo.InstanceID(id), kgo.SessionTimeout(10*time.Second), kgo.Balancers(kgo.RangeBalancer()))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	gen := func(cl *kgo.Client) int32 {
		var g int32
		testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			cl.PollFetches(ctx)
			cancel()
			_, g = cl.GroupMetadata()
			if g <= 0 || len(cl.GetConsumeTopics()) == 0 {
				return fmt.Errorf("not a group member yet: generation %d, topics %v", g, cl.GetConsumeTopics())
			}
			return nil
		})
		return g
	}
	a, b := start("static-a"), start("static-b")
	defer b.Close()
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		g := describeGroup(t, adm, "statics")
		if g.State != "Stable" || len(g.Members) != 2 {
			return fmt.Errorf("group %s with %d members, want two static members Stable", g.State, len(g.Members))
		}
		return nil
	})
	genBefore := gen(b)
	assignedBefore := memberAssignment(t, adm, "static-a")
	a.Close() // a static member does not leave the group on close

	a2 := start("static-a")
	defer a2.Close()
	genAfter := gen(a2)
	if genAfter != genBefore {
		t.Fatalf("restarted static member: generation %d, was %d: a rebalance happened", genAfter, genBefore)
	}
	if got := memberAssignment(t, adm, "static-a"); got != assignedBefore {
		t.Fatalf("restarted static member owns %s, owned %s", got, assignedBefore)
	}
	if _, g := b.GroupMetadata(); g != genBefore {
		t.Fatalf("the other member moved to generation %d", g)
	}
}

func memberAssignment(t *testing.T, adm *kadm.Client, instance string) string {
	t.Helper()
	for _, m := range describeGroup(t, adm, "statics").Members {
		if m.InstanceID != nil && *m.InstanceID == instance {
			ca, _ := m.Assigned.AsConsumer()
			if ca == nil {
				return ""
			}
			return fmt.Sprint(ca.Topics)
		}
	}
	t.Fatalf("no member with instance id %s", instance)
	return ""
}

func TestCommittedOffsetsAndGroupsSurviveRestart(t *testing.T) {
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "kept", 3, nil)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	var os kadm.Offsets
	for p := int32(0); p < 3; p++ {
		os.Add(kadm.Offset{Topic: "kept", Partition: p, At: int64(10 + p), LeaderEpoch: -1, Metadata: "meta-" + strconv.Itoa(int(p))})
	}
	if _, err := adm.CommitOffsets(ctx, "standalone", os); err != nil {
		t.Fatal(err)
	}
	// A real consumer group too, so group metadata (not only offsets) must come back.
	cl := newClient(t, tb.Addr(), kgo.ConsumerGroup("members"), kgo.ConsumeTopics("kept"))
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		if _, g := cl.GroupMetadata(); g <= 0 {
			return fmt.Errorf("the consumer has not joined: generation %d", g)
		}
		return nil
	})
	cl.Close()

	tb.Restart()
	adm = kadm.NewClient(newClient(t, tb.Addr()))
	got, err := adm.FetchOffsets(ctx, "standalone")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		o, ok := got.Lookup("kept", p)
		if !ok || o.At != int64(10+p) || o.Metadata != "meta-"+strconv.Itoa(int(p)) {
			t.Fatalf("partition %d after restart: %+v", p, o)
		}
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["members"]; !ok {
		t.Fatalf("group 'members' lost in restart: %v", listed.Groups())
	}
	if g := describeGroup(t, adm, "members"); g.ProtocolType != "consumer" || g.State != "Empty" {
		t.Fatalf("group after restart: type %q state %q", g.ProtocolType, g.State)
	}
}

func TestCoordinatorAnswersBadGroupRequestsAndKeepsServing(t *testing.T) {
	tb := testbroker.Start(t)
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "vt", 1, nil)
	member, gen := joinAt(t, rc, "good", 5)
	syncAt(t, rc, "good", member, gen, 3)

	join := func(group string, session int32, protocols bool) int16 {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version, req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = 5, group, session, 10000, "consumer"
		if protocols {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0}
			req.Protocols = append(req.Protocols, p)
		}
		return rc.do(req).(*kmsg.JoinGroupResponse).ErrorCode
	}
	commit := func(group, member string, generation int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.MemberID, req.Generation = 8, group, member, generation
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "vt"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rc.do(req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	cases := []struct {
		name string
		got  int16
		want *kerr.Error
	}{
		{"join with no protocols", join("g2", 10000, false), kerr.InconsistentGroupProtocol},
		{"join with a session timeout below the minimum", join("g2", 10, true), kerr.InvalidSessionTimeout},
		{"join with a session timeout above the maximum", join("g2", 1<<30, true), kerr.InvalidSessionTimeout},
		{"join with an empty group id", join("", 10000, true), kerr.InvalidGroupID},
		{"commit from an unknown member", commit("good", "nobody", gen), kerr.UnknownMemberID},
		{"commit with an old generation", commit("good", member, gen-1), kerr.IllegalGeneration},
		{"commit to an unknown group as a member", commit("unknown", "x", 3), kerr.IllegalGeneration},
		{"commit with an empty group id", commit("", "", -1), kerr.InvalidGroupID},
	}
	for _, c := range cases {
		if c.got != c.want.Code {
			t.Errorf("%s: %v, want %v", c.name, kerr.ErrorForCode(c.got), c.want)
		}
	}
	// The coordinator still serves the good group.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "good", member, gen
	if code := rc.do(hb).(*kmsg.HeartbeatResponse).ErrorCode; code != 0 {
		t.Fatalf("heartbeat of the good member after bad requests: %v", kerr.ErrorForCode(code))
	}
	if code := commit("good", member, gen); code != 0 {
		t.Fatalf("good commit: %v", kerr.ErrorForCode(code))
	}
}
