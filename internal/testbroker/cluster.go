package testbroker

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// Cluster is n combined (process.roles=broker,controller) KRaft nodes running in-process, each on
// its own formatted log dir, with node IDs 1..n, controller listeners on reserved 127.0.0.1 ports and
// fast heartbeats (broker.heartbeat.interval.ms 100, broker.session.timeout.ms 1500).
type Cluster struct {
	t         testing.TB
	nodes     []*Broker
	voters    string // controller.quorum.voters
	clusterID string
}

// StartCluster starts a cluster of n nodes, with opts applied to every node (Set overrides the
// defaults above), and stops it when the test ends. It returns once every node has started; use
// WaitUnfenced before relying on all of them.
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	ports := FreePorts(t, n)
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	c := &Cluster{t: t, voters: strings.Join(voters, ","), clusterID: config.RandomClusterID()}
	for i := range n {
		tb := c.newNode("broker,controller", fmt.Sprintf("127.0.0.1:%d", ports[i]), opts)
		c.nodes = append(c.nodes, tb)
	}
	// NB: registered after the temp dirs, so it runs before they are removed. Stopped together, so
	// each one's controlled shutdown still finds a quorum; one after another, the last would wait
	// broker.session.timeout.ms for a controller that lost its majority.
	t.Cleanup(c.stopAll)
	for _, tb := range c.nodes {
		tb.start("127.0.0.1:0")
	}
	return c
}

// newNode prepares (formats, does not start) node len(c.nodes)+1 with roles.
func (c *Cluster) newNode(roles, controllerListener string, opts []Option) *Broker {
	id := len(c.nodes) + 1
	tb := &Broker{t: c.t, controllerListener: controllerListener}
	tb.sets = []string{
		"process.roles=" + roles, fmt.Sprintf("node.id=%d", id),
		"controller.quorum.voters=" + c.voters, "controller.listener.names=CONTROLLER",
		fmt.Sprintf("broker.rack=r%d", id), "broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1500",
	}
	for _, o := range opts {
		o(tb)
	}
	if tb.dir == "" {
		tb.dir = c.t.TempDir()
	}
	if err := config.WriteMetaProperties(tb.dir, config.MetaProperties{ClusterID: c.clusterID, NodeID: int32(id)}); err != nil {
		c.t.Fatalf("testbroker: format node %d: %v", id, err)
	}
	return tb
}

// AddBroker starts one more node, broker-only (process.roles=broker: it follows the metadata log
// over the network and forwards admin requests to the controllers), with the next node ID.
func (c *Cluster) AddBroker(opts ...Option) *Broker {
	c.t.Helper()
	tb := c.newNode("broker", "", opts)
	// NB: after its temp dir, so it stops before the dir is removed (and before the controllers).
	c.t.Cleanup(tb.Stop)
	c.nodes = append(c.nodes, tb)
	tb.start("127.0.0.1:0")
	return tb
}

// FreePorts reserves n distinct ports on 127.0.0.1 for controller listeners, which
// controller.quorum.voters must name before any node starts. NB: they are free when it returns, not
// held: a port can be taken by someone else before the node binds it (rare on 127.0.0.1).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Node is node i (0-based: node.id i+1).
func (c *Cluster) Node(i int) *Broker { return c.nodes[i] }

// Len is the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Brokers returns the running brokers, in node order (nil for a stopped node).
func (c *Cluster) Brokers() []*broker.Broker {
	out := make([]*broker.Broker, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.b
	}
	return out
}

// Bootstrap returns every node's client address, for a client's seed brokers.
func (c *Cluster) Bootstrap() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// WaitUnfenced waits (up to timeout) until every running node is registered, unfenced, and sees
// every running node as usable in its metadata image.
func (c *Cluster) WaitUnfenced(timeout time.Duration) {
	c.t.Helper()
	testutil.CheckFor(c.t, timeout, 20*time.Millisecond, c.unfenced)
}

func (c *Cluster) unfenced() error {
	running := 0
	for _, n := range c.nodes {
		if n.b != nil {
			running++
		}
	}
	for i, n := range c.nodes {
		if n.b == nil {
			continue
		}
		st, ok := n.b.LifecycleState()
		if !ok || st.BrokerEpoch < 0 || st.Fenced {
			return fmt.Errorf("node %d: %+v", i+1, st)
		}
		if got := n.b.MetadataImage().UsableBrokers(); len(got) < running {
			return fmt.Errorf("node %d sees usable brokers %v", i+1, got)
		}
	}
	return nil
}

// stopAll stops every running node at once.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Stop() }()
	}
	wg.Wait()
}
