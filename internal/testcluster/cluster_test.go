//go:build unix

package testcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// client returns a franz-go client bootstrapped from the cluster's proxies, closed when the test
// ends.
func client(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(ctx context.Context, cl *kgo.Client, topic, value string) error {
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
}

// produceWithin produces one record, failing the test after timeout.
//
// NB: kgo keeps retrying a record already sent whatever its context says, so the wait is bounded
// here.
func produceWithin(t *testing.T, cl *kgo.Client, timeout time.Duration, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- produce(ctx, cl, topic, value) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("produce %q: %v", value, err)
		}
	case <-time.After(timeout + time.Second):
		t.Fatalf("produce %q: no answer in %v", value, timeout)
	}
}

// pingWithin reports whether a fresh client gets an ApiVersions answer from the cluster in d.
func pingWithin(t *testing.T, c *Cluster, d time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return cl.Ping(ctx)
}

// readAll reads topic's partition 0 from the start until it has n records.
func readAll(t *testing.T, c *Cluster, topic string, n int) []string {
	t.Helper()
	cl := client(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", len(got), n, got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func TestKilledNodeRestartsOnTheSameDirAndPortAndClientsReconnect(t *testing.T) {
	c := Start(t)
	n := c.Nodes[0]
	cl := client(t, c)
	produceWithin(t, cl, 20*time.Second, "t", "before-kill")
	pid := n.PID()

	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if n.Running() || n.PID() != 0 {
		t.Fatal("node still running after Kill")
	}
	if err := n.Kill(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second Kill = %v, want ErrNotRunning", err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if n.PID() == pid || n.PID() == 0 {
		t.Fatalf("pid %d after restart, was %d", n.PID(), pid)
	}
	// The same client, which only knows the proxy, carries on.
	produceWithin(t, cl, 30*time.Second, "t", "after-restart")
	if got := readAll(t, c, "t", 2); !slices.Equal(got, []string{"before-kill", "after-restart"}) {
		t.Fatalf("read %q", got)
	}
	if err := n.Start(); err == nil {
		t.Fatal("Start of a running node succeeded")
	}
}

func TestStoppedNodeShutsDownCleanlyAndRestarts(t *testing.T) {
	c := Start(t)
	n := c.Nodes[0]
	cl := client(t, c)
	produceWithin(t, cl, 20*time.Second, "s", "one")
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, "s-0", ".clean-shutdown")); err != nil {
		t.Fatalf("no clean-shutdown marker after Stop: %v", err)
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(); err != nil { // SIGTERM then start again
		t.Fatal(err)
	}
	produceWithin(t, cl, 30*time.Second, "s", "two")
	if got := readAll(t, c, "s", 2); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("read %q", got)
	}
	if !strings.Contains(n.LogTail(1000), "=== testcluster: start 3 of node 1") {
		t.Fatalf("log does not record three starts:\n%s", n.LogTail(20))
	}
}

func TestPausedNodeAnswersNothingUntilResumed(t *testing.T) {
	c := Start(t)
	n := c.Nodes[0]
	cl := client(t, c)
	produceWithin(t, cl, 20*time.Second, "p", "one")
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if !n.Paused() {
		t.Fatal("Paused() false after Pause")
	}
	if err := pingWithin(t, c, 500*time.Millisecond); err == nil {
		t.Fatal("a paused node answered")
	}
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	produceWithin(t, cl, 30*time.Second, "p", "after-resume")
}

func TestCutNodeIsUnreachableUntilHealed(t *testing.T) {
	c := Start(t)
	n := c.Nodes[0]
	cl := client(t, c)
	produceWithin(t, cl, 20*time.Second, "c", "one")
	n.Cut()
	if conns := n.Proxy.Conns(); conns != 0 {
		t.Fatalf("proxy holds %d connections after Cut", conns)
	}
	if err := pingWithin(t, c, time.Second); err == nil {
		t.Fatal("a cut node answered")
	}
	if !n.Running() {
		t.Fatal("Cut stopped the process")
	}
	n.Heal()
	produceWithin(t, cl, 30*time.Second, "c", "after-heal")
}

func TestKRaftLayoutGivesEveryNodeAControllerProxyAndTheVoters(t *testing.T) {
	c := Start(t, Nodes(2), KRaft(), Configure(func(c *Cluster, n *Node) []string {
		return []string{fmt.Sprintf("broker.rack=r%d", n.ID)}
	}))
	voters := strings.Split(c.Voters(), ",")
	if len(voters) != 2 {
		t.Fatalf("voters %q, want two", c.Voters())
	}
	for i, n := range c.Nodes {
		if want := fmt.Sprintf("%d@%s", n.ID, n.ControllerProxy.Addr()); voters[i] != want {
			t.Fatalf("voter %d = %q, want %q", i, voters[i], want)
		}
		args := strings.Join(n.Args(), " ")
		for _, want := range []string{
			"process.roles=broker,controller", "controller.quorum.voters=" + c.Voters(),
			fmt.Sprintf("CONTROLLER://127.0.0.1:%d", n.ControllerPort), fmt.Sprintf("broker.rack=r%d", n.ID),
			fmt.Sprintf("node.id=%d", n.ID), "advertised.listeners=PLAINTEXT://" + n.Proxy.Addr(),
		} {
			if !strings.Contains(args, want) {
				t.Fatalf("node %d args lack %q: %s", n.ID, want, args)
			}
		}
		// The controller listener is bound and reachable through its proxy.
		conn, err := net.DialTimeout("tcp", n.ControllerProxy.Addr(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if n.ControllerProxy.Conns() == 0 {
				return errors.New("controller proxy did not reach the node")
			}
			return nil
		})
		conn.Close()
		n.Cut()
		if n.ControllerProxy.Mode() != Cut || n.Proxy.Mode() != Cut {
			t.Fatalf("Cut left proxies %v / %v", n.Proxy.Mode(), n.ControllerProxy.Mode())
		}
		n.Heal()
	}

	// Isolating node 1 blackholes its own proxies and, on node 2's, the connections node 1 opens.
	n1, n2 := c.Nodes[0], c.Nodes[1]
	c.Isolate(n1, Blackhole)
	for _, p := range []*Proxy{n1.Proxy, n1.ControllerProxy} {
		if p.Mode() != Blackhole {
			t.Fatalf("isolated node's proxy in mode %v", p.Mode())
		}
	}
	for _, p := range []*Proxy{n2.Proxy, n2.ControllerProxy} {
		if p.Mode() != Open || p.SourceMode(n1.Index) != Blackhole || p.SourceMode(NoSource) != Open {
			t.Fatalf("peer proxy: mode %v, node 1's connections %v, clients' %v", p.Mode(), p.SourceMode(n1.Index), p.SourceMode(NoSource))
		}
	}
	c.Rejoin(n1)
	for _, p := range []*Proxy{n1.Proxy, n1.ControllerProxy, n2.Proxy, n2.ControllerProxy} {
		if p.Mode() != Open || p.SourceMode(n1.Index) != Open {
			t.Fatalf("after Rejoin a proxy is in mode %v, node 1's connections %v", p.Mode(), p.SourceMode(n1.Index))
		}
	}
}
