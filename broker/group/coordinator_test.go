package group

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memStore keeps persisted records in order, like the log would. A write fail refuses is refused
// with errDiskFull.
type memStore struct {
	recs []Record
	fail func([]Record) bool
}

var errDiskFull = errors.New("disk full")

func (s *memStore) Persist(_ int32, recs []Record) error {
	if s.fail != nil && s.fail(recs) {
		return errDiskFull
	}
	s.recs = append(s.recs, recs...)
	return nil
}

// harness drives a Coordinator with a fake clock.
type harness struct {
	t     *testing.T
	now   time.Time
	store *memStore
	c     *Coordinator
}

func newHarness(t *testing.T, cfg Config) *harness {
	if cfg.MaxSessionTimeout == 0 {
		cfg.MinSessionTimeout, cfg.MaxSessionTimeout = time.Second, time.Hour
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 50
	}
	h := &harness{t: t, now: time.Unix(1_700_000_000, 0), store: &memStore{}}
	h.c = New(cfg, h.store)
	return h
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.Tick(h.now)
}

// join sends a JoinGroup and returns a pointer that holds the answer once it arrives.
func (h *harness) join(group, member string, protocols ...string) *JoinResult {
	return h.joinStatic(group, member, nil, protocols...)
}

func (h *harness) joinStatic(group, member string, instance *string, protocols ...string) *JoinResult {
	if len(protocols) == 0 {
		protocols = []string{"range"}
	}
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version, r.Group, r.MemberID, r.InstanceID = 9, group, member, instance
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = 10_000, 30_000, "consumer"
	for _, p := range protocols {
		r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: []byte(p + "-meta")})
	}
	var out *JoinResult
	res := new(JoinResult)
	res.Err = -999 // not answered yet
	out = res
	h.c.Join(h.now, r, "client", "/127.0.0.1", func(jr JoinResult) { *out = jr })
	return out
}

// newMember does the KIP-394 dance and returns the waiting second join.
func (h *harness) newMember(group string, protocols ...string) *JoinResult {
	first := h.join(group, "", protocols...)
	if first.Err != kerr.MemberIDRequired.Code {
		h.t.Fatalf("first join: error %d, want MEMBER_ID_REQUIRED", first.Err)
	}
	return h.join(group, first.MemberID, protocols...)
}

func (h *harness) sync(group, member string, gen int32, assign map[string]string) *SyncResult {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version, r.Group, r.MemberID, r.Generation = 5, group, member, gen
	for m, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	out := &SyncResult{Err: -999}
	h.c.Sync(h.now, r, func(sr SyncResult) { *out = sr })
	return out
}

func (h *harness) heartbeat(group, member string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.Generation = group, member, gen
	return h.c.Heartbeat(h.now, r)
}

func answered(t *testing.T, what string, err int16) {
	t.Helper()
	if err == -999 {
		t.Fatalf("%s: no answer yet", what)
	}
}

func TestFirstMemberJoinsAndSyncs(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	answered(t, "join", a.Err)
	if a.Err != 0 || a.Generation != 1 || a.Leader != a.MemberID || len(a.Members) != 1 || a.Protocol != "range" {
		t.Fatalf("join: %+v", a)
	}
	s := h.sync("g", a.MemberID, 1, map[string]string{a.MemberID: "p0"})
	if s.Err != 0 || string(s.Assignment) != "p0" {
		t.Fatalf("sync: %+v", s)
	}
	if d := h.c.Describe("g"); d.State != Stable || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
}

