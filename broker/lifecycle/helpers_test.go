package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/lifecycle"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/internal/testutil"
)

const (
	heartbeatInterval = 50 * time.Millisecond
	sessionTimeout    = 1500 * time.Millisecond
	waitLong          = 10 * time.Second
	poll              = 10 * time.Millisecond
)

// node is one combined node (process.roles=broker,controller): a controller Server, and the broker
// side: a Publisher fed by a Follower of the local quorum, and a lifecycle Manager.
type node struct {
	id       int32
	ctl      *controller.Server
	pub      *metadata.Publisher
	follower *lifecycle.Follower
	mgr      *lifecycle.Manager
	stopped  bool
	// first is the first image published (broker-only nodes).
	first atomic.Pointer[metadata.Image]
}

type cluster struct {
	t      *testing.T
	voters []quorum.Voter
	dirs   map[int32]string
	lns    map[int32]net.Listener

	// tune, if set, adjusts each voter's quorum configuration.
	tune func(*quorum.Config)
	// session is broker.session.timeout.ms (sessionTimeout unless a test sets it before starting).
	session time.Duration
	// tuneManager, if set, adjusts each broker's lifecycle configuration.
	tuneManager func(*lifecycle.Config)

	mu    sync.Mutex
	nodes map[int32]*node
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// option adjusts a test cluster before it starts.
type option func(*cluster)

// withQuorum adjusts each voter's quorum configuration.
func withQuorum(tune func(*quorum.Config)) option { return func(c *cluster) { c.tune = tune } }

// withSession sets broker.session.timeout.ms.
func withSession(d time.Duration) option { return func(c *cluster) { c.session = d } }

// withManager adjusts each broker's lifecycle configuration.
func withManager(tune func(*lifecycle.Config)) option {
	return func(c *cluster) { c.tuneManager = tune }
}

// startCluster starts n combined nodes with node.id 1..n on 127.0.0.1, all voters.
func startCluster(t *testing.T, n int, opts ...option) *cluster {
	t.Helper()
	c := &cluster{t: t, dirs: map[int32]string{}, lns: map[int32]net.Listener{}, nodes: map[int32]*node{}, session: sessionTimeout}
	for _, o := range opts {
		o(c)
	}
	for id := int32(1); id <= int32(n); id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.lns[id], c.dirs[id] = ln, filepath.Join(t.TempDir(), quorum.MetadataDirName)
		c.voters = append(c.voters, quorum.Voter{ID: id, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port})
	}
	for id := int32(1); id <= int32(n); id++ {
		c.start(id)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		ids := make([]int32, 0, len(c.nodes))
		for id, nd := range c.nodes {
			if !nd.stopped {
				ids = append(ids, id)
			}
		}
		c.mu.Unlock()
		for _, id := range ids {
			c.kill(id)
		}
	})
	return c
}

