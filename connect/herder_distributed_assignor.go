package connect

import (
	"cmp"
	"slices"
	"time"
)

// WorkAssignment is the work one worker runs: connector instances and tasks. Slices are sorted.
type WorkAssignment struct {
	Connectors []string          `json:"connectors"`
	Tasks      []ConnectorTaskID `json:"tasks"`
}

func (a WorkAssignment) empty() bool { return len(a.Connectors) == 0 && len(a.Tasks) == 0 }

// AssignorMember is one group member as the leader sees it in JoinGroup: what it owns now.
type AssignorMember struct {
	// URL is the member's advertised REST URL.
	URL string
	// Owned is the work the member reports it is running.
	Owned WorkAssignment
}

// AssignorState is what the leader remembers between rounds. A new leader starts from the zero
// value (it then knows no lost work: what the members report is all there is).
type AssignorState struct {
	// Previous is the assignment of the last round, by member ID.
	Previous map[string]WorkAssignment
	// Lost is work whose worker left and that is held back until LostDeadline.
	Lost WorkAssignment
	// LostDeadline is when held work is reassigned; zero when nothing is held.
	LostDeadline time.Time
}

// AssignorInput is one rebalance round.
type AssignorInput struct {
	Members map[string]AssignorMember
	// Connectors and Tasks are every configured connector and task (from the config topic).
	Connectors []string
	Tasks      []ConnectorTaskID
	// Now is the round's time; MaxDelay is scheduled.rebalance.max.delay.ms.
	Now      time.Time
	MaxDelay time.Duration
	State    AssignorState
}

// MemberAssignment is what one member is told.
type MemberAssignment struct {
	// Assigned is everything the member runs after this round (owned minus revoked plus new).
	Assigned WorkAssignment `json:"assigned"`
	// Revoked is owned work the member must stop; a member that revoked something rejoins at once
	// so the freed work can be assigned in the next round.
	Revoked WorkAssignment `json:"revoked"`
	// Delay is how long until held (lost) work is reassigned; the leader rejoins then.
	Delay time.Duration `json:"delay"`
}

// AssignorOutput is the result of a round.
type AssignorOutput struct {
	Assignments map[string]MemberAssignment
	State       AssignorState
}

// workKey identifies a unit of work: a connector ("name", task -1) or a task.
type workKey struct {
	connector string
	task      int
}

func (k workKey) isConnector() bool { return k.task < 0 }

func compareWork(a, b workKey) int {
	if c := cmp.Compare(a.connector, b.connector); c != 0 {
		return c
	}
	return cmp.Compare(a.task, b.task)
}

func keysOf(a WorkAssignment) []workKey {
	out := make([]workKey, 0, len(a.Connectors)+len(a.Tasks))
	for _, c := range a.Connectors {
		out = append(out, workKey{c, -1})
	}
	for _, t := range a.Tasks {
		out = append(out, workKey{t.Connector, t.Task})
	}
	return out
}

func assignmentOf(keys map[workKey]bool) WorkAssignment {
	a := WorkAssignment{Connectors: []string{}, Tasks: []ConnectorTaskID{}}
	sorted := make([]workKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, compareWork)
	for _, k := range sorted {
		if k.isConnector() {
			a.Connectors = append(a.Connectors, k.connector)
		} else {
			a.Tasks = append(a.Tasks, ConnectorTaskID{Connector: k.connector, Task: k.task})
		}
	}
	return a
}