func TestSecondMemberTriggersRebalanceThatWaitsForEveryone(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, map[string]string{a.MemberID: "all"})

	b := h.newMember("g")
	if b.Err != -999 {
		t.Fatalf("second member answered before the first rejoined: %+v", b)
	}
	if code := h.heartbeat("g", a.MemberID, 1); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", code)
	}
	a2 := h.join("g", a.MemberID)
	answered(t, "a rejoin", a2.Err)
	answered(t, "b join", b.Err)
	if a2.Generation != 2 || b.Generation != 2 || a2.Leader != a.MemberID || len(a2.Members) != 2 || len(b.Members) != 0 {
		t.Fatalf("after rebalance: a %+v b %+v", a2, b)
	}
	// The follower's sync waits for the leader's assignment.
	sb := h.sync("g", b.MemberID, 2, nil)
	if sb.Err != -999 {
		t.Fatalf("follower sync answered before the leader's: %+v", sb)
	}
	sa := h.sync("g", a.MemberID, 2, map[string]string{a.MemberID: "p0", b.MemberID: "p1"})
	if sa.Err != 0 || string(sa.Assignment) != "p0" || sb.Err != 0 || string(sb.Assignment) != "p1" {
		t.Fatalf("sync: a %+v b %+v", sa, sb)
	}
	// A stale generation is fenced.
	if code := h.heartbeat("g", a.MemberID, 1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with generation 1: %d", code)
	}
}

func TestMemberThatStopsHeartbeatingIsEvictedAndGroupRebalances(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, nil)
	b := h.newMember("g")
	a2 := h.join("g", a.MemberID)
	h.sync("g", b.MemberID, 2, nil)
	h.sync("g", a.MemberID, 2, nil)
	_ = a2
	// a keeps heartbeating, b goes silent.
	for i := 0; i < 12; i++ {
		h.advance(time.Second)
		if code := h.heartbeat("g", a.MemberID, 2); code != 0 && code != kerr.RebalanceInProgress.Code {
			t.Fatalf("a heartbeat: %d", code)
		}
	}
	if d := h.c.Describe("g"); d.State != PreparingRebalance || len(d.Members) != 1 {
		t.Fatalf("after b's session timeout: %v with %d members, want PreparingRebalance with 1", d.State, len(d.Members))
	}
	a3 := h.join("g", a.MemberID)
	if a3.Err != 0 || a3.Generation != 3 || len(a3.Members) != 1 {
		t.Fatalf("rejoin after eviction: %+v", a3)
	}
}

func TestMemberThatDoesNotRejoinIsDroppedAtRebalanceTimeout(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, nil)
	b := h.newMember("g") // a never rejoins
	for i := 0; i < 29; i++ {
		h.advance(time.Second)
		h.heartbeat("g", a.MemberID, 1) // heartbeats alone do not count as rejoining
	}
	if b.Err != -999 {
		t.Fatalf("join answered before the rebalance timeout: %+v", b)
	}
	h.advance(2 * time.Second)
	answered(t, "b", b.Err)
	if b.Generation != 2 || b.Leader != b.MemberID || len(b.Members) != 1 {
		t.Fatalf("b after timeout: %+v", b)
	}
}

func TestProtocolIsChosenByVote(t *testing.T) {
	h := newHarness(t, Config{InitialRebalanceDelay: time.Second})
	a := h.newMember("g", "roundrobin", "range")
	b := h.newMember("g", "range", "roundrobin")
	c := h.newMember("g", "range", "roundrobin")
	h.advance(time.Second)
	for _, r := range []*JoinResult{a, b, c} {
		if r.Err != 0 || r.Protocol != "range" {
			t.Fatalf("join: %+v, want protocol range (2 of 3 votes)", r)
		}
	}
	bad := h.join("g", "", "sticky")
	if bad.Err != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("a member with no common protocol: %d", bad.Err)
	}
}

func TestInitialRebalanceDelayGathersMembers(t *testing.T) {
	h := newHarness(t, Config{InitialRebalanceDelay: 3 * time.Second})
	a := h.newMember("g")
	h.advance(2 * time.Second)
	b := h.newMember("g") // extends the delay by 3s
	h.advance(2 * time.Second)
	if a.Err != -999 || b.Err != -999 {
		t.Fatal("join answered during the initial delay")
	}
	h.advance(2 * time.Second)
	if a.Err != 0 || b.Err != 0 || a.Generation != 1 || b.Generation != 1 {
		t.Fatalf("after the delay: a %+v b %+v: both should be in generation 1", a, b)
	}
}

