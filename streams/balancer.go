package streams

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// balancerProtocol is the group protocol name of the task assignor. Members and assignments use
// the consumer protocol's formats (kmsg.ConsumerMemberMetadata and ConsumerMemberAssignment), so
// tools that describe consumer groups show a Gregor streams group like any other.
const balancerProtocol = "gregor-streams"

// memberInfo is the UserData of a member's metadata.
type memberInfo struct {
	Version int `json:"v"`
	// Endpoint is the member's Config.ApplicationServer (host:port), "" if none.
	Endpoint string `json:"endpoint,omitempty"`
	// Owned are the tasks the member ran in the previous generation; State those whose stores
	// it has on disk.
	Owned []string `json:"owned,omitempty"`
	State []string `json:"state,omitempty"`
	// Offsets says, per task, how far the member's copy of its stores reflects their
	// changelogs (the sum of checkpoint + 1 over the stores), for the leader's warm-up choice.
	Offsets map[string]int64 `json:"offsets,omitempty"`
}

// assignmentInfo is the UserData of every member's assignment: who runs what, for interactive
// queries.
type assignmentInfo struct {
	Version int `json:"v"`
	// Hosts maps each member endpoint to the tasks it runs (members without an endpoint are
	// left out).
	Hosts map[string][]string `json:"hosts,omitempty"`
	// Standby are the tasks the receiving member keeps standby copies (or warm-up replicas)
	// of. ProbeAfterMs > 0 asks members to rejoin after that long (a probing rebalance).
	Standby      []string `json:"standby,omitempty"`
	ProbeAfterMs int64    `json:"probe_after_ms,omitempty"`
}

// taskBalancer is the App's kgo.GroupBalancer: a task-aware, sticky assignor (assignTasks)
// that gives each member whole tasks, every co-partitioned input partition of a task together.
type taskBalancer struct{ a *App }

var _ kgo.GroupBalancer = taskBalancer{}

func (taskBalancer) ProtocolName() string { return balancerProtocol }

// IsCooperative is true: the group rebalances incrementally (KIP-429). A member keeps running
// the tasks it keeps; a task that moves is first revoked from its owner (the leader leaves it
// unassigned for a generation, see cooperativeAdjust), whose client then rejoins, and is
// assigned to its new owner in the next generation.
func (taskBalancer) IsCooperative() bool { return true }

func (b taskBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, _ int32) []byte {
	info := memberInfo{Version: 1, Endpoint: b.a.cfg.ApplicationServer}
	// NB: the partitions the member holds now (kgo's current assignment, without what it has
	// revoked) are what it owns; after an eager loss of everything, the last assignment.
	owned := b.a.tasksOf(current)
	if len(current) == 0 {
		owned = b.a.ownedTasks()
	}
	for _, id := range owned {
		info.Owned = append(info.Owned, id.String())
	}
	for _, id := range b.a.tasksWithLocalState() {
		info.State = append(info.State, id.String())
	}
	info.Offsets = b.a.positions.snapshot()
	userData, _ := json.Marshal(info)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 0
	meta.Topics = slices.Sorted(slices.Values(interests))
	meta.UserData = userData
	return meta.AppendTo(nil)
}

func (b taskBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("streams: parse assignment: %w", err)
	}
	out := make(map[string][]int32, len(a.Topics))
	for _, t := range a.Topics {
		out[t.Topic] = t.Partitions
	}
	var info assignmentInfo
	if len(a.UserData) > 0 {
		if err := json.Unmarshal(a.UserData, &info); err != nil {
			return nil, fmt.Errorf("streams: parse assignment user data: %w", err)
		}
	}
	b.a.setAssignment(out, info)
	b.a.setStandbyTasks(parseTasks(info.Standby))
	if info.ProbeAfterMs > 0 {
		b.a.scheduleProbe(msDuration(info.ProbeAfterMs))
	}
	return out, nil
}

func (b taskBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, err
	}
	return cb, cb.MemberTopics(), nil
}

