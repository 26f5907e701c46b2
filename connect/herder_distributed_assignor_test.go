package connect

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// work parses "c:a c:b t:a/0" into an assignment.
func work(s string) WorkAssignment {
	a := WorkAssignment{Connectors: []string{}, Tasks: []ConnectorTaskID{}}
	for _, f := range strings.Fields(s) {
		kind, rest, _ := strings.Cut(f, ":")
		if kind == "c" {
			a.Connectors = append(a.Connectors, rest)
			continue
		}
		name, n, _ := strings.Cut(rest, "/")
		a.Tasks = append(a.Tasks, ConnectorTaskID{Connector: name, Task: int(n[0] - '0')})
	}
	return assignmentOf(func() map[workKey]bool {
		m := map[workKey]bool{}
		for _, k := range keysOf(a) {
			m[k] = true
		}
		return m
	}())
}

func members(owned map[string]string) map[string]AssignorMember {
	m := map[string]AssignorMember{}
	for id, w := range owned {
		m[id] = AssignorMember{URL: "http://" + id, Owned: work(w)}
	}
	return m
}

func TestAssign(t *testing.T) {
	t0 := time.Unix(1000, 0)
	conns := []string{"a", "b"}
	tasks := []ConnectorTaskID{{"a", 0}, {"a", 1}, {"b", 0}, {"b", 1}}
	type want struct{ assigned, revoked string }
	cases := []struct {
		name       string
		members    map[string]string
		connectors []string
		tasks      []ConnectorTaskID
		now        time.Time
		state      AssignorState
		want       map[string]want
		wantDelay  time.Duration
		wantLost   string
	}{
		{
			name:    "first worker gets everything",
			members: map[string]string{"w1": ""},
			want:    map[string]want{"w1": {"c:a c:b t:a/0 t:a/1 t:b/0 t:b/1", ""}},
		},
		{
			name:    "new work spreads evenly over two empty workers",
			members: map[string]string{"w1": "", "w2": ""},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:b/0", ""},
				"w2": {"c:b t:a/1 t:b/1", ""},
			},
		},
		{
			name:    "a joining worker makes the busy one revoke only the excess, assigned nothing yet",
			members: map[string]string{"w1": "c:a c:b t:a/0 t:a/1 t:b/0 t:b/1", "w2": ""},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/1", "c:b t:b/0 t:b/1"},
				"w2": {"", ""},
			},
		},
		{
			name:    "after the revocation the freed work goes to the new worker",
			members: map[string]string{"w1": "c:a t:a/0 t:a/1", "w2": ""},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/1", ""},
				"w2": {"c:b t:b/0 t:b/1", ""},
			},
		},
		{
			name:    "a balanced group moves nothing",
			members: map[string]string{"w1": "c:b t:a/0 t:b/1", "w2": "c:a t:a/1 t:b/0"},
			want: map[string]want{
				"w1": {"c:b t:a/0 t:b/1", ""},
				"w2": {"c:a t:a/1 t:b/0", ""},
			},
		},
		{
			name:    "a departed worker's work is held back until the delay ends",
			members: map[string]string{"w1": "c:a t:a/0 t:a/1"},
			now:     t0,
			state:   AssignorState{Previous: map[string]WorkAssignment{"w1": work("c:a t:a/0 t:a/1"), "w2": work("c:b t:b/0 t:b/1")}},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/1", ""},
			},
			wantDelay: 5 * time.Second,
			wantLost:  "c:b t:b/0 t:b/1",
		},
		{
			name:    "held work is reassigned once the delay is over",
			members: map[string]string{"w1": "c:a t:a/0 t:a/1"},
			now:     t0.Add(5 * time.Second),
			state: AssignorState{Previous: map[string]WorkAssignment{"w1": work("c:a t:a/0 t:a/1")},
				Lost: work("c:b t:b/0 t:b/1"), LostDeadline: t0.Add(5 * time.Second)},
			want: map[string]want{
				"w1": {"c:a c:b t:a/0 t:a/1 t:b/0 t:b/1", ""},
			},
		},
		{
			name:    "the remaining delay is reported in a round before the deadline",
			members: map[string]string{"w1": "c:a t:a/0 t:a/1"},
			now:     t0.Add(2 * time.Second),
			state: AssignorState{Previous: map[string]WorkAssignment{"w1": work("c:a t:a/0 t:a/1")},
				Lost: work("c:b t:b/0 t:b/1"), LostDeadline: t0.Add(5 * time.Second)},
			want:      map[string]want{"w1": {"c:a t:a/0 t:a/1", ""}},
			wantDelay: 3 * time.Second,
			wantLost:  "c:b t:b/0 t:b/1",
		},
		{
			name:    "a worker that comes back in time keeps its work",
			members: map[string]string{"w1": "c:a t:a/0 t:a/1", "w2": "c:b t:b/0 t:b/1"},
			now:     t0.Add(2 * time.Second),
			state: AssignorState{Previous: map[string]WorkAssignment{"w1": work("c:a t:a/0 t:a/1")},
				Lost: work("c:b t:b/0 t:b/1"), LostDeadline: t0.Add(5 * time.Second)},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/1", ""},
				"w2": {"c:b t:b/0 t:b/1", ""},
			},
		},
		{
			name:       "deleted work is revoked, and the rest rebalanced",
			members:    map[string]string{"w1": "c:a t:a/0 t:a/1", "w2": "c:b t:b/0 t:b/1"},
			connectors: []string{"a"},
			tasks:      []ConnectorTaskID{{"a", 0}, {"a", 1}},
			want: map[string]want{
				"w1": {"c:a t:a/0", "t:a/1"},
				"w2": {"", "c:b t:b/0 t:b/1"},
			},
		},
		{
			name:    "work claimed twice runs nowhere twice",
			members: map[string]string{"w1": "c:a c:b t:a/0 t:a/1", "w2": "c:b t:b/0 t:b/1"},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/1", "c:b"},
				"w2": {"t:b/0 t:b/1", "c:b"},
			},
		},
		{
			name:       "tasks spread evenly over three workers",
			members:    map[string]string{"w1": "", "w2": "", "w3": ""},
			connectors: []string{"a"},
			tasks:      []ConnectorTaskID{{"a", 0}, {"a", 1}, {"a", 2}, {"a", 3}, {"a", 4}, {"a", 5}},
			want: map[string]want{
				"w1": {"c:a t:a/0 t:a/3", ""},
				"w2": {"t:a/1 t:a/4", ""},
				"w3": {"t:a/2 t:a/5", ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := AssignorInput{Members: members(tc.members), Connectors: conns, Tasks: tasks, Now: tc.now, MaxDelay: 5 * time.Second, State: tc.state}
			if tc.connectors != nil {
				in.Connectors, in.Tasks = tc.connectors, tc.tasks
			}
			if in.Now.IsZero() {
				in.Now = t0
			}
			out := Assign(in)
			if len(out.Assignments) != len(tc.want) {
				t.Fatalf("got %d assignments, want %d", len(out.Assignments), len(tc.want))
			}
			for id, w := range tc.want {
				got := out.Assignments[id]
				if !reflect.DeepEqual(got.Assigned, work(w.assigned)) {
					t.Errorf("%s assigned %+v, want %+v", id, got.Assigned, work(w.assigned))
				}
				if !reflect.DeepEqual(got.Revoked, work(w.revoked)) {
					t.Errorf("%s revoked %+v, want %+v", id, got.Revoked, work(w.revoked))
				}
				if got.Delay != tc.wantDelay {
					t.Errorf("%s delay %v, want %v", id, got.Delay, tc.wantDelay)
				}
			}
			if !reflect.DeepEqual(out.State.Lost, work(tc.wantLost)) && !(tc.wantLost == "" && out.State.Lost.empty()) {
				t.Errorf("held back %+v, want %+v", out.State.Lost, work(tc.wantLost))
			}
		})
	}
}

