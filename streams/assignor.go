package streams

import (
	"cmp"
	"slices"
)

// assignMember is one group member as the task assignor sees it.
type assignMember struct {
	id string
	// owned are the tasks the member ran in the previous generation.
	owned []taskID
	// state are the tasks whose stores the member has on local disk (it can resume them by
	// restoring only the changelog tail).
	state []taskID
}

// assignTasks spreads tasks over members so that, within each sub-topology, counts differ by at
// most one (so stateful and stateless work are both spread), keeping each task where it ran
// before when it can, else placing it where its state is on disk, else on the least-loaded
// member. It is pure and deterministic: members and tasks are taken in sorted order. It returns
// the tasks of each member.
func assignTasks(members []assignMember, tasks []taskID) map[string][]taskID {
	out := make(map[string][]taskID, len(members))
	if len(members) == 0 {
		return out
	}
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b assignMember) int { return cmp.Compare(a.id, b.id) })
	tasks = slices.Clone(tasks)
	slices.SortFunc(tasks, compareTasks)
	for start := 0; start < len(tasks); {
		end := start
		for end < len(tasks) && tasks[end].subtopology == tasks[start].subtopology {
			end++
		}
		assignGroup(members, tasks[start:end], out)
		start = end
	}
	for id := range out {
		slices.SortFunc(out[id], compareTasks)
	}
	return out
}

// assignGroup assigns the tasks of one sub-topology, adding to out.
func assignGroup(members []assignMember, tasks []taskID, out map[string][]taskID) {
	exists := make(map[taskID]bool, len(tasks))
	for _, t := range tasks {
		exists[t] = true
	}
	ownedHere := func(m assignMember) int {
		n := 0
		for _, t := range m.owned {
			if exists[t] {
				n++
			}
		}
		return n
	}
	// Quotas: every member gets len/n; the remainder goes to the members with the least work
	// so far (total balance), then to those that ran the most of these tasks before (fewest
	// moves).
	n := len(members)
	quota := make(map[string]int, n)
	for _, m := range members {
		quota[m.id] = len(tasks) / n
	}
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b assignMember) int {
		if c := cmp.Compare(len(out[a.id]), len(out[b.id])); c != 0 {
			return c
		}
		return cmp.Compare(ownedHere(b), ownedHere(a))
	})
	for i := 0; i < len(tasks)%n; i++ {
		quota[order[i].id]++
	}
	mine := make(map[string]int, n)
	assigned := make(map[taskID]bool, len(tasks))
	give := func(member string, t taskID) bool {
		if assigned[t] || !exists[t] || mine[member] >= quota[member] {
			return false
		}
		assigned[t] = true
		mine[member]++
		out[member] = append(out[member], t)
		return true
	}
	// 1. Sticky: a task stays with its previous owner. A task claimed by two members (a
	// rebalance raced a crash) goes to the first in id order. An owner over its quota keeps
	// first the tasks whose state no other member has (a member rejoining with its old stores
	// gets those back).
	stateHolders := map[taskID]map[string]bool{}
	for _, m := range members {
		for _, t := range m.state {
			if stateHolders[t] == nil {
				stateHolders[t] = map[string]bool{}
			}
			stateHolders[t][m.id] = true
		}
	}
	elsewhere := func(member string, t taskID) int {
		for other := range stateHolders[t] {
			if other != member {
				return 1
			}
		}
		return 0
	}
	for _, m := range members {
		owned := sortedTasks(m.owned)
		slices.SortStableFunc(owned, func(a, b taskID) int { return cmp.Compare(elsewhere(m.id, a), elsewhere(m.id, b)) })
		for _, t := range owned {
			give(m.id, t)
		}
	}
	// 2. State: a task goes where its stores are on disk.
	for _, m := range members {
		for _, t := range sortedTasks(m.state) {
			give(m.id, t)
		}
	}
	// 3. The rest to the member with room and the least work.
	for _, t := range tasks {
		if assigned[t] {
			continue
		}
		best := ""
		for _, m := range members {
			if mine[m.id] >= quota[m.id] {
				continue
			}
			if best == "" || len(out[m.id]) < len(out[best]) {
				best = m.id
			}
		}
		give(best, t)
	}
}

func compareTasks(a, b taskID) int {
	if c := cmp.Compare(a.subtopology, b.subtopology); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

func sortedTasks(ts []taskID) []taskID {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, compareTasks)
	return ts
}

// assignStandbys picks, for each stateful task, up to replicas members other than its active
// owner (plan) to keep a standby copy of its stores (num.standby.replicas): first members that
// already have the task's state on disk (the least catching up), then the members with the
// fewest standbys of the same active owner's tasks, then with the fewest standbys, in id order. Tasks of sub-topologies without stores get none. It returns the
// standby tasks of each member.
func assignStandbys(members []assignMember, plan map[string][]taskID, stateful []taskID, replicas int) map[string][]taskID {
	out := map[string][]taskID{}
	if replicas <= 0 || len(members) < 2 {
		return out
	}
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b assignMember) int { return cmp.Compare(a.id, b.id) })
	active := map[taskID]string{}
	for m, ts := range plan {
		for _, t := range ts {
			active[t] = m
		}
	}
	hasState := func(m assignMember, t taskID) bool { return slices.Contains(m.state, t) }
	sameOwner := func(member, owner string) int {
		n := 0
		for _, t := range out[member] {
			if active[t] == owner {
				n++
			}
		}
		return n
	}
	for _, t := range sortedTasks(stateful) {
		var chosen []string
		for range min(replicas, len(members)-1) {
			best := -1
			for i, m := range members {
				if m.id == active[t] || slices.Contains(chosen, m.id) {
					continue
				}
				if best < 0 {
					best = i
					continue
				}
				b := members[best]
				if hs, bs := hasState(m, t), hasState(b, t); hs != bs {
					if hs {
						best = i
					}
					continue
				}
				// NB: then spread each owner's tasks over different members, so that when it
				// dies its tasks go to several warm members, within their quotas.
				if mo, bo := sameOwner(m.id, active[t]), sameOwner(b.id, active[t]); mo != bo {
					if mo < bo {
						best = i
					}
					continue
				}
				if len(out[m.id]) < len(out[b.id]) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			chosen = append(chosen, members[best].id)
			out[members[best].id] = append(out[members[best].id], t)
		}
	}
	return out
}

// cooperativeAdjust takes out of plan every task planned for a member other than the one that
// owns it now: the owner is told to revoke it (it is not in its assignment), rejoins once it has
// committed and closed it, and the next generation gives it to its new member. A task keeps
// running where it stays.
func cooperativeAdjust(members []assignMember, plan map[string][]taskID) map[string][]taskID {
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b assignMember) int { return cmp.Compare(a.id, b.id) })
	owner := map[taskID]string{} // a task claimed twice is the first member's, as in assignTasks
	for _, m := range members {
		for _, t := range m.owned {
			if _, claimed := owner[t]; !claimed {
				owner[t] = m.id
			}
		}
	}
	out := make(map[string][]taskID, len(plan))
	for m, ts := range plan {
		for _, t := range ts {
			if o, ok := owner[t]; !ok || o == m {
				out[m] = append(out[m], t)
			}
		}
	}
	return out
}
