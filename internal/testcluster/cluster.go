//go:build unix

// Package testcluster starts Gregor nodes as subprocesses on 127.0.0.1 for fault tests, and
// injects the faults: kill -9, pause (SIGSTOP/SIGCONT), SIGTERM and restart on the same directory
// and ports, and network cuts and partitions through a TCP proxy in front of each listener.
//
// Each node gets its own data directory, log file and ports, picked once so a restarted node comes
// back where its clients left it. Clients only know the proxies (advertised.listeners names the
// proxy), so a proxy in Cut or Blackhole mode takes the node off the network while it runs.
// Everything stops when the test ends; a failed test prints the tail of every node's log.
//
// It builds for Unix only: it pauses nodes with SIGSTOP and finds peers' sockets in /proc.
//
// Lock order: Node.mu, then Proxy.mu (Node.SetNetwork takes no Node lock; Proxy methods take
// only their own).
package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gregor-streams/gregor/broker/config"
)

// LogLevelEnv names an environment variable that, if set, gives every node's --log-level (debug,
// info, warn, error), to read a failing test's node logs in detail.
const LogLevelEnv = "GREGOR_TESTCLUSTER_LOG_LEVEL"

// KeepLogsEnv names an environment variable that, if set to a directory, receives a copy of
// every node's whole log file when a test fails.
const KeepLogsEnv = "GREGOR_TESTCLUSTER_KEEP_LOGS"

// Option configures a cluster.
type Option func(*settings)

type settings struct {
	nodes       int
	sets        []string
	controllers bool
	kraft       bool
	voters      int // with kraft: the first voters nodes are controllers too; 0: all
	configure   []func(*Cluster, *Node) []string
	beforeStart []func(*Cluster, *Node) error
}

// Nodes sets the number of nodes (default 1).
func Nodes(n int) Option { return func(s *settings) { s.nodes = n } }

// Set sets a config (Kafka's name) on every node, like `gregor server --set key=value`.
func Set(key, value string) Option {
	return func(s *settings) { s.sets = append(s.sets, key+"="+value) }
}

// Configure adds per-node configs ("key=value"), applied after the defaults and Set. f sees the
// whole cluster laid out (every node's ports and proxies are known), so it can name peers, e.g.
// in controller.quorum.voters.
func Configure(f func(c *Cluster, n *Node) []string) Option {
	return func(s *settings) { s.configure = append(s.configure, f) }
}

// Controllers gives every node a second listener, CONTROLLER, on its own port behind its own
// proxy (Node.ControllerProxy), for the metadata quorum's traffic.
func Controllers() Option { return func(s *settings) { s.controllers = true } }

// KRaft configures the nodes as a combined broker+controller quorum, with Kafka's names:
// process.roles=broker,controller, node.id, controller.quorum.voters naming every node's
// controller proxy, controller.listener.names=CONTROLLER, inter.broker.listener.name=PLAINTEXT and
// listener.security.protocol.map. It implies Controllers.
//
// Each node's log dir is formatted (meta.properties with the cluster's ClusterID), and Start
// returns once every broker is registered and unfenced (WaitUnfenced).
func KRaft() Option {
	return func(s *settings) { s.controllers, s.kraft = true, true }
}

// ControllerNodes, with KRaft, makes only the first n nodes controllers (process.roles=broker,controller,
// each in controller.quorum.voters); the others are broker-only nodes with no controller listener,
// as in a Kafka cluster whose quorum is smaller than its broker set.
func ControllerNodes(n int) Option { return func(s *settings) { s.voters = n } }

// BeforeFirstStart runs f once per node before its first start (e.g. to format its storage with
// c.Bin).
func BeforeFirstStart(f func(c *Cluster, n *Node) error) Option {
	return func(s *settings) { s.beforeStart = append(s.beforeStart, f) }
}