// Balance is the leader's assignment: tasks from the partition counts, members from their
// metadata, assignTasks in between.
func (b taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	a := b.a
	var tasks []taskID
	taskTopics := map[taskID][]string{}
	for _, st := range a.topo.subs {
		n := topics[topicName(a.cfg.ApplicationID, st.sources[0])]
		for p := range n {
			id := taskID{subtopology: st.id, partition: p}
			tasks = append(tasks, id)
			for _, src := range st.sources {
				taskTopics[id] = append(taskTopics[id], topicName(a.cfg.ApplicationID, src))
			}
		}
	}
	var members []assignMember
	endpoints := map[string]string{}
	offsets := map[string]map[taskID]int64{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		var info memberInfo
		_ = json.Unmarshal(meta.UserData, &info) // a member without info is treated as new
		members = append(members, assignMember{id: m.MemberID, owned: parseTasks(info.Owned), state: parseTasks(info.State)})
		endpoints[m.MemberID] = info.Endpoint
		offsets[m.MemberID] = map[taskID]int64{}
		for s, n := range info.Offsets {
			if id, ok := parseTaskID(s); ok {
				offsets[m.MemberID][id] = n
			}
		}
	})
	var stateful []taskID
	isStateful := map[taskID]bool{}
	for _, t := range tasks {
		for _, st := range a.topo.subs {
			if st.id == t.subtopology && len(st.stores) > 0 {
				stateful = append(stateful, t)
				isStateful[t] = true
			}
		}
	}
	// A member is caught up on a task when its copy is at most AcceptableRecoveryLag behind.
	ends := a.changelogEnds(stateful)
	caught := map[taskID]map[string]bool{}
	for _, t := range stateful {
		caught[t] = map[string]bool{}
		for _, m := range members {
			// NB: without end offsets nobody is held back (plain cooperative moves).
			if e, ok := ends[t]; ends == nil || ok && e-offsets[m.id][t] <= a.cfg.AcceptableRecoveryLag {
				caught[t][m.id] = true
			}
		}
	}
	plan, warmups := holdBackUntilWarm(members, assignTasks(members, tasks), isStateful, caught, a.cfg.MaxWarmupReplicas)
	plan = cooperativeAdjust(members, plan)
	standby := assignStandbys(members, plan, stateful, a.cfg.NumStandbyReplicas)
	for m, ts := range warmups {
		for _, t := range ts {
			if !slices.Contains(standby[m], t) {
				standby[m] = append(standby[m], t)
			}
		}
	}
	hosts := map[string][]string{}
	for member, ts := range plan {
		if ep := endpoints[member]; ep != "" {
			for _, t := range ts {
				hosts[ep] = append(hosts[ep], t.String())
			}
		}
	}
	var out syncAssignment
	for _, m := range members {
		info := assignmentInfo{Version: 1, Hosts: hosts}
		if len(warmups) > 0 {
			info.ProbeAfterMs = a.cfg.ProbingRebalanceInterval.Milliseconds()
		}
		for _, t := range standby[m.id] {
			info.Standby = append(info.Standby, t.String())
		}
		userData, _ := json.Marshal(info)
		byTopic := map[string][]int32{}
		for _, t := range plan[m.id] {
			for _, topic := range taskTopics[t] {
				byTopic[topic] = append(byTopic[topic], t.partition)
			}
		}
		assignment := kmsg.NewConsumerMemberAssignment()
		for _, topic := range slices.Sorted(func(yield func(string) bool) {
			for t := range byTopic {
				if !yield(t) {
					return
				}
			}
		}) {
			ps := byTopic[topic]
			slices.Sort(ps)
			assignment.Topics = append(assignment.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: topic, Partitions: ps})
		}
		assignment.UserData = userData
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: m.id, MemberAssignment: assignment.AppendTo(nil)})
	}
	return out
}

type syncAssignment []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }

func parseTasks(ss []string) []taskID {
	var out []taskID
	for _, s := range ss {
		if id, ok := parseTaskID(s); ok {
			out = append(out, id)
		}
	}
	return out
}

func parseTaskID(s string) (taskID, bool) {
	sub, part, ok := strings.Cut(s, "_")
	if !ok {
		return taskID{}, false
	}
	st, err1 := strconv.Atoi(sub)
	p, err2 := strconv.Atoi(part)
	if err1 != nil || err2 != nil || st < 0 || p < 0 {
		return taskID{}, false
	}
	return taskID{subtopology: st, partition: int32(p)}, true
}

// tasksWithLocalState lists the tasks whose stores exist under the state dir.
func (a *App) tasksWithLocalState() []taskID {
	if a.cfg.StateDir == "" {
		return nil
	}
	seen := map[taskID]bool{}
	for _, st := range a.topo.subs {
		for _, store := range st.stores {
			entries, err := os.ReadDir(filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, store))
			if err != nil {
				continue
			}
			for _, e := range entries {
				p, err := strconv.Atoi(e.Name())
				if err != nil || !e.IsDir() {
					continue
				}
				if _, err := os.Stat(filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, store, e.Name(), "CURRENT")); err == nil {
					seen[taskID{subtopology: st.id, partition: int32(p)}] = true
				}
			}
		}
	}
	return sortedTasks(slices.Collect(func(yield func(taskID) bool) {
		for id := range seen {
			if !yield(id) {
				return
			}
		}
	}))
}

// tasksOf returns the tasks of a member's partitions.
func (a *App) tasksOf(parts map[string][]int32) []taskID {
	seen := map[taskID]bool{}
	for topic, ps := range parts {
		if st := a.subOf[topic]; st != nil {
			for _, p := range ps {
				seen[taskID{subtopology: st.id, partition: p}] = true
			}
		}
	}
	return sortedTasks(slices.Collect(func(yield func(taskID) bool) {
		for id := range seen {
			if !yield(id) {
				return
			}
		}
	}))
}
