package streams

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/twmb/franz-go/pkg/kadm"
)

// DefaultAcceptableRecoveryLag is Kafka Streams' acceptable.recovery.lag: a member whose copy
// of a task's stores is at most this many changelog records behind counts as caught up.
const DefaultAcceptableRecoveryLag = 10000

// DefaultMaxWarmupReplicas is Kafka Streams' max.warmup.replicas.
const DefaultMaxWarmupReplicas = 2

// DefaultProbingRebalanceInterval is Kafka Streams' probing.rebalance.interval.ms.
const DefaultProbingRebalanceInterval = 10 * time.Minute

// positions is how far this instance's copies of tasks' stores reflect their changelogs: per
// task, the sum over its stores of (checkpoint + 1), updated after each commit of an active
// task and each refresh of a standby. Members report it when they join, and the leader compares
// it with the changelogs' end offsets to tell caught-up members (KIP-441).
type positions struct {
	mu struct {
		sync.Mutex
		byTask map[taskID]int64
	}
}

func (p *positions) set(id taskID, stores []*statestore.KeyValueStore) {
	var sum int64
	for _, kv := range stores {
		if cp, ok := kv.Checkpoint(); ok {
			sum += cp + 1
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.byTask == nil {
		p.mu.byTask = map[taskID]int64{}
	}
	p.mu.byTask[id] = sum
}

func (p *positions) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.mu.byTask))
	for id, n := range p.mu.byTask {
		out[id.String()] = n
	}
	return out
}

// changelogEnds returns, per stateful task, the sum of its stores' changelog end offsets, or nil
// if they cannot be read in time (the leader then takes no member for caught up but the owner).
func (a *App) changelogEnds(tasks []taskID) map[taskID]int64 {
	var topics []string
	for name := range a.topo.stores {
		topics = append(topics, statestore.ChangelogTopic(a.cfg.ApplicationID, name))
	}
	if len(topics) == 0 || a.producer == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(a.producer).ListEndOffsets(ctx, topics...)
	if err != nil {
		a.log.Warn("warm-up: list changelog end offsets", "err", err)
		return nil
	}
	out := map[taskID]int64{}
	for _, t := range tasks {
		for _, name := range a.topo.subs[t.subtopology].stores {
			if e, ok := ends.Lookup(statestore.ChangelogTopic(a.cfg.ApplicationID, name), t.partition); ok && e.Err == nil {
				out[t] += e.Offset
			}
		}
	}
	return out
}

// holdBackUntilWarm keeps each stateful task that plan moves away from its current owner to a
// member that is not caught up on it (lag above acceptable) with its owner, and gives that member
// a warm-up replica of it instead, up to maxWarmups in the group: the task moves at a later
// (probing) rebalance, once the member has restored it. caught[t][m] says member m is caught up
// on task t. It returns the adjusted plan and the warm-ups per member.
func holdBackUntilWarm(members []assignMember, plan map[string][]taskID, stateful map[taskID]bool,
	caught map[taskID]map[string]bool, maxWarmups int) (map[string][]taskID, map[string][]taskID) {
	owner := map[taskID]string{}
	for _, m := range sortedMembers(members) {
		for _, t := range m.owned {
			if _, ok := owner[t]; !ok {
				owner[t] = m.id
			}
		}
	}
	out := make(map[string][]taskID, len(plan))
	warmups := map[string][]taskID{}
	n := 0
	for _, m := range sortedMembers(members) {
		for _, t := range plan[m.id] {
			o, owned := owner[t]
			if !owned || o == m.id || !stateful[t] || caught[t][m.id] {
				out[m.id] = append(out[m.id], t)
				continue
			}
			out[o] = append(out[o], t)
			if n < maxWarmups {
				warmups[m.id] = append(warmups[m.id], t)
				n++
			}
		}
	}
	for m := range out {
		out[m] = sortedTasks(out[m])
	}
	return out, warmups
}

func sortedMembers(members []assignMember) []assignMember {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b assignMember) int { return cmp.Compare(a.id, b.id) })
	return ms
}

// scheduleProbe makes this member rejoin the group after d, so that the leader looks again at
// the warm-up replicas (Kafka's probing rebalance). One probe is pending at a time.
func (a *App) scheduleProbe(d time.Duration) {
	a.probe.mu.Lock()
	defer a.probe.mu.Unlock()
	if a.probe.mu.timer != nil || a.closing.Load() {
		return
	}
	a.probe.mu.timer = time.AfterFunc(d, func() {
		a.probe.mu.Lock()
		a.probe.mu.timer = nil
		a.probe.mu.Unlock()
		if !a.closing.Load() && a.consumer != nil {
			a.consumer.ForceRebalance()
		}
	})
}

// stopProbe cancels a pending probe.
func (a *App) stopProbe() {
	a.probe.mu.Lock()
	defer a.probe.mu.Unlock()
	if a.probe.mu.timer != nil {
		a.probe.mu.timer.Stop()
		a.probe.mu.timer = nil
	}
}

// probeState is the pending probing rebalance.
type probeState struct {
	mu struct {
		sync.Mutex
		timer *time.Timer
	}
}