func (c *cluster) start(id int32) {
	c.t.Helper()
	qc := quorum.Config{
		NodeID: id, Voters: c.voters, Dir: c.dirs[id],
		TickInterval: 20 * time.Millisecond, ElectionTicks: 20, // elections after 400-800 ms, as broker/quorum's tests
	}
	if c.tune != nil {
		c.tune(&qc)
	}
	ctl, err := controller.StartServer(controller.ServerConfig{
		Listener: c.lns[id],
		Quorum:   qc,
		Node: controller.NodeConfig{
			Controller:   controller.Config{SessionTimeout: c.session, ClusterID: "test-cluster"},
			TickInterval: 20 * time.Millisecond,
		},
		Logger: quietLogger(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	pub := metadata.NewPublisher(metadata.Empty())
	f := lifecycle.FollowLocal(ctl.Quorum(), pub, quietLogger())
	mgr := c.startManager(id, pub, 0)
	c.mu.Lock()
	c.nodes[id] = &node{id: id, ctl: ctl, pub: pub, follower: f, mgr: mgr}
	c.mu.Unlock()
}

// startBrokerOnly starts a broker-only node (process.roles=broker): its metadata comes over the
// network from the quorum leader.
func (c *cluster) startBrokerOnly(id int32) *node {
	c.t.Helper()
	pub := metadata.NewPublisher(metadata.Empty())
	nd := &node{id: id, pub: pub}
	pub.Subscribe("test", func(u metadata.Update) { nd.first.CompareAndSwap(nil, u.Image) })
	f, err := lifecycle.FollowRemote(lifecycle.RemoteConfig{
		NodeID: id, ClusterID: "test-cluster", Voters: c.voters, MaxWait: 200 * time.Millisecond,
		// NB: small answers, so the snapshot comes in many FetchSnapshot chunks.
		MaxBytes:     64,
		RetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond, Logger: quietLogger(),
	}, pub)
	if err != nil {
		c.t.Fatal(err)
	}
	nd.follower, nd.mgr = f, c.startManager(id, pub, 0)
	c.mu.Lock()
	c.nodes[id] = nd
	c.mu.Unlock()
	return nd
}

func (c *cluster) startManager(id int32, pub *metadata.Publisher, previousEpoch int64) *lifecycle.Manager {
	c.t.Helper()
	cfg := lifecycle.Config{
		NodeID: id, ClusterID: "test-cluster", Voters: c.voters, PreviousBrokerEpoch: previousEpoch,
		Listeners:         []metadata.EndPoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: uint16(9000 + id)}},
		HeartbeatInterval: heartbeatInterval,
		RetryBackoff:      20 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond,
		MetadataOffset: func() int64 { return pub.Current().Offset() },
		Logger:         quietLogger(),
	}
	if c.tuneManager != nil {
		c.tuneManager(&cfg)
	}
	mgr, err := lifecycle.Start(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	return mgr
}

// kill stops a node without a controlled shutdown (its heartbeats just stop).
func (c *cluster) kill(id int32) {
	c.mu.Lock()
	nd := c.nodes[id]
	nd.stopped = true
	c.mu.Unlock()
	start := time.Now()
	nd.mgr.Close()
	nd.follower.Close()
	if nd.ctl != nil {
		if err := nd.ctl.Close(); err != nil {
			c.t.Errorf("node %d close: %v", id, err)
		}
	}
	if took := time.Since(start); took > time.Second {
		c.t.Logf("stopping node %d took %v", id, took)
	}
}

func (c *cluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for id := int32(1); id <= int32(len(c.nodes)); id++ {
		if nd := c.nodes[id]; nd != nil && !nd.stopped {
			out = append(out, nd)
		}
	}
	return out
}

// active waits for a live node whose controller is active.
func (c *cluster) active() *node {
	c.t.Helper()
	var found *node
	testutil.CheckFor(c.t, waitLong, poll, func() error {
		for _, nd := range c.live() {
			if nd.ctl != nil && nd.ctl.Node().Active() {
				found = nd
				return nil
			}
		}
		return errors.New("no active controller")
	})
	return found
}

// waitUnfenced waits until every live broker is registered and unfenced, as both its manager and
// every live node's published image say.
func (c *cluster) waitUnfenced() {
	c.t.Helper()
	testutil.CheckFor(c.t, waitLong, poll, func() error {
		for _, nd := range c.live() {
			if st := nd.mgr.State(); st.BrokerEpoch < 0 || st.Fenced {
				return fmt.Errorf("broker %d: %+v", nd.id, st)
			}
			for _, other := range c.live() {
				if b := nd.pub.Current().Broker(other.id); b == nil || b.Fenced {
					return fmt.Errorf("node %d's image: broker %d not registered or fenced", nd.id, other.id)
				}
			}
		}
		return nil
	})
}

// request sends req over the Kafka protocol (a franz-go client seeded with the node's controller
// listener) and closes the client. Safe from any goroutine.
func request(t *testing.T, nd *node, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.ctl.Addr().String()), kgo.RequestRetries(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// createTopic creates a topic through the active controller's listener, retrying NOT_CONTROLLER.
func (c *cluster) createTopic(name string, partitions int32, rf int16) {
	c.t.Helper()
	testutil.CheckFor(c.t, waitLong, 50*time.Millisecond, func() error {
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = name, partitions, rf
		req.Topics = append(req.Topics, tp)
		resp, err := request(c.t, c.active(), req)
		if err != nil {
			return err
		}
		code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		if code == kerr.TopicAlreadyExists.Code {
			return nil // a retry after a commit whose reply was lost
		}
		return kerr.ErrorForCode(code)
	})
}

// waitTopic waits until every live node's published image holds the topic with all its partitions
// led, and returns one node's view of it.
func (c *cluster) waitTopic(name string, partitions int) *metadata.Topic {
	c.t.Helper()
	var tp *metadata.Topic
	testutil.CheckFor(c.t, waitLong, poll, func() error {
		for _, nd := range c.live() {
			tp = nd.pub.Current().Topic(name)
			if tp == nil || tp.NumPartitions() != partitions {
				return fmt.Errorf("node %d's image lacks topic %s", nd.id, name)
			}
			for _, p := range tp.Partitions() {
				if p.Leader < 0 {
					return fmt.Errorf("node %d's image: %s-%d has no leader", nd.id, name, p.ID)
				}
			}
		}
		return nil
	})
	return tp
}

// restart starts a killed node again on the same address and metadata directory.
func (c *cluster) restart(id int32) {
	c.t.Helper()
	ln, err := net.Listen("tcp", c.lns[id].Addr().String())
	if err != nil {
		c.t.Fatal(err)
	}
	c.lns[id] = ln
	c.start(id)
}

// transferLeadership moves quorum leadership away from nd (retrying: on a loaded machine a transfer
// may time out, which is not what the tests check).
func (c *cluster) transferLeadership(nd *node) {
	c.t.Helper()
	testutil.CheckFor(c.t, waitLong, poll, func() error {
		if nd.ctl.Quorum().Leader() != nd.id {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return nd.ctl.Quorum().TransferLeadership(ctx, quorum.NoLeader)
	})
}
