package quorum

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// Test timing: 20 ms ticks, elections after 400-800 ms of silence (tolerant of a loaded CI machine).
const (
	testTick      = 20 * time.Millisecond
	electionBound = 10 * time.Second
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// netSwitch cuts one node off the network: while cut, its dials fail, connections it accepts are
// closed at once, and Cut closes every connection it has open in either direction.
type netSwitch struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newNetSwitch() *netSwitch { return &netSwitch{conns: map[net.Conn]struct{}{}} }

func (s *netSwitch) Cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut = true
	for c := range s.conns {
		c.Close()
	}
	clear(s.conns)
}

func (s *netSwitch) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut = false
}

func (s *netSwitch) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *netSwitch) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	s.mu.Lock()
	cut := s.cut
	s.mu.Unlock()
	if cut {
		return nil, errors.New("netswitch: node is cut off")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !s.track(c) {
		return nil, errors.New("netswitch: node is cut off")
	}
	return c, nil
}

type switchListener struct {
	net.Listener
	sw *netSwitch
}

func (l switchListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.sw.track(c) {
			return c, nil
		}
	}
}

// applier drains a node's Committed channel the way the controller will: it keeps the records as
// its state, checks that indexes only grow, and snapshots when asked (if snapshots is set).
type applier struct {
	node      *Node
	snapshots bool
	done      chan struct{}

	mu        sync.Mutex
	state     []string          // every record applied, in order
	indexOf   map[string]uint64 // the index each record was delivered at (not for restored ones)
	lastIndex uint64
	anomalies []string
	restored  int     // snapshots received
	leaders   []int32 // leader changes seen, in order
	taken     int     // snapshots taken
}

func startApplier(n *Node, snapshots bool) *applier {
	a := &applier{node: n, snapshots: snapshots, done: make(chan struct{}), indexOf: map[string]uint64{}}
	go func() {
		defer close(a.done)
		for c := range n.Committed() {
			a.apply(c)
		}
	}()
	return a
}

func encodeImage(state []string) []byte { return []byte(strings.Join(state, "\n")) }

func decodeImage(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}

func (a *applier) apply(c Committed) {
	a.mu.Lock()
	if c.LeaderChange {
		if c.Index < a.lastIndex {
			a.anomalies = append(a.anomalies, fmt.Sprintf("leader change at index %d after %d", c.Index, a.lastIndex))
		}
		a.leaders = append(a.leaders, c.LeaderID)
		a.mu.Unlock()
		return
	}
	if c.Index <= a.lastIndex {
		a.anomalies = append(a.anomalies, fmt.Sprintf("index %d delivered after %d", c.Index, a.lastIndex))
	}
	a.lastIndex = c.Index
	if c.IsSnapshot {
		a.state = decodeImage(c.Image)
		a.restored++
	} else {
		for _, r := range c.Records {
			a.state = append(a.state, string(r))
			a.indexOf[string(r)] = c.Index
		}
	}
	due := a.snapshots && c.SnapshotDue
	var image []byte
	if due {
		image = encodeImage(a.state)
	}
	a.mu.Unlock()
	if due {
		if err := a.node.Snapshot(c.Index, image); err == nil {
			a.mu.Lock()
			a.taken++
			a.mu.Unlock()
		} else if !errors.Is(err, ErrSnapshotStale) && !errors.Is(err, ErrClosed) {
			a.mu.Lock()
			a.anomalies = append(a.anomalies, fmt.Sprintf("snapshot at %d: %v", c.Index, err))
			a.mu.Unlock()
		}
	}
}

func (a *applier) State() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.state...)
}

func (a *applier) Anomalies() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.anomalies...)
}

// testNode is one voter of a test cluster, restartable on the same directory and address.
type testNode struct {
	id      int32
	dir     string
	addr    string
	sw      *netSwitch
	node    *Node
	applier *applier
}

type testCluster struct {
	mu     sync.Mutex // guards testNode.node against a concurrent leaderNode
	t      testing.TB
	voters []Voter
	nodes  map[int32]*testNode
	tune   func(*Config)
	snaps  bool
}

// startCluster starts n voters (IDs 1..n) on 127.0.0.1 with temp dirs; tune adjusts each Config.
func startCluster(t testing.TB, n int, snapshots bool, tune func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: map[int32]*testNode{}, tune: tune, snaps: snapshots}
	lns := map[int32]net.Listener{}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		id := int32(i)
		lns[id] = ln
		addr := ln.Addr().(*net.TCPAddr)
		c.voters = append(c.voters, Voter{ID: id, Host: "127.0.0.1", Port: addr.Port})
		c.nodes[id] = &testNode{id: id, dir: filepath.Join(t.TempDir(), MetadataDirName), addr: ln.Addr().String(), sw: newNetSwitch()}
	}
	for id, ln := range lns {
		c.startNode(id, ln)
	}
	t.Cleanup(c.closeAll)
	return c
}

