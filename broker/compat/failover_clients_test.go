//go:build unix

package compat_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// The producer failover tests: each client produces with acks=all to an RF=3 topic
// (min.insync.replicas=2, one partition) on three KRaft nodes, the partition's leader is killed
// with SIGKILL, and the client carries on with the next records (it refreshes its metadata and
// finds the new leader). Afterwards every record the client was told is acknowledged is in the
// topic; duplicates (a retried batch that had landed) are counted and reported, not failed: only
// an idempotent producer (franz-go's default) promises none.

// failoverRecords is how many records each client produces before and after the kill.
const failoverRecords = 50

// producerFailover is one client's run on its own cluster.
type producerFailover struct {
	c      *testcluster.Cluster
	topic  string
	leader *testcluster.Node
	killed time.Time
}

func startProducerFailover(t *testing.T, client string) *producerFailover {
	t.Helper()
	c := startFailoverCluster(t)
	f := &producerFailover{c: c, topic: "failover-" + client}
	// NB: led by a node that is not the active controller, so that each test kills one role: the
	// double failover is TestKillingTheLeaderAndTheActiveControllerTogether.
	c.CreateTopicAssigned(t, f.topic, c.AssignmentAwayFromController(t), map[string]string{"min.insync.replicas": "2"})
	f.leader = leaderNode(t, c, f.topic, 0)
	return f
}

// TestKillingTheLeaderAndTheActiveControllerTogether: the producer failover, with the partition led
// by the node that is also the active controller.
//
// It found a failover bug in broker/lifecycle: after a kill -9 of that node, the surviving brokers
// looked for the new active controller one voter at a time, followed stale hints to the dead node
// (a voter names the old leader until it notices its death) and backed off up to 2 s between
// attempts. The new controller gives every broker a fresh session at activation, but it heard from
// none of them within broker.session.timeout.ms, so it fenced all three brokers in one pass; the dead
// node was left the last ISR member, the live ones unfenced at their next heartbeat but could not be
// elected (unclean election off), and the partition stayed at leader -1. Brokers now ask every
// voter for the quorum leader at once, skip hints naming a voter they could not reach in that epoch,
// and retry at a short steady pace (TestKillingTheActiveControllerFencesNoLiveBroker in
// broker/lifecycle holds the mechanism; this holds a client's view of it).
func TestKillingTheLeaderAndTheActiveControllerTogether(t *testing.T) {
	c := startFailoverCluster(t)
	f := &producerFailover{c: c, topic: "failover-controller"}
	active := c.ActiveControllerNode(t)
	var replicas []int32
	replicas = append(replicas, active.ID)
	for _, n := range c.Nodes {
		if n != active {
			replicas = append(replicas, n.ID)
		}
	}
	c.CreateTopicAssigned(t, f.topic, [][]int32{replicas}, map[string]string{"min.insync.replicas": "2"})
	f.leader = leaderNode(t, c, f.topic, 0)
	if f.leader != active {
		t.Fatalf("leader node %d, want the active controller %d", f.leader.ID, active.ID)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.DefaultProduceTopic(f.topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	from := logSizes(c)
	f.produceAround(t, func(v string) error {
		produceFailover(t, cl, f.topic, []string{v}, 60*time.Second)
		return nil
	})
	// NB: the root cause, checked directly: the new controller fenced no live broker (the
	// partition may well survive one such fence, so the produce alone would pass by luck).
	checkOnlyDeadFenced(t, c, from, active.ID)
}

// killLeader kills the partition's leader.
func (f *producerFailover) killLeader(t *testing.T) {
	t.Helper()
	f.killed = time.Now()
	killNode(t, f.leader)
}

// produceAround sends failoverRecords records one at a time through send, kills the leader, sends
// as many again, and checks that every acknowledged record is in the topic.
func (f *producerFailover) produceAround(t *testing.T, send func(value string) error) {
	t.Helper()
	var acked []string
	var firstAfterKill time.Time
	failed := 0
	for phase, values := range [][]string{numbered("before", 0, failoverRecords), numbered("after", 0, failoverRecords)} {
		if phase == 1 {
			f.killLeader(t)
		}
		for _, v := range values {
			// NB: a client may give up on a record it sent to the killed leader (sarama does when
			// its retry finds no leader yet); the record is not acknowledged then, and the
			// application sends it again, as one would. Refusals are counted and bounded in time.
			deadline := time.Now().Add(30 * time.Second)
			for err := send(v); err != nil; err = send(v) {
				failed++
				t.Logf("produce %s: %v (sending it again)", v, err)
				if time.Now().After(deadline) {
					t.Fatalf("produce %s: still refused 30s after the first attempt: %v", v, err)
				}
			}
			acked = append(acked, v)
			if phase == 1 && firstAfterKill.IsZero() {
				firstAfterKill = time.Now()
			}
		}
	}
	if failed > 0 {
		t.Logf("%d sends refused around the kill and sent again", failed)
	}
	f.check(t, acked, firstAfterKill)
}

// check reads the topic back and fails the test if an acknowledged record is missing; it logs the
// counts (lost, duplicates) and, if firstAfterKill is set, how long after the kill the first
// record was acknowledged.
func (f *producerFailover) check(t *testing.T, acked []string, firstAfterKill time.Time) {
	t.Helper()
	got := readTopic(t, f.c, f.topic)
	count := map[string]int{}
	for _, v := range got {
		count[v]++
	}
	lost, dups := 0, 0
	for _, v := range acked {
		if count[v] == 0 {
			lost++
		}
	}
	for _, n := range count {
		dups += n - 1
	}
	failover := "n/a"
	if !firstAfterKill.IsZero() {
		failover = firstAfterKill.Sub(f.killed).Round(time.Millisecond).String()
	}
	t.Logf("leader node %d killed; first ack after the kill in %s; %d acked, %d in the topic: lost %d, duplicates %d",
		f.leader.ID, failover, len(acked), len(got), lost, dups)
	if lost > 0 {
		t.Fatalf("%d acknowledged records lost", lost)
	}
}

// readTopic reads partition 0 of topic from the start to its end offset.
func readTopic(t *testing.T, c *testcluster.Cluster, topic string) []string {
	t.Helper()
	adm := kadm.NewClient(failoverAdminClient(t, c))
	var end int64
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		o, ok := ends.Lookup(topic, 0)
		if !ok || o.Err != nil {
			return fmt.Errorf("end offset of %s-0: %+v", topic, o)
		}
		end = o.Offset
		return nil
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	next := int64(0)
	for next < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s up to offset %d of %d", topic, next, end)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, string(r.Value))
			next = r.Offset + 1
		})
	}
	return out
}

