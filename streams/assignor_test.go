package streams

import (
	"fmt"
	"strings"
	"testing"
)

func tasksOf(spec string) []taskID {
	var out []taskID
	for _, f := range strings.Fields(spec) {
		var id taskID
		if _, err := fmt.Sscanf(f, "%d_%d", &id.subtopology, &id.partition); err != nil {
			panic(f)
		}
		out = append(out, id)
	}
	return out
}

func formatAssignment(a map[string][]taskID, members ...string) string {
	var parts []string
	for _, m := range members {
		var ts []string
		for _, t := range a[m] {
			ts = append(ts, t.String())
		}
		parts = append(parts, m+":"+strings.Join(ts, ","))
	}
	return strings.Join(parts, " ")
}

func TestAssignTasks(t *testing.T) {
	all6 := "0_0 0_1 0_2 0_3 0_4 0_5"
	for _, tc := range []struct {
		name    string
		members []assignMember
		tasks   string
		want    string
	}{
		{"first generation spreads evenly", []assignMember{{id: "a"}, {id: "b"}}, all6,
			"a:0_0,0_2,0_4 b:0_1,0_3,0_5"},
		{"previous owners keep their tasks", []assignMember{
			{id: "a", owned: tasksOf("0_3 0_4 0_5")}, {id: "b", owned: tasksOf("0_0 0_1 0_2")}}, all6,
			"a:0_3,0_4,0_5 b:0_0,0_1,0_2"},
		{"a joining member takes only what balance needs, sticky for the rest", []assignMember{
			{id: "a", owned: tasksOf(all6)}, {id: "b"}, {id: "c"}}, all6,
			"a:0_0,0_1 b:0_2,0_4 c:0_3,0_5"},
		{"a dead member's tasks go where their state is", []assignMember{
			{id: "a", owned: tasksOf("0_0 0_1 0_2"), state: tasksOf("0_3")},
			{id: "b", owned: tasksOf("0_4"), state: tasksOf("0_5")}}, all6,
			"a:0_0,0_1,0_2 b:0_3,0_4,0_5"},
		{"state is used within the quota", []assignMember{
			{id: "a", owned: tasksOf("0_0 0_1 0_2"), state: tasksOf("0_3 0_4 0_5")}, {id: "b"}}, all6,
			"a:0_0,0_1,0_2 b:0_3,0_4,0_5"},
		{"a task claimed twice goes to one member", []assignMember{
			{id: "a", owned: tasksOf("0_0 0_1")}, {id: "b", owned: tasksOf("0_1 0_2")}}, "0_0 0_1 0_2 0_3",
			"a:0_0,0_1 b:0_2,0_3"},
		{"uneven counts: the remainder goes to the busiest previous owner", []assignMember{
			{id: "a", owned: tasksOf("0_0")}, {id: "b", owned: tasksOf("0_1 0_2 1_0")}}, "0_0 0_1 0_2 1_0 1_1",
			"a:0_0,1_1 b:0_1,0_2,1_0"},
		{"tasks that no longer exist are dropped", []assignMember{
			{id: "a", owned: tasksOf("0_0 0_7")}}, "0_0 0_1",
			"a:0_0,0_1"},
		{"a member rejoining with its stores gets its tasks back", []assignMember{
			{id: "a", owned: tasksOf(all6), state: tasksOf(all6)},
			{id: "b", state: tasksOf("0_1 0_3 0_5")}}, all6,
			"a:0_0,0_2,0_4 b:0_1,0_3,0_5"},
		{"each sub-topology is spread, and the total too", []assignMember{
			{id: "a", owned: tasksOf("0_0 0_1 0_2 1_0 1_1 1_2")}, {id: "b"}}, "0_0 0_1 0_2 1_0 1_1 1_2",
			"a:0_0,0_1,1_0 b:0_2,1_1,1_2"},
		{"more members than tasks", []assignMember{{id: "a"}, {id: "b"}, {id: "c"}}, "0_0 0_1",
			"a:0_0 b:0_1 c:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ids []string
			for _, m := range tc.members {
				ids = append(ids, m.id)
			}
			got := formatAssignment(assignTasks(tc.members, tasksOf(tc.tasks)), ids...)
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAssignStandbys(t *testing.T) {
	members := []assignMember{{id: "a"}, {id: "b", state: tasksOf("0_0")}, {id: "c"}}
	plan := map[string][]taskID{"a": tasksOf("0_0 0_1"), "b": tasksOf("0_2 0_3"), "c": tasksOf("0_4 0_5")}
	all6 := tasksOf("0_0 0_1 0_2 0_3 0_4 0_5")
	for _, tc := range []struct {
		name     string
		replicas int
		want     string
	}{
		{"none without replicas", 0, "a: b: c:"},
		{"one each, never on the active owner, spread, where the state is first", 1, "a:0_2,0_4 b:0_0,0_5 c:0_1,0_3"},
		{"two: every other member", 2, "a:0_2,0_3,0_4,0_5 b:0_0,0_1,0_4,0_5 c:0_0,0_1,0_2,0_3"},
		{"more than there are members: every other member", 5, "a:0_2,0_3,0_4,0_5 b:0_0,0_1,0_4,0_5 c:0_0,0_1,0_2,0_3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatAssignment(assignStandbys(members, plan, all6, tc.replicas), "a", "b", "c"); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCooperativeAdjustHoldsBackTasksThatMoveUntilTheirOwnerRevokedThem(t *testing.T) {
	members := []assignMember{{id: "b", owned: tasksOf("0_3 0_4 0_5")}, {id: "a", owned: tasksOf("0_0 0_1 0_2 0_3")}, {id: "c"}}
	plan := assignTasks(members, tasksOf("0_0 0_1 0_2 0_3 0_4 0_5"))
	if got, want := formatAssignment(plan, "a", "b", "c"), "a:0_0,0_1 b:0_3,0_4 c:0_2,0_5"; got != want {
		t.Fatalf("plan %s, want %s", got, want)
	}
	// 0_3 was claimed by both: it is a's (first in id order), so b gets it only once a has
	// revoked it, as c gets 0_2 (a's) and 0_5 (b's).
	if got, want := formatAssignment(cooperativeAdjust(members, plan), "a", "b", "c"), "a:0_0,0_1 b:0_4 c:"; got != want {
		t.Fatalf("adjusted %s, want %s", got, want)
	}
}

func TestHoldBackUntilWarmKeepsAMoveWithItsOwnerAndWarmsTheNewMemberUp(t *testing.T) {
	members := []assignMember{{id: "a", owned: tasksOf("0_0 0_1 0_2")}, {id: "b", owned: tasksOf("0_3 0_4 0_5")}, {id: "c"}}
	plan := assignTasks(members, tasksOf("0_0 0_1 0_2 0_3 0_4 0_5"))
	stateful := map[taskID]bool{}
	for _, id := range tasksOf("0_0 0_1 0_2 0_3 0_4 0_5") {
		stateful[id] = true
	}
	// c is caught up on 0_5 only; one warm-up at most.
	caught := map[taskID]map[string]bool{taskID{0, 5}: {"c": true}}
	if got, want := formatAssignment(plan, "a", "b", "c"), "a:0_0,0_1 b:0_3,0_4 c:0_2,0_5"; got != want {
		t.Fatalf("plan %s, want %s", got, want)
	}
	held, warmups := holdBackUntilWarm(members, plan, stateful, caught, 1)
	if got, want := formatAssignment(held, "a", "b", "c"), "a:0_0,0_1,0_2 b:0_3,0_4 c:0_5"; got != want {
		t.Fatalf("held back %s, want %s", got, want)
	}
	if got, want := formatAssignment(warmups, "a", "b", "c"), "a: b: c:0_2"; got != want {
		t.Fatalf("warm-ups %s, want %s", got, want)
	}
}
