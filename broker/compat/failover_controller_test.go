//go:build unix

package compat_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testcluster"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// sessionFence matches the active controller's log line for brokers it fences on session expiry.
var sessionFence = regexp.MustCompile(`msg="controller: fencing brokers whose session expired" .*brokers="?\[([0-9 ]*)\]`)

// sessionFences returns the brokers each node logged fencing for session expiry since the offsets
// in from (Node.LogSize), by node.
func sessionFences(t *testing.T, c *testcluster.Cluster, from map[int32]int64) map[int32][]int32 {
	t.Helper()
	out := map[int32][]int32{}
	for _, n := range c.Nodes {
		text, err := n.LogSince(from[n.ID])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sessionFence.FindAllStringSubmatch(text, -1) {
			for _, f := range strings.Fields(m[1]) {
				var id int32
				if _, err := fmt.Sscan(f, &id); err == nil {
					out[n.ID] = append(out[n.ID], id)
				}
			}
		}
	}
	return out
}

// logSizes returns every node's log size now: the offsets sessionFences reads from.
func logSizes(c *testcluster.Cluster) map[int32]int64 {
	from := map[int32]int64{}
	for _, n := range c.Nodes {
		from[n.ID] = n.LogSize()
	}
	return from
}

// checkOnlyDeadFenced fails the test if a controller logged fencing, for session expiry since
// from, any broker but dead.
func checkOnlyDeadFenced(t *testing.T, c *testcluster.Cluster, from map[int32]int64, dead int32) {
	t.Helper()
	for node, ids := range sessionFences(t, c, from) {
		for _, id := range ids {
			if id != dead {
				t.Errorf("node %d's controller fenced live broker %d (session expired) after broker %d was lost", node, id, dead)
			}
		}
	}
}

// TestKillingTheActiveControllerAloneFencesNoLiveBroker: kill -9 of the node that is the active
// controller and leads nothing (the topic is led by another node). The quorum elects a new leader,
// the surviving brokers find the new active controller and heartbeat to it within
// broker.session.timeout.ms, so it fences the dead broker only: its session-expiry fence log names
// no live broker, DescribeCluster lists the dead one alone as fenced, the partition keeps its
// leader, and acks=all produce carries on (every acknowledged record is in the topic).
func TestKillingTheActiveControllerAloneFencesNoLiveBroker(t *testing.T) {
	loseTheActiveControllerAlone(t, "killed", func(n *testcluster.Node) { killNode(t, n) })
}

// TestPausingTheActiveControllerAloneFencesNoLiveBroker is the same with kill -STOP: requests to
// the paused controller hang instead of failing, so the brokers must give up on it within their
// request timeout and find the new one.
func TestPausingTheActiveControllerAloneFencesNoLiveBroker(t *testing.T) {
	loseTheActiveControllerAlone(t, "paused", func(n *testcluster.Node) {
		if err := n.Pause(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Resume() })
		t.Logf("paused node %d (kill -STOP)", n.ID)
	})
}

// loseTheActiveControllerAlone runs the test of TestKillingTheActiveControllerAloneFencesNoLiveBroker,
// taking the active controller's node away with lose.
func loseTheActiveControllerAlone(t *testing.T, how string, lose func(*testcluster.Node)) {
	c := startFailoverCluster(t)
	const topic = "controller-alone"
	active := c.ActiveControllerNode(t)
	c.CreateTopicAssigned(t, topic, c.AssignmentAwayFromController(t), map[string]string{"min.insync.replicas": "2"})
	leader := leaderNode(t, c, topic, 0)
	if leader == active {
		t.Fatalf("partition led by the active controller's node %d", active.ID)
	}
	// NB: seeded with the partition leader only, so no request waits on a paused node.
	cl := c.Client(t, kgo.SeedBrokers(leader.Addr()), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	var acked []string
	send := func(values []string) {
		produceFailover(t, cl, topic, values, 30*time.Second)
		acked = append(acked, values...)
	}
	send(numbered("before", 0, 20))

	from := logSizes(c)
	lose(active)
	lost := time.Now()
	for i := range 20 {
		send([]string{fmt.Sprintf("after-%d", i)})
	}
	t.Logf("20 records acknowledged one at a time in %v after node %d was %s", time.Since(lost).Round(time.Millisecond), active.ID, how)

	// The new controller fences the lost broker once its session expires; until then, and for a
	// session timeout more, no live broker may be fenced.
	var fencedAt time.Time
	testutil.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fenced, err := testcluster.FencedBrokers(ctx, cl.SeedBrokers()[0])
		if err != nil {
			return err
		}
		for _, id := range fenced {
			if id != active.ID {
				t.Fatalf("live broker %d fenced after the active controller %d was %s (fenced: %v)", id, active.ID, how, fenced)
			}
		}
		if !slices.Contains(fenced, active.ID) {
			return fmt.Errorf("broker %d not fenced yet", active.ID)
		}
		if fencedAt.IsZero() {
			fencedAt = time.Now()
		}
		if time.Since(fencedAt) < testcluster.FailoverSessionTimeout {
			return fmt.Errorf("watching for fences of live brokers")
		}
		return nil
	})
	t.Logf("broker %d fenced %v after it was %s", active.ID, fencedAt.Sub(lost).Round(time.Millisecond), how)
	checkOnlyDeadFenced(t, c, from, active.ID)
	if now := leaderNode(t, c, topic, 0); now != leader {
		t.Errorf("partition leader moved from node %d to %d: its broker lost its leadership", leader.ID, now.ID)
	}
	send(numbered("end", 0, 5))
	if how == "paused" {
		// NB: readTopic's clients know every node; the paused one resumes first (it is fenced, and
		// unfenced again once it heartbeats caught up).
		if err := active.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	got := readTopic(t, c, topic)
	missing := 0
	for _, v := range acked {
		if !slices.Contains(got, v) {
			missing++
		}
	}
	t.Logf("%d acknowledged, %d in the topic, lost %d", len(acked), len(got), missing)
	if missing > 0 {
		t.Fatalf("%d acknowledged records lost", missing)
	}
}