func TestFranzGoProducerCarriesOnWhenItsLeaderIsKilled(t *testing.T) {
	f := startProducerFailover(t, "franz-go")
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.c.Bootstrap()...), kgo.DefaultProduceTopic(f.topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.produceAround(t, func(v string) error {
		produceFailover(t, cl, f.topic, []string{v}, 60*time.Second)
		return nil
	})
}

func TestSaramaProducerCarriesOnWhenItsLeaderIsKilled(t *testing.T) {
	f := startProducerFailover(t, "sarama")
	cfg := saramaConfig(sarama.V3_6_0_0)
	cfg.Metadata.RefreshFrequency = time.Second
	cfg.Producer.Retry.Max = 100
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Timeout = 10 * time.Second
	cfg.Net.ReadTimeout = 15 * time.Second
	p, err := sarama.NewSyncProducer(f.c.Bootstrap(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f.produceAround(t, func(v string) error {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: f.topic, Key: sarama.StringEncoder(v), Value: sarama.StringEncoder(v)})
		return err
	})
}

// TestKcatProducerCarriesOnWhenItsLeaderIsKilled: a first kcat -P (librdkafka) writes the first
// half. A second one starts and learns the partition's leader from its metadata; the leader is
// killed; then the second half goes to its stdin, which is closed. kcat exits 0 without a delivery
// failure, so every record was acknowledged: it found the new leader through a metadata refresh.
//
// NB: kcat -P reads its stdin with fread, so it sends nothing until its buffer fills or stdin
// closes: the records after the kill are written at once, to a kcat that already has metadata.
func TestKcatProducerCarriesOnWhenItsLeaderIsKilled(t *testing.T) {
	bin := requireTool(t, "kcat")
	f := startProducerFailover(t, "kcat")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	kcatProducer := func(debug bool) (*exec.Cmd, io.WriteCloser, *testutil.SyncBuffer) {
		args := []string{"-P", "-b", strings.Join(f.c.Bootstrap(), ","), "-t", f.topic, "-p", "0",
			"-X", "acks=all", "-X", "topic.metadata.refresh.interval.ms=1000", "-X", "metadata.max.age.ms=3000",
			"-X", "retry.backoff.ms=100", "-X", "message.timeout.ms=60000", "-X", "linger.ms=5"}
		if debug {
			args = append(args, "-d", "metadata")
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr := &testutil.SyncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("kcat stderr (tail):\n%s", tail(stderr.String(), 4000))
			}
		})
		return cmd, stdin, stderr
	}
	finish := func(cmd *exec.Cmd, stdin io.WriteCloser, stderr *testutil.SyncBuffer, values []string) {
		t.Helper()
		if _, err := io.WriteString(stdin, strings.Join(values, "\n")+"\n"); err != nil {
			t.Fatal(err)
		}
		stdin.Close()
		err := cmd.Wait()
		if err != nil || ctx.Err() != nil || strings.Contains(stderr.String(), "Delivery failed") {
			t.Fatalf("kcat -P: %v (context: %v)", err, ctx.Err())
		}
	}
	before, after := numbered("before", 0, failoverRecords), numbered("after", 0, failoverRecords)
	cmd, stdin, stderr := kcatProducer(false)
	finish(cmd, stdin, stderr, before)

	cmd, stdin, stderr = kcatProducer(true)
	leaderLine := fmt.Sprintf("Topic %s partition 0 Leader %d", f.topic, f.leader.ID)
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(stderr.String(), leaderLine) {
			return fmt.Errorf("kcat has no metadata naming the leader yet (%q)", leaderLine)
		}
		return nil
	})
	f.killLeader(t)
	finish(cmd, stdin, stderr, after)
	t.Logf("kcat delivered the second half %v after the kill", time.Since(f.killed).Round(time.Millisecond))
	f.check(t, append(before, after...), time.Time{})
}