func TestStaticMemberRejoinKeepsAssignmentAndFencesOldID(t *testing.T) {
	h := newHarness(t, Config{})
	id := "instance-1"
	a := h.joinStatic("g", "", &id)
	if a.Err != 0 || a.Generation != 1 {
		t.Fatalf("static join: %+v", a)
	}
	h.sync("g", a.MemberID, 1, map[string]string{a.MemberID: "mine"})
	again := h.joinStatic("g", "", &id)
	if again.Err != 0 || again.Generation != 1 || again.MemberID == a.MemberID {
		t.Fatalf("static rejoin: %+v, want generation 1 with a new member id", again)
	}
	if s := h.sync("g", again.MemberID, 1, nil); s.Err != 0 || string(s.Assignment) != "mine" {
		t.Fatalf("static rejoin sync: %+v", s)
	}
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group, r.MemberID, r.Generation, r.InstanceID = "g", a.MemberID, 1, &id
	if code := h.c.Heartbeat(h.now, r); code != kerr.FencedInstanceID.Code {
		t.Fatalf("old member id: %d, want FENCED_INSTANCE_ID", code)
	}
}

func TestLeaveRebalancesAndLastLeaveEmptiesGroup(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, nil)
	if code := h.c.Leave(h.now, "g", []LeaveMember{{MemberID: a.MemberID}}); code != 0 {
		t.Fatalf("leave: %d", code)
	}
	if d := h.c.Describe("g"); d.State != Empty {
		t.Fatalf("after last leave: %v", d.State)
	}
	ms := []LeaveMember{{MemberID: "ghost"}}
	h.c.Leave(h.now, "g", ms)
	if ms[0].Err != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member leave: %d", ms[0].Err)
	}
}

func TestGroupMaxSize(t *testing.T) {
	h := newHarness(t, Config{MaxSize: 1})
	h.newMember("g")
	if r := h.join("g", ""); r.Err != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("second member of a size-1 group: %d", r.Err)
	}
}

func TestOffsetsAndGroupsReplayFromTheirRecords(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, map[string]string{a.MemberID: "asg"})
	parts := []CommitPartition{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: 3, Metadata: strPtr("m")}}
	h.c.Commit(h.now, "g", a.MemberID, nil, 1, parts)
	if parts[0].Err != 0 {
		t.Fatalf("commit: %d", parts[0].Err)
	}
	solo := []CommitPartition{{Topic: "t", Partition: 1, Offset: 7}}
	h.c.Commit(h.now, "solo", "", nil, -1, solo)
	gone := []CommitPartition{{Topic: "t", Partition: 2, Offset: 9}}
	h.c.Commit(h.now, "gone", "", nil, -1, gone)
	if code := h.c.DeleteGroup(h.now, "gone"); code != 0 {
		t.Fatalf("delete group: %d", code)
	}

	// A fresh coordinator loading the same records has the same state.
	c2 := New(h.c.cfg, &memStore{})
	for _, r := range h.store.recs {
		if err := c2.Replay(r.Key, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	c2.FinishLoad(h.now)
	got := c2.FetchOffsets("g", []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}})
	if got[0].Offset.Offset != 42 || got[0].LeaderEpoch != 3 || got[0].Metadata != "m" {
		t.Fatalf("replayed offset: %+v", got[0])
	}
	if d := c2.Describe("g"); d.State != Stable || len(d.Members) != 1 || string(d.Members[0].Assignment) != "asg" {
		t.Fatalf("replayed group: %+v", d)
	}
	if got := c2.FetchOffsets("solo", nil); len(got) != 1 || got[0].Offset.Offset != 7 {
		t.Fatalf("replayed standalone offsets: %+v", got)
	}
	if d := c2.Describe("gone"); d.Found {
		t.Fatal("a deleted group came back from its records")
	}
	// The loaded member must heartbeat within its session timeout or be evicted.
	c2.Tick(h.now.Add(11 * time.Second))
	if d := c2.Describe("g"); d.State != PreparingRebalance && d.State != Empty {
		t.Fatalf("loaded member never heartbeated: state %v", d.State)
	}
}