// Cluster is a set of running nodes.
type Cluster struct {
	// Bin is the gregor binary the nodes run.
	Bin string
	// Nodes are the cluster's nodes, node.id Index+1.
	Nodes []*Node
	// ClusterID is the cluster.id every node's log dir is formatted with (KRaft layout only).
	ClusterID string
}

// Bootstrap returns every node's client address (its proxy), for bootstrap.servers.
func (c *Cluster) Bootstrap() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Voters returns controller.quorum.voters for the cluster: id@controller-proxy for every node.
// It is empty without controller listeners.
func (c *Cluster) Voters() string {
	var vs []string
	for _, n := range c.Nodes {
		if n.ControllerProxy != nil {
			vs = append(vs, fmt.Sprintf("%d@%s", n.ID, n.ControllerProxy.Addr()))
		}
	}
	return strings.Join(vs, ",")
}

// Isolate partitions node n from everyone in mode m (Cut or a Blackhole): its own proxies, and
// on every other node's proxies the connections n opened itself (told apart by the process
// owning the socket, Linux only; elsewhere only n's own proxies change).
func (c *Cluster) Isolate(n *Node, m Mode) {
	n.SetNetwork(m)
	for _, peer := range c.Nodes {
		if peer != n {
			peer.Proxy.SetSourceMode(n.Index, m)
			if peer.ControllerProxy != nil {
				peer.ControllerProxy.SetSourceMode(n.Index, m)
			}
		}
	}
}

// Rejoin undoes Isolate: n's network is open both ways again.
func (c *Cluster) Rejoin(n *Node) { c.Isolate(n, Open) }

// sourceOf tells which node opened conn (its index), or NoSource.
func (c *Cluster) sourceOf(conn net.Conn) int {
	var pids []int
	for _, n := range c.Nodes {
		if pid := n.pid.Load(); pid != 0 {
			pids = append(pids, int(pid))
		}
	}
	owner := connOwner(conn, pids)
	for _, n := range c.Nodes {
		if owner != 0 && int(n.pid.Load()) == owner {
			return n.Index
		}
	}
	return NoSource
}

// Start lays out and starts a cluster, waits until every node listens, and stops it all when the
// test ends. It fails the test if a node does not start.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	s := settings{nodes: 1}
	for _, o := range opts {
		o(&s)
	}
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir() // registered before the cleanup below, so removed after the processes stop
	c := &Cluster{Bin: bin}
	t.Cleanup(func() { c.close(t) })

	// NB: the nodes' ports stay held until the proxies (which listen on 127.0.0.1:0) have theirs,
	// or a proxy may be given a node's port and the node fail to bind it.
	ports, release, err := reservePorts(s.nodes * 2)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// NB: the node list is complete before the first proxy exists: proxies read it (sourceOf)
	// from their own goroutines.
	for i := range s.nodes {
		c.Nodes = append(c.Nodes, &Node{
			Index:   i,
			ID:      int32(i + 1),
			Dir:     filepath.Join(root, fmt.Sprintf("node-%d", i+1)),
			LogPath: filepath.Join(root, fmt.Sprintf("node-%d.log", i+1)),
			Port:    ports[2*i],
			bin:     bin,
		})
		if s.controllers && (s.voters == 0 || i < s.voters) {
			c.Nodes[i].ControllerPort = ports[2*i+1]
		}
	}
	for _, n := range c.Nodes {
		if n.Proxy, err = newProxy(hostPort(n.Port), c.sourceOf); err != nil {
			t.Fatal(err)
		}
		if n.ControllerPort != 0 {
			if n.ControllerProxy, err = newProxy(hostPort(n.ControllerPort), c.sourceOf); err != nil {
				t.Fatal(err)
			}
		}
	}
	release()
	if s.kraft {
		c.ClusterID = config.RandomClusterID()
	}
	for _, n := range c.Nodes {
		n.args = []string{"server"}
		if lv := os.Getenv(LogLevelEnv); lv != "" {
			n.args = append(n.args, "--log-level", lv)
		}
		n.args = append(n.args, setFlags(c.config(&s, n))...)
		if s.kraft {
			// As `gregor storage format -t <id> -c <file>` does on each node of a real cluster.
			if err := config.WriteMetaProperties(n.Dir, config.MetaProperties{ClusterID: c.ClusterID, NodeID: n.ID}); err != nil {
				t.Fatalf("testcluster: node %d: format: %v", n.ID, err)
			}
		}
		for _, f := range s.beforeStart {
			if err := f(c, n); err != nil {
				t.Fatalf("testcluster: node %d: before first start: %v", n.ID, err)
			}
		}
	}
	// NB: start every node at once: a quorum member may only listen once a majority is up.
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.Start() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.kraft {
		// NB: "listening" comes before the broker registered with the controller; a topic
		// created before every broker is unfenced cannot be placed on all of them.
		if err := c.WaitUnfenced(context.Background()); err != nil {
			t.Fatalf("testcluster: %v", err)
		}
	}
	return c
}

