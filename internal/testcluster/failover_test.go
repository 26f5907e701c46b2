//go:build unix

package testcluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// failoverSettings make a failure detected in about a second and a half: heartbeats every 250 ms,
// a broker fenced after 1.5 s without one (Kafka's defaults are 2 s and 9 s).
var failoverSettings = []Option{
	Set("broker.heartbeat.interval.ms", "250"),
	Set("broker.session.timeout.ms", "1500"),
	Set("replica.lag.time.max.ms", "3000"),
	Set("replica.fetch.backoff.ms", "100"),
	Set("min.insync.replicas", "2"),
	Set("unclean.leader.election.enable", "false"),
	Set("auto.leader.rebalance.enable", "false"),
	// NB: a KRaft broker auto-creates a topic in its local registry, not through the controller;
	// a Metadata racing the image's topic would shadow it there.
	Set("auto.create.topics.enable", "false"),
}

// replicatedClient returns a franz-go client of the cluster that never asks for auto-creation.
func replicatedClient(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// startReplicated starts a 3-node KRaft cluster with failoverSettings (plus opts) and creates
// topic with partitions, RF 3 and min.insync.replicas=2 through the active controller.
func startReplicated(t *testing.T, topic string, partitions int32, opts ...Option) *Cluster {
	t.Helper()
	c := Start(t, append(append([]Option{Nodes(3), KRaft()}, failoverSettings...), opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.CreateTopic(ctx, Topic{Name: topic, Partitions: partitions, ReplicationFactor: 3,
		Configs: map[string]string{"min.insync.replicas": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// partitionLeader asks the cluster (through any node that answers) who leads topic's partition and
// returns its node, once every replica is in the ISR if fullISR is set.
func partitionLeader(t *testing.T, c *Cluster, topic string, partition int32, fullISR bool) *Node {
	t.Helper()
	cl := replicatedClient(t, c, kgo.MetadataMinAge(100*time.Millisecond))
	adm := kadm.NewClient(cl)
	var leader int32
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		p, ok := md.Topics[topic].Partitions[partition]
		if !ok {
			return fmt.Errorf("no %s-%d in the metadata", topic, partition)
		}
		if p.Err != nil || p.Leader < 0 {
			return fmt.Errorf("%s-%d: leader %d, %v", topic, partition, p.Leader, p.Err)
		}
		if fullISR && len(p.ISR) != len(p.Replicas) {
			return fmt.Errorf("%s-%d: ISR %v of replicas %v", topic, partition, p.ISR, p.Replicas)
		}
		leader = p.Leader
		return nil
	})
	return c.Nodes[leader-1]
}

// newLeader waits until topic-0 is led by a node other than old (after old was killed).
func newLeader(t *testing.T, c *Cluster, topic string, old *Node) *Node {
	t.Helper()
	var leader *Node
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		if leader = partitionLeader(t, c, topic, 0, false); leader == old {
			return fmt.Errorf("node %d still leads after it was killed", old.ID)
		}
		return nil
	})
	return leader
}

// ackLog is what an acks=all producer was told: the offset of every acknowledged value.
type ackLog struct {
	mu     sync.Mutex
	offset map[string]int64
	failed map[string]error
	acked  atomic.Int64
}

func newAckLog() *ackLog { return &ackLog{offset: map[string]int64{}, failed: map[string]error{}} }

// end is one past the highest acknowledged offset.
func (a *ackLog) end() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	end := int64(0)
	for _, o := range a.offset {
		end = max(end, o+1)
	}
	return end
}

func (a *ackLog) record(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed[string(r.Value)] = err
		return
	}
	a.offset[string(r.Value)] = r.Offset
	a.acked.Add(1)
}

// producer writes "v<n>" values to topic's partition 0 with an idempotent acks=all client, one a
// millisecond and at most 200 unacknowledged, until stop is closed; it returns once every record is acknowledged or
// failed (bounded by a minute after stop).
type producer struct {
	cl   *kgo.Client
	acks *ackLog
	sent atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startProducer(t *testing.T, c *Cluster, topic string) *producer {
	t.Helper()
	cl := replicatedClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.MaxBufferedRecords(200), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	p := &producer{cl: cl, acks: newAckLog(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ctx := context.Background()
		// NB: about 2000 records/s, so the test leaves CPU to the nodes on a small CI machine.
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				fctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				cl.Flush(fctx)
				return
			case <-tick.C:
			}
			p.sent.Add(1)
			// NB: Produce blocks while 200 records are buffered.
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("v" + strconv.Itoa(i))}, p.acks.record)
		}
	}()
	return p
}

