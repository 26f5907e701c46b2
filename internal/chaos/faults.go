//go:build unix

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// Fault is one kind of fault the loop applies to one node, then undoes.
type Fault string

// The faults.
const (
	// Kill: SIGKILL, then start again on the same directory and ports.
	Kill Fault = "kill"
	// Term: SIGTERM (a clean shutdown), then start again.
	Term Fault = "term"
	// Pause: SIGSTOP, then SIGCONT.
	Pause Fault = "pause"
	// Cut: sever the node's connections and refuse new ones, then heal.
	Cut Fault = "cut"
	// Blackhole: hold the traffic to and from the node's listeners both ways without closing,
	// then heal.
	Blackhole Fault = "blackhole"
	// Isolate: Blackhole, plus the connections the node opened to its peers (a full partition
	// of the node; the same as Blackhole on a single node), then rejoin.
	Isolate Fault = "isolate"
)

// AllFaults lists every fault kind.
var AllFaults = []Fault{Kill, Term, Pause, Cut, Blackhole, Isolate}

// ParseFaults parses a comma-separated list of fault kinds.
func ParseFaults(s string) ([]Fault, error) {
	var out []Fault
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		switch Fault(f) {
		case Kill, Term, Pause, Cut, Blackhole, Isolate:
			out = append(out, Fault(f))
		default:
			return nil, fmt.Errorf("chaos: unknown fault %q (want some of %v)", f, AllFaults)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("chaos: no fault kinds in %q", s)
	}
	return out, nil
}

// Schedule is what the fault loop does: Faults faults, kinds cycling through Kinds, each on a node
// chosen at random (from Seed) and lasting Down, with Interval of health between faults. One node
// is faulty at a time. After each fault the loop waits up to Recover for the workload to be
// acknowledged again after the fault is undone, which is a liveness check.
type Schedule struct {
	Faults   int
	Kinds    []Fault
	Down     time.Duration
	Interval time.Duration
	Recover  time.Duration
	Seed     uint64
}

// FaultCounts counts the faults applied, per kind.
type FaultCounts map[Fault]int

// Total is the number of faults applied.
func (c FaultCounts) Total() int {
	n := 0
	for _, k := range c {
		n += k
	}
	return n
}

func (c FaultCounts) String() string {
	var parts []string
	for _, f := range AllFaults {
		if c[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, c[f]))
		}
	}
	return fmt.Sprintf("%d faults (%s)", c.Total(), strings.Join(parts, ", "))
}

// Inject applies s to c while run works, printing a progress line per fault through logf, and
// returns the faults applied. It stops early, with an error, when ctx is done, a fault cannot be
// applied or undone, or the workload makes no progress within s.Recover after a fault.
func Inject(ctx context.Context, c *testcluster.Cluster, run *Run, s Schedule, logf func(format string, args ...any)) (FaultCounts, error) {
	if len(s.Kinds) == 0 {
		s.Kinds = AllFaults
	}
	if s.Recover == 0 {
		s.Recover = time.Minute
	}
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed))
	counts := FaultCounts{}
	for i := range s.Faults {
		if err := sleep(ctx, s.Interval); err != nil {
			return counts, err
		}
		kind := s.Kinds[i%len(s.Kinds)]
		n := c.Nodes[rng.IntN(len(c.Nodes))]
		start := time.Now()
		undo, err := apply(c, n, kind)
		if err != nil {
			return counts, fmt.Errorf("fault %d (%s node %d): %w", i+1, kind, n.ID, err)
		}
		counts[kind]++
		if err := sleep(ctx, s.Down); err != nil {
			undo()
			return counts, err
		}
		if err := undo(); err != nil {
			return counts, fmt.Errorf("fault %d (%s node %d): undo: %w", i+1, kind, n.ID, err)
		}
		healed := time.Since(start)
		before := run.Stats()
		err = testutil.Poll(s.Recover, 20*time.Millisecond, func() error {
			if run.Stats().Acked <= before.Acked {
				return fmt.Errorf("no write acknowledged since the fault was undone (%s)", before)
			}
			return nil
		})
		if err != nil {
			return counts, fmt.Errorf("fault %d (%s node %d): workload did not recover in %v: %w", i+1, kind, n.ID, s.Recover, err)
		}
		logf("fault %d/%d: %-9s node %d for %v, healed after %v, writes again after %v; %s",
			i+1, s.Faults, kind, n.ID, s.Down, healed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), run.Stats())
	}
	return counts, nil
}

// apply starts fault kind on n and returns what undoes it.
func apply(c *testcluster.Cluster, n *testcluster.Node, kind Fault) (undo func() error, err error) {
	switch kind {
	case Kill:
		return n.Start, n.Kill()
	case Term:
		return n.Start, n.Stop()
	case Pause:
		return n.Resume, n.Pause()
	case Cut:
		n.Cut()
		return func() error { n.Heal(); return nil }, nil
	case Blackhole:
		n.SetNetwork(testcluster.Blackhole)
		return func() error { n.Heal(); return nil }, nil
	case Isolate:
		c.Isolate(n, testcluster.Blackhole)
		return func() error { c.Rejoin(n); return nil }, nil
	}
	return nil, fmt.Errorf("chaos: unknown fault %q", kind)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