// config returns node n's configs in the order they apply: defaults, Set, Configure.
func (c *Cluster) config(s *settings, n *Node) []string {
	listeners := "PLAINTEXT://" + hostPort(n.Port)
	if n.ControllerPort != 0 {
		listeners += ",CONTROLLER://" + hostPort(n.ControllerPort)
	}
	cfg := []string{
		"node.id=" + strconv.Itoa(int(n.ID)),
		"listeners=" + listeners,
		"advertised.listeners=PLAINTEXT://" + n.Proxy.Addr(),
		"log.dirs=" + n.Dir,
		// As internal/testbroker: no delay before a new group's first rebalance, few offsets
		// partitions.
		"group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=4",
	}
	if s.kraft {
		roles := "process.roles=broker,controller"
		if n.ControllerPort == 0 {
			roles = "process.roles=broker"
		}
		cfg = append(cfg,
			roles,
			"controller.quorum.voters="+c.Voters(),
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		)
	}
	cfg = append(cfg, s.sets...)
	for _, f := range s.configure {
		cfg = append(cfg, f(c, n)...)
	}
	return cfg
}

// close kills every node still running, closes the proxies, fails the test if a node built with
// -race reported a data race and, if the test failed, prints the tail of every node's log.
func (c *Cluster) close(t testing.TB) {
	for _, n := range c.Nodes {
		n.mu.Lock()
		if n.runningLocked() {
			if err := n.killLocked(); err != nil {
				t.Error(err)
			}
		}
		n.mu.Unlock()
		if n.Proxy != nil {
			n.Proxy.Close()
		}
		if n.ControllerProxy != nil {
			n.ControllerProxy.Close()
		}
	}
	for _, n := range c.Nodes {
		if b, err := os.ReadFile(n.LogPath); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("testcluster: node %d reported a data race (its log follows)", n.ID)
		}
	}
	if dir := os.Getenv(KeepLogsEnv); dir != "" && t.Failed() {
		for _, n := range c.Nodes {
			if b, err := os.ReadFile(n.LogPath); err == nil {
				_ = os.WriteFile(filepath.Join(dir, filepath.Base(n.LogPath)), b, 0o644)
			}
		}
	}
	if t.Failed() {
		for _, n := range c.Nodes {
			t.Logf("testcluster: node %d log (last 150 lines of %s):\n%s", n.ID, n.LogPath, n.LogTail(150))
		}
	}
}

func setFlags(cfg []string) []string {
	out := make([]string, 0, 2*len(cfg))
	for _, kv := range cfg {
		out = append(out, "--set", kv)
	}
	return out
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// reservePorts picks n distinct free ports on 127.0.0.1 and holds them until release is called.
func reservePorts(n int) (ports []int, release func(), err error) {
	var lns []net.Listener
	release = func() {
		for _, ln := range lns {
			ln.Close()
		}
		lns = nil
	}
	ports = make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("testcluster: free port: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, release, nil
}