func TestAssignNeverRunsWorkTwiceAcrossRounds(t *testing.T) {
	// Drive rounds where members apply their assignments; at no point may two members run the
	// same unit, and after a few rounds everything runs, evenly.
	conns := []string{"a", "b", "c"}
	var tasks []ConnectorTaskID
	for _, c := range conns {
		for i := range 3 {
			tasks = append(tasks, ConnectorTaskID{c, i})
		}
	}
	owned := map[string]WorkAssignment{"w1": {}}
	var state AssignorState
	now := time.Unix(0, 0)
	step := func() {
		in := AssignorInput{Members: map[string]AssignorMember{}, Connectors: conns, Tasks: tasks, Now: now, MaxDelay: time.Second, State: state}
		for id, w := range owned {
			in.Members[id] = AssignorMember{Owned: w}
		}
		out := Assign(in)
		state = out.State
		seen := map[workKey]string{}
		for id, a := range out.Assignments {
			owned[id] = a.Assigned
			for _, k := range keysOf(a.Assigned) {
				if other, dup := seen[k]; dup {
					t.Fatalf("%v assigned to %s and %s", k, other, id)
				}
				seen[k] = id
			}
		}
		now = now.Add(100 * time.Millisecond)
	}
	step()
	owned["w2"], owned["w3"] = WorkAssignment{}, WorkAssignment{}
	for range 3 {
		step()
	}
	for id, a := range owned {
		if len(a.Connectors) != 1 || len(a.Tasks) != 3 {
			t.Errorf("%s runs %+v, want 1 connector and 3 tasks", id, a)
		}
	}
	delete(owned, "w3")
	step()
	total := 0
	for _, a := range owned {
		total += len(a.Tasks)
	}
	if total != 6 {
		t.Fatalf("before the delay, w3's tasks must be held back: %d tasks running, want 6", total)
	}
	now = now.Add(time.Second)
	step()
	step()
	for id, a := range owned {
		if len(a.Tasks) < 4 || len(a.Tasks) > 5 {
			t.Errorf("%s runs %d tasks after the delay, want 4 or 5", id, len(a.Tasks))
		}
	}
}