// waitAcked waits until n more records than now are acknowledged.
func (p *producer) waitAcked(t *testing.T, n int64, timeout time.Duration, what string) {
	t.Helper()
	want := p.acks.acked.Load() + n
	testutil.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		if got := p.acks.acked.Load(); got < want {
			return fmt.Errorf("%s: %d acknowledged, waiting for %d", what, got, want)
		}
		return nil
	})
}

func (p *producer) close(t *testing.T) {
	t.Helper()
	close(p.stop)
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		t.Fatal("producer did not stop in 90s")
	}
}

// readPartition reads topic's partition 0 from the start to its high watermark, once that is at
// least atLeast, and returns the value at each offset.
//
// NB: a node restarted a moment ago may still answer from an old metadata image (it replays the
// metadata log) and name a stale leader; the wait for atLeast (past every acknowledged offset)
// rides that out.
func readPartition(t *testing.T, c *Cluster, topic string, atLeast int64) map[int64]string {
	t.Helper()
	cl := replicatedClient(t, c, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.MetadataMinAge(250*time.Millisecond))
	adm := kadm.NewClient(cl)
	var end int64
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		o, ok := ends.Lookup(topic, 0)
		if !ok || o.Err != nil {
			return fmt.Errorf("end offset of %s-0: %v", topic, o.Err)
		}
		end = o.Offset
		if end < atLeast {
			return fmt.Errorf("end offset of %s-0 is %d, want at least %d", topic, end, atLeast)
		}
		return nil
	})
	got := map[int64]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	next := int64(0)
	for next < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s-0 up to %d of %d", topic, next, end)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if prev, ok := got[r.Offset]; ok && prev != string(r.Value) {
				t.Errorf("offset %d read as %q and %q", r.Offset, prev, r.Value)
			}
			got[r.Offset] = string(r.Value)
			next = r.Offset + 1
		})
	}
	return got
}

// checkAcked fails the test unless every acknowledged value is in log exactly once, at its
// acknowledged offset, and no value is in log twice.
func checkAcked(t *testing.T, acks *ackLog, log map[int64]string) {
	t.Helper()
	acks.mu.Lock()
	defer acks.mu.Unlock()
	at := map[string][]int64{}
	for o, v := range log {
		at[v] = append(at[v], o)
	}
	var lost, moved, dup []string
	for v, o := range acks.offset {
		switch offs := at[v]; {
		case len(offs) == 0:
			lost = append(lost, fmt.Sprintf("%s@%d", v, o))
		case len(offs) == 1 && offs[0] != o:
			moved = append(moved, fmt.Sprintf("%s acked @%d read @%d", v, o, offs[0]))
		}
	}
	for v, offs := range at {
		if len(offs) > 1 {
			dup = append(dup, fmt.Sprintf("%s@%v", v, offs))
		}
	}
	show := func(s []string) string {
		if len(s) > 5 {
			s = s[:5]
		}
		return strings.Join(s, ", ")
	}
	t.Logf("%d acknowledged, %d failed, %d records in the log", len(acks.offset), len(acks.failed), len(log))
	if len(lost)+len(moved)+len(dup) > 0 {
		t.Errorf("lost %d (%s); at another offset %d (%s); duplicated %d (%s)",
			len(lost), show(lost), len(moved), show(moved), len(dup), show(dup))
	}
}

// TestKilledLeaderLosesNoAcknowledgedRecord: an idempotent acks=all producer writes continuously to
// an RF=3, min.insync.replicas=2 partition while its leader is killed with SIGKILL and later
// restarted. The producer resumes on the new leader, and every acknowledged record is in the log
// exactly once, at the offset it was acknowledged with.
func TestKilledLeaderLosesNoAcknowledgedRecord(t *testing.T) {
	const topic = "failover"
	c := startReplicated(t, topic, 1)
	leader := partitionLeader(t, c, topic, 0, true)
	p := startProducer(t, c, topic)
	p.waitAcked(t, 300, 30*time.Second, "before the kill")

	killed := time.Now()
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitAcked(t, 300, 30*time.Second, fmt.Sprintf("after killing leader %d", leader.ID))
	t.Logf("writes resumed %v after killing leader %d", time.Since(killed).Round(time.Millisecond), leader.ID)
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	// The restarted node catches up and rejoins the ISR while the writes go on.
	partitionLeader(t, c, topic, 0, true)
	p.waitAcked(t, 300, 30*time.Second, "after the restart")

	// A second kill, of whichever node leads now.
	second := partitionLeader(t, c, topic, 0, true)
	if err := second.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitAcked(t, 300, 30*time.Second, fmt.Sprintf("after killing leader %d", second.ID))
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	partitionLeader(t, c, topic, 0, true)
	p.close(t)
	checkAcked(t, p.acks, readPartition(t, c, topic, p.acks.end()))
	if len(p.acks.offset) == 0 {
		t.Fatal("nothing acknowledged")
	}
	for v, err := range p.acks.failed {
		if !errors.Is(err, context.Canceled) {
			t.Logf("failed write %s: %v", v, err)
		}
	}
}