func (c *testCluster) config(tn *testNode, ln net.Listener) Config {
	cfg := Config{
		NodeID:        tn.id,
		Voters:        c.voters,
		Dir:           tn.dir,
		Dial:          tn.sw.Dial,
		Logger:        testLogger(c.t),
		TickInterval:  testTick,
		ElectionTicks: 20,
	}
	if ln != nil {
		cfg.Listener = switchListener{ln, tn.sw}
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

func (c *testCluster) startNode(id int32, ln net.Listener) {
	c.t.Helper()
	tn := c.nodes[id]
	if ln == nil && len(c.voters) > 1 {
		var err error
		if ln, err = net.Listen("tcp", tn.addr); err != nil {
			c.t.Fatalf("node %d: listen again on %s: %v", id, tn.addr, err)
		}
	}
	n, err := Start(c.config(tn, ln))
	if err != nil {
		c.t.Fatalf("node %d: start: %v", id, err)
	}
	c.mu.Lock()
	tn.node = n
	tn.applier = startApplier(n, c.snaps)
	c.mu.Unlock()
}

// stopNode closes a node abruptly (no leadership transfer) and waits for its applier to finish.
func (c *testCluster) stopNode(id int32) {
	c.t.Helper()
	tn := c.nodes[id]
	if tn.node == nil {
		return
	}
	if err := tn.node.Close(); err != nil {
		c.t.Errorf("node %d: close: %v", id, err)
	}
	<-tn.applier.done
	c.mu.Lock()
	tn.node = nil
	c.mu.Unlock()
}

func (c *testCluster) closeAll() {
	for id := range c.nodes {
		c.stopNode(id)
	}
}

func (c *testCluster) running() []*testNode {
	var out []*testNode
	for _, id := range []int32{1, 2, 3, 4, 5} {
		if tn := c.nodes[id]; tn != nil && tn.node != nil {
			out = append(out, tn)
		}
	}
	return out
}

// waitLeader waits until every running node in among agrees on one leader that is also running.
func (c *testCluster) waitLeader(among ...int32) int32 {
	c.t.Helper()
	if len(among) == 0 {
		for _, tn := range c.running() {
			among = append(among, tn.id)
		}
	}
	var leader int32
	testutil.CheckFor(c.t, electionBound, 10*time.Millisecond, func() error {
		leader = NoLeader
		for _, id := range among {
			l := c.nodes[id].node.Leader()
			if l == NoLeader {
				return fmt.Errorf("node %d knows no leader", id)
			}
			if leader != NoLeader && l != leader {
				return fmt.Errorf("nodes disagree on the leader: %d and %d", leader, l)
			}
			leader = l
		}
		for _, id := range among {
			if id == leader {
				return nil
			}
		}
		return fmt.Errorf("leader %d is not among %v", leader, among)
	})
	return leader
}

// propose proposes records on whichever node leads, retrying on a leader change.
func (c *testCluster) propose(records ...string) uint64 {
	c.t.Helper()
	batch := make([][]byte, len(records))
	for i, r := range records {
		batch[i] = []byte(r)
	}
	var index uint64
	testutil.CheckFor(c.t, electionBound, 10*time.Millisecond, func() error {
		leader := c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		index, err = c.nodes[leader].node.Propose(ctx, batch)
		return err
	})
	return index
}

// waitConverged waits until every running node's applier holds want.
func (c *testCluster) waitConverged(want []string) {
	c.t.Helper()
	testutil.CheckFor(c.t, electionBound, 10*time.Millisecond, func() error {
		for _, tn := range c.running() {
			if got := tn.applier.State(); !equalStrings(got, want) {
				return fmt.Errorf("node %d applied %d records, want %d (first difference at %d)", tn.id, len(got), len(want), firstDiff(got, want))
			}
		}
		return nil
	})
	for _, tn := range c.running() {
		if a := tn.applier.Anomalies(); len(a) > 0 {
			c.t.Errorf("node %d anomalies: %v", tn.id, a)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// countDuplicates counts records applied more than once (Jepsen's duplicate anomaly).
func countDuplicates(state []string) int {
	seen := map[string]bool{}
	dups := 0
	for _, r := range state {
		if seen[r] {
			dups++
		}
		seen[r] = true
	}
	return dups
}

// countFiles counts entry log segments and checkpoint files in dir.
func countFiles(t testing.TB, dir string) (segments, checkpoints int) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		switch {
		case strings.HasSuffix(de.Name(), segmentSuffix):
			segments++
		case strings.HasSuffix(de.Name(), checkpointSuffix):
			checkpoints++
		}
	}
	return segments, checkpoints
}

// leaderNode is the running node that believes it leads, or nil; safe from any goroutine.
func (c *testCluster) leaderNode() *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tn := range c.nodes {
		if tn.node != nil && tn.node.Leader() == tn.id {
			return tn.node
		}
	}
	return nil
}

// othersThan lists the voters other than id.
func (c *testCluster) othersThan(id int32) []int32 {
	var others []int32
	for _, v := range c.voters {
		if v.ID != id {
			others = append(others, v.ID)
		}
	}
	return others
}