// TestKafkajsProducerCarriesOnWhenItsLeaderIsKilled runs testdata/kafkajs_failover.js: kafkajs
// sends the first half (acks=-1, one send per record), prints each acknowledged value, prints
// READY and waits for a line on stdin; the leader is killed, the test writes the line, kafkajs
// sends the second half and prints DONE.
func TestKafkajsProducerCarriesOnWhenItsLeaderIsKilled(t *testing.T) {
	node := requireTool(t, "node")
	modules := failoverKafkajsModules(t)
	f := startProducerFailover(t, "kafkajs")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/kafkajs_failover.js")
	cmd.Env = append(cmd.Environ(), "NODE_PATH="+modules, "GREGOR_BROKERS="+strings.Join(f.c.Bootstrap(), ","),
		"GREGOR_TOPIC="+f.topic, fmt.Sprintf("GREGOR_RECORDS=%d", failoverRecords), "KAFKAJS_NO_PARTITIONER_WARNING=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	var firstAfterKill time.Time
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "READY":
			f.killLeader(t)
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(line, "ACKED "):
			v := strings.TrimPrefix(line, "ACKED ")
			acked = append(acked, v)
			if strings.HasPrefix(v, "after") && firstAfterKill.IsZero() {
				firstAfterKill = time.Now()
			}
		}
	}
	if err := cmd.Wait(); err != nil || ctx.Err() != nil {
		t.Fatalf("node kafkajs_failover.js: %v (context: %v); %d acked\nstderr:\n%.4000s", err, ctx.Err(), len(acked), stderr.String())
	}
	if len(acked) != 2*failoverRecords {
		t.Fatalf("kafkajs acknowledged %d of %d records\nstderr:\n%.4000s", len(acked), 2*failoverRecords, stderr.String())
	}
	f.check(t, acked, firstAfterKill)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