// Assign computes an incremental cooperative assignment (Kafka's KIP-415 idea) as a pure function:
//   - a member keeps what it owns unless that work was deleted, is also owned by another member, or
//     must move for balance; only such work is revoked;
//   - work revoked for balance is assigned in a later round (after its owner stopped it), never in
//     the round that revokes it, so no unit of work ever runs twice;
//   - work of a member that left is held back for MaxDelay (the worker may come back, e.g. a
//     restart), then assigned like new work;
//   - new work goes to the least loaded members, connectors and tasks balanced separately.
func Assign(in AssignorInput) AssignorOutput {
	members := make([]string, 0, len(in.Members))
	for id := range in.Members {
		members = append(members, id)
	}
	slices.Sort(members)

	configured := map[workKey]bool{}
	for _, c := range in.Connectors {
		configured[workKey{c, -1}] = true
	}
	for _, t := range in.Tasks {
		configured[workKey{t.Connector, t.Task}] = true
	}

	// Current ownership: the first member (by ID) to claim a unit keeps it; other claims and
	// claims on deleted work are revoked.
	owner := map[workKey]string{}
	keep := map[string]map[workKey]bool{}
	revoked := map[string]map[workKey]bool{}
	for _, id := range members {
		keep[id], revoked[id] = map[workKey]bool{}, map[workKey]bool{}
		for _, k := range keysOf(in.Members[id].Owned) {
			if _, taken := owner[k]; taken || !configured[k] {
				revoked[id][k] = true
				continue
			}
			owner[k] = id
			keep[id][k] = true
		}
	}

	// Lost work: assigned last round to a member that is gone, and not owned by anyone now.
	state := AssignorState{Previous: map[string]WorkAssignment{}}
	lost := map[workKey]bool{}
	for _, k := range keysOf(in.State.Lost) {
		lost[k] = true
	}
	for id, a := range in.State.Previous {
		if _, present := in.Members[id]; present {
			continue
		}
		for _, k := range keysOf(a) {
			lost[k] = true
		}
	}
	for k := range lost {
		if _, owned := owner[k]; owned || !configured[k] {
			delete(lost, k)
		}
	}
	var delay time.Duration
	if len(lost) > 0 {
		deadline := in.State.LostDeadline
		if deadline.IsZero() {
			deadline = in.Now.Add(in.MaxDelay)
		}
		if in.Now.Before(deadline) {
			state.Lost, state.LostDeadline = assignmentOf(lost), deadline
			delay = deadline.Sub(in.Now)
		} else {
			clear(lost) // the delay is over: lost work is now simply unassigned
		}
	}

	var unassigned []workKey
	for k := range configured {
		if _, owned := owner[k]; !owned && !lost[k] {
			unassigned = append(unassigned, k)
		}
	}
	slices.SortFunc(unassigned, compareWork)

	if len(members) > 0 {
		for _, connectors := range []bool{true, false} {
			balance(members, keep, revoked, unassigned, connectors, len(lost) > 0)
		}
	}

	out := AssignorOutput{Assignments: map[string]MemberAssignment{}, State: state}
	for _, id := range members {
		a := assignmentOf(keep[id])
		out.Assignments[id] = MemberAssignment{Assigned: a, Revoked: assignmentOf(revoked[id]), Delay: delay}
		state.Previous[id] = a
	}
	return out
}

// balance spreads one kind of work (connectors or tasks) over members: targets are the even share,
// the larger shares going to the members that already hold most (so least moves); members over
// target have their excess revoked, and unassigned work fills members under target. While lost
// work is held back (holding), nothing is revoked for balance: the lost work will fill the gap.
func balance(members []string, keep, revoked map[string]map[workKey]bool, unassigned []workKey, connectors, holding bool) {
	load := func(id string) int {
		n := 0
		for k := range keep[id] {
			if k.isConnector() == connectors {
				n++
			}
		}
		return n
	}
	var todo []workKey
	for _, k := range unassigned {
		if k.isConnector() == connectors {
			todo = append(todo, k)
		}
	}
	total := len(todo)
	for _, id := range members {
		total += load(id)
	}
	// Members ordered by current load (most first), ties by ID, get the larger shares.
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(load(b), load(a)) })
	target := map[string]int{}
	for i, id := range order {
		target[id] = total / len(members)
		if i < total%len(members) {
			target[id]++
		}
	}
	if !holding {
		for _, id := range members {
			excess := load(id) - target[id]
			if excess <= 0 {
				continue
			}
			var mine []workKey
			for k := range keep[id] {
				if k.isConnector() == connectors {
					mine = append(mine, k)
				}
			}
			// NB: revoke from the end of the sorted order so the choice is deterministic.
			slices.SortFunc(mine, compareWork)
			for _, k := range mine[len(mine)-excess:] {
				delete(keep[id], k)
				revoked[id][k] = true
			}
		}
	}
	// New work: each unit to the member furthest below its target, then the least loaded.
	for _, k := range todo {
		best := ""
		for _, id := range members {
			if best == "" {
				best = id
				continue
			}
			gb, gi := target[best]-load(best), target[id]-load(id)
			if gi > gb || (gi == gb && load(id) < load(best)) {
				best = id
			}
		}
		keep[best][k] = true
	}
}
