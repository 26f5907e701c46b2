//go:build unix

package chaos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// clusterReady says whether Gregor replicates partitions, so that `make chaos` may run on three
// nodes (GREGOR_CHAOS_NODES=3).
const clusterReady = true

// chaosCluster starts the nodes a chaos run faults: one plain node, or a KRaft quorum of
// combined broker+controller nodes with replication's settings.
func chaosCluster(t *testing.T, nodes int, w *Workload) *testcluster.Cluster {
	if nodes == 1 {
		return testcluster.Start(t)
	}
	if !clusterReady {
		t.Fatalf("GREGOR_CHAOS_NODES=%d needs replication, which is not wired into the broker yet (see clusterReady)", nodes)
	}
	w.ReplicationFactor = int16(min(nodes, 3))
	w.TopicConfigs = map[string]string{"min.insync.replicas": "2"}
	c := testcluster.Start(t, testcluster.Nodes(nodes), testcluster.KRaft(),
		testcluster.Set("default.replication.factor", "3"),
		testcluster.Set("min.insync.replicas", "2"),
		testcluster.Set("offsets.topic.replication.factor", "3"),
		testcluster.Set("unclean.leader.election.enable", "false"),
		// The workload's topic is created through the controller (below), with its settings.
		testcluster.Set("auto.create.topics.enable", "false"),
		// Failures detected in 1.5 s (Kafka: 2 s heartbeats, 9 s sessions), so a run spends its
		// time on faults rather than on waiting for them to be noticed.
		testcluster.Set("broker.heartbeat.interval.ms", "250"),
		testcluster.Set("broker.session.timeout.ms", "1500"),
		testcluster.Set("replica.fetch.backoff.ms", "100"),
	)
	w.CreateTopic = func(ctx context.Context, w Workload) error {
		return c.CreateTopic(ctx, testcluster.Topic{Name: w.Topic, Partitions: w.Partitions,
			ReplicationFactor: w.ReplicationFactor, Configs: w.TopicConfigs})
	}
	return c
}

// runChaos runs w against a fresh cluster while s is applied, checks the history and fails the
// test on any anomaly, printing the fault count and every anomaly count.
func runChaos(t *testing.T, nodes int, w Workload, s Schedule) (FaultCounts, Result) {
	c := chaosCluster(t, nodes, &w)
	w.Bootstrap = c.Bootstrap()
	t.Logf("chaos: %d node(s); %s; %d faults of %v, %v down, %v apart",
		nodes, w.Describe(), s.Faults, s.Kinds, s.Down, s.Interval)
	ctx := context.Background()
	run, err := Start(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if st := run.Stats(); st.Acked == 0 || st.Polled == 0 {
			return fmt.Errorf("workload not running yet: %s", st)
		}
		return nil
	})
	counts, injectErr := Inject(ctx, c, run, s, t.Logf)
	h, stopErr := run.Stop()
	res := Check(h)
	t.Logf("chaos: %s; %s\n%s", counts, run.Stats(), res)
	if injectErr != nil {
		t.Error(injectErr)
	}
	if stopErr != nil {
		t.Error(stopErr)
	}
	if counts.Total() != s.Faults {
		t.Errorf("applied %d faults, scheduled %d", counts.Total(), s.Faults)
	}
	if res.Total() != 0 {
		t.Errorf("%d anomalies (see above)", res.Total())
	}
	return counts, res
}

// TestShortChaosOnOneNodeFindsNoAnomalies is the CI version of `make chaos`: each fault kind once
// on a single node while idempotent acks=all producers write and a reader polls; then no anomaly.
func TestShortChaosOnOneNodeFindsNoAnomalies(t *testing.T) {
	runChaos(t, 1, Workload{Partitions: 3, Rate: 500, ReaderRestart: 3 * time.Second}, Schedule{
		Faults:   6,
		Kinds:    []Fault{Kill, Term, Pause, Cut, Blackhole, Isolate},
		Down:     500 * time.Millisecond,
		Interval: time.Second,
		Recover:  30 * time.Second,
		Seed:     1,
	})
}

// TestShortChaosOnThreeNodesFindsNoAnomalies is the CI version of `GREGOR_CHAOS_NODES=3 make
// chaos`: a 3-node KRaft cluster, RF=3, min.insync.replicas=2, each fault kind once on a node
// chosen by the seed while idempotent acks=all producers write and a reader polls; then no anomaly.
func TestShortChaosOnThreeNodesFindsNoAnomalies(t *testing.T) {
	runChaos(t, 3, Workload{Partitions: 6, Rate: 500, ReaderRestart: 3 * time.Second}, Schedule{
		Faults:   6,
		Kinds:    []Fault{Kill, Term, Pause, Cut, Blackhole, Isolate},
		Down:     time.Second,
		Interval: 2 * time.Second,
		Recover:  30 * time.Second,
		Seed:     1,
	})
}

// TestChaos is `make chaos`: a long run configured from the environment (docs/chaos.md). It
// skips unless GREGOR_CHAOS_FAULTS is set.
func TestChaos(t *testing.T) {
	faults := envInt(t, "GREGOR_CHAOS_FAULTS", 0)
	if faults == 0 {
		t.Skip("set GREGOR_CHAOS_FAULTS (make chaos) to run the long fault test")
	}
	kinds := AllFaults
	if s := os.Getenv("GREGOR_CHAOS_KINDS"); s != "" {
		var err error
		if kinds, err = ParseFaults(s); err != nil {
			t.Fatal(err)
		}
	}
	w := Workload{
		Partitions: int32(envInt(t, "GREGOR_CHAOS_PARTITIONS", 6)),
		Producers:  envInt(t, "GREGOR_CHAOS_PRODUCERS", 2),
		Rate:       envInt(t, "GREGOR_CHAOS_RATE", 1000),
		// The reader restarts its client (resuming where it was) every 10 s.
		ReaderRestart: envDuration(t, "GREGOR_CHAOS_READER_RESTART", 10*time.Second),
	}
	runChaos(t, envInt(t, "GREGOR_CHAOS_NODES", 3), w, Schedule{
		Faults:   faults,
		Kinds:    kinds,
		Down:     envDuration(t, "GREGOR_CHAOS_DOWN", 2*time.Second),
		Interval: envDuration(t, "GREGOR_CHAOS_INTERVAL", 3*time.Second),
		Recover:  envDuration(t, "GREGOR_CHAOS_RECOVER", time.Minute),
		Seed:     uint64(envInt(t, "GREGOR_CHAOS_SEED", int(time.Now().UnixNano()%1e9))),
	})
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return d
}