func TestEmptyGroupOffsetsExpireAfterRetention(t *testing.T) {
	h := newHarness(t, Config{OffsetsRetention: time.Hour})
	parts := []CommitPartition{{Topic: "t", Partition: 0, Offset: 1}}
	h.c.Commit(h.now, "g", "", nil, -1, parts)
	h.advance(59 * time.Minute)
	if got := h.c.FetchOffsets("g", nil); len(got) != 1 {
		t.Fatal("offset expired early")
	}
	h.advance(2 * time.Minute)
	if got := h.c.FetchOffsets("g", nil); len(got) != 0 {
		t.Fatalf("offset kept past offsets.retention.minutes: %+v", got)
	}
	if groups := h.c.List(nil, nil); len(groups) != 0 {
		t.Fatalf("group with no offsets and no members still listed: %+v", groups)
	}
}

func TestPartitionForMatchesKafka(t *testing.T) {
	// Expected values computed with Java: (s.hashCode() & 0x7fffffff) % 50, as Kafka's Utils.abs does.
	cases := map[string]int32{"my-group": 36, "console-consumer-12345": 6, "test-group": 12, "ümlaut-グループ": 20, "😀group": 16}
	for g, want := range cases {
		if got := PartitionFor(g, 50); got != want {
			t.Errorf("%q: partition %d, want %d", g, got, want)
		}
	}
}

func strPtr(s string) *string { return &s }

// isGroupRecord reports whether r is group g's metadata record (tombstone: a nil value).
func isGroupRecord(r Record, g string, tombstone bool) bool {
	return bytes.Equal(r.Key, groupKey(g)) && (r.Value == nil) == tombstone
}

// A group's metadata write that fails (the group emptied while the disk was full) is not dropped:
// Tick writes the group's metadata again until it lands.
func TestFailedGroupMetadataWriteIsRetriedUntilItLands(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.newMember("g")
	h.sync("g", a.MemberID, 1, map[string]string{a.MemberID: "p0"})
	h.store.fail = func([]Record) bool { return true }
	if code := h.c.Leave(h.now, "g", []LeaveMember{{MemberID: a.MemberID}}); code != 0 {
		t.Fatalf("leave: %d", code)
	}
	if d := h.c.Describe("g"); d.State != Empty {
		t.Fatalf("after the last member left: %+v", d)
	}
	written := len(h.store.recs)
	h.advance(time.Second)
	if len(h.store.recs) != written {
		t.Fatal("a write the store refuses was recorded")
	}
	h.store.fail = nil
	h.advance(time.Second)
	if len(h.store.recs) != written+1 || !isGroupRecord(h.store.recs[written], "g", false) {
		t.Fatalf("after the disk recovered: %d records (had %d), want the group's metadata again", len(h.store.recs), written)
	}
	h.advance(time.Second)
	if len(h.store.recs) != written+1 {
		t.Fatalf("the metadata was written again after it landed: %d records", len(h.store.recs))
	}
}

// An expired group whose tombstone fails is deleted at the next retention check instead of
// staying in the log (and coming back after a restart).
func TestFailedGroupTombstoneIsRetriedAtTheNextExpiryCheck(t *testing.T) {
	h := newHarness(t, Config{OffsetsRetention: time.Hour, OffsetsRetentionCheck: time.Minute})
	h.c.Commit(h.now, "g", "", nil, -1, []CommitPartition{{Topic: "t", Partition: 0, Offset: 1}})
	h.store.fail = func(recs []Record) bool { return isGroupRecord(recs[0], "g", true) }
	h.advance(61 * time.Minute)
	if got := h.c.FetchOffsets("g", nil); len(got) != 0 {
		t.Fatalf("offset kept past retention: %+v", got)
	}
	h.store.fail = nil
	h.advance(time.Minute)
	if groups := h.c.List(nil, nil); len(groups) != 0 {
		t.Fatalf("group still listed after its tombstone could be written: %+v", groups)
	}
	if last := h.store.recs[len(h.store.recs)-1]; !isGroupRecord(last, "g", true) {
		t.Fatalf("last record is not g's tombstone: %q", last.Key)
	}
}
