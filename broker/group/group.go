package group

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// State is a group's state in the classic protocol.
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s State) String() string { return stateNames[s] }

// ParseState maps Kafka's state names (as ListGroups filters use them, case-insensitively) to a State.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if equalFold(n, name) {
			return State(i), true
		}
	}
	return 0, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

type protocol struct {
	name     string
	metadata []byte
}

type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string

	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	// joinReply / syncReply are set while the member waits for the join or sync phase to end.
	joinReply     func(JoinResult)
	syncReply     func(SyncResult)
	joinedThisGen bool

	heartbeatDeadline time.Time
}

func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func sameProtocols(a, b []protocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || string(a[i].metadata) != string(b[i].metadata) {
			return false
		}
	}
	return true
}

// Offset is a committed offset.
type Offset struct {
	Offset          int64
	LeaderEpoch     int32
	Metadata        string
	CommitTimestamp int64 // ms
}

// Group is one consumer group.
type Group struct {
	id           string
	state        State
	protocolType string
	protocol     string
	generation   int32
	leader       string
	hasMetadata  bool // a group metadata record exists in the log
	// metadataUnsaved: the last write of the group's metadata record failed; Tick writes it again.
	metadataUnsaved bool
	// tombstoneUnsaved: the group's offsets expired but its tombstone failed; Tick writes it again.
	tombstoneUnsaved bool
	loaded           bool

	members map[string]*member
	order   []string // join order: the leader is the first member when one must be chosen
	static  map[string]string
	pending map[string]time.Time // member IDs handed out with MEMBER_ID_REQUIRED, and their expiry

	offsets map[string]map[int32]Offset

	rebalanceDeadline time.Time // end of the join phase
	initialDelayUntil time.Time // initial rebalance delay of a group that was empty
	syncDeadline      time.Time // end of the sync phase
	emptySince        time.Time
}

func (g *Group) addMember(m *member) {
	if _, ok := g.members[m.id]; !ok {
		g.order = append(g.order, m.id)
	}
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
}

func (g *Group) removeMember(id string) *member {
	m := g.members[id]
	if m == nil {
		return nil
	}
	delete(g.members, id)
	for i, o := range g.order {
		if o == id {
			g.order = append(g.order[:i], g.order[i+1:]...)
			break
		}
	}
	if m.instanceID != nil && g.static[*m.instanceID] == id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == id {
		g.leader = ""
	}
	return m
}

func (g *Group) clearMembers() {
	g.members = map[string]*member{}
	g.order = nil
	g.static = map[string]string{}
	g.leader = ""
}

func (g *Group) setOffset(topic string, partition int32, o Offset) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = map[int32]Offset{}
		g.offsets[topic] = ps
	}
	ps[partition] = o
}

func (g *Group) deleteOffset(topic string, partition int32) {
	if ps := g.offsets[topic]; ps != nil {
		delete(ps, partition)
		if len(ps) == 0 {
			delete(g.offsets, topic)
		}
	}
}

// subscribedTopics returns the topics the members subscribe to, when the group uses the consumer
// protocol (decoded from their metadata).
func (g *Group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	if g.protocolType != "consumer" {
		return out
	}
	for _, m := range g.members {
		for _, t := range decodeSubscription(m.metadataFor(g.protocol)) {
			out[t] = true
		}
	}
	return out
}

// maxRebalanceTimeout is the longest rebalance timeout among the members: how long a join phase waits.
func (g *Group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// candidateProtocols are the protocols every member supports.
func (g *Group) candidateProtocols() map[string]bool {
	var out map[string]bool
	for _, m := range g.members {
		set := map[string]bool{}
		for _, p := range m.protocols {
			if out == nil || out[p.name] {
				set[p.name] = true
			}
		}
		out = set
	}
	return out
}

// selectProtocol is Kafka's vote: each member votes for its most preferred candidate protocol; the
// protocol with the most votes wins (ties by the order of the first member's preference).
func (g *Group) selectProtocol() string {
	cands := g.candidateProtocols()
	votes := map[string]int{}
	for _, id := range g.order {
		for _, p := range g.members[id].protocols {
			if cands[p.name] {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	if len(g.order) > 0 {
		for _, p := range g.members[g.order[0]].protocols {
			if cands[p.name] && votes[p.name] > bestVotes {
				best, bestVotes = p.name, votes[p.name]
			}
		}
	}
	return best
}

func (g *Group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.joinReply == nil {
			return false
		}
	}
	return true
}

func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return clientID + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func msDuration(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