// produceOnce produces value to topic's partition 0 with a fresh acks=all client that does not
// retry, and returns the result (bounded by 15 s: closing the client fails a record kgo still
// holds).
func produceOnce(t *testing.T, c *Cluster, topic, value string) (int64, error) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProduceRequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		offset int64
		err    error
	}
	done := make(chan result, 1)
	go func() {
		r, err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: 0, Value: []byte(value)}).First()
		done <- result{r.Offset, err}
	}()
	select {
	case r := <-done:
		cl.Close()
		return r.offset, r.err
	case <-time.After(15 * time.Second):
		cl.Close()
		<-done
		return 0, fmt.Errorf("produce %q: no answer in 15s", value)
	}
}

// TestTwoReplicasDownRefusesAcksAllWithNotEnoughReplicas: with two of a partition's three
// replicas down (the controller quorum still up: three voters, a fourth broker-only node), the
// controller takes them out of the ISR and an acks=all produce fails with NOT_ENOUGH_REPLICAS — it
// is not acknowledged, and not written — until one replica returns and catches up; then writes go
// on, and every acknowledged record is there.
func TestTwoReplicasDownRefusesAcksAllWithNotEnoughReplicas(t *testing.T) {
	const topic = "minisr"
	c := Start(t, append([]Option{Nodes(4), KRaft(), ControllerNodes(3)}, failoverSettings...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Replicas 1 (a voter, the preferred leader), 2 (a voter) and 4 (broker-only): with 2 and 4
	// down, voters 1 and 3 keep the quorum.
	if err := c.CreateTopic(ctx, Topic{Name: topic, Assignment: [][]int32{{1, 2, 4}},
		Configs: map[string]string{"min.insync.replicas": "2"}}); err != nil {
		t.Fatal(err)
	}
	partitionLeader(t, c, topic, 0, true)
	p := startProducer(t, c, topic)
	p.waitAcked(t, 200, 30*time.Second, "with every replica up")
	p.close(t)

	for _, n := range []*Node{c.Nodes[3], c.Nodes[1]} {
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// Once the controller fenced both and shrank the ISR to {1}, acks=all is refused up front.
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		_, err := produceOnce(t, c, topic, "refused")
		if !errors.Is(err, kerr.NotEnoughReplicas) {
			md, _ := kadm.NewClient(replicatedClient(t, c)).Metadata(context.Background(), topic)
			return fmt.Errorf("produce with 2 of 3 replicas down: %v, want NOT_ENOUGH_REPLICAS; metadata %+v", err, md.Topics[topic].Partitions[0])
		}
		return nil
	})
	if err := c.Nodes[3].Start(); err != nil {
		t.Fatal(err)
	}
	var resumed int64
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		o, err := produceOnce(t, c, topic, "resumed")
		resumed = o
		return err
	})
	log := readPartition(t, c, topic, max(p.acks.end(), resumed+1))
	checkAcked(t, p.acks, log)
	if log[resumed] != "resumed" {
		t.Errorf("offset %d holds %q, acknowledged %q", resumed, log[resumed], "resumed")
	}
}

// TestLosingTheActiveControllerElectsAnotherAndTheClusterKeepsServing: killing the active
// controller's node elects another controller among the remaining voters; the new one creates
// topics and the cluster keeps acknowledging acks=all writes, also to partitions created before.
func TestLosingTheActiveControllerElectsAnotherAndTheClusterKeepsServing(t *testing.T) {
	const topic = "before"
	c := startReplicated(t, topic, 1)
	partitionLeader(t, c, topic, 0, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	active, err := c.ActiveController(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := startProducer(t, c, topic)
	p.waitAcked(t, 200, 30*time.Second, "before the controller is killed")
	if err := c.Nodes[active-1].Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		id, err := c.ActiveController(ctx)
		if err != nil {
			return err
		}
		if id == active {
			return fmt.Errorf("controller %d was killed and is still reported active", id)
		}
		return nil
	})
	p.waitAcked(t, 300, 30*time.Second, fmt.Sprintf("after killing controller %d", active))
	if err := c.CreateTopic(ctx, Topic{Name: "after", Partitions: 1, ReplicationFactor: 2,
		Configs: map[string]string{"min.insync.replicas": "2"}}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		_, err := produceOnce(t, c, "after", "new-topic")
		return err
	})
	p.close(t)
	checkAcked(t, p.acks, readPartition(t, c, topic, p.acks.end()))
}
