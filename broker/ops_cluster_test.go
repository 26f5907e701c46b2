package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// opsCluster is an in-process KRaft cluster of combined nodes whose nodes can be stopped and started
// again on their directories (a broker returning).
type opsCluster struct {
	t         *testing.T
	voters    string // controller.quorum.voters
	clusterID string
	cfgs      []*config.Broker
	nodes     []*broker.Broker // nil while stopped
}

// startOpsCluster starts n combined nodes with fast heartbeats; extra are more key=value settings.
func startOpsCluster(t *testing.T, n int, extra ...string) *opsCluster {
	t.Helper()
	ports := freePorts(t, n)
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	clusterID := config.RandomClusterID()
	c := &opsCluster{t: t, voters: strings.Join(voters, ","), clusterID: clusterID, nodes: make([]*broker.Broker, n)}
	for i := range n {
		dir := t.TempDir()
		cfg, _, err := config.Load("", append([]string{
			"process.roles=broker,controller", fmt.Sprintf("node.id=%d", i+1), "log.dirs=" + dir,
			"controller.quorum.voters=" + strings.Join(voters, ","),
			fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", ports[i]),
			"controller.listener.names=CONTROLLER",
			"broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1500", "replica.fetch.backoff.ms=50",
		}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		if err := config.WriteMetaProperties(dir, config.MetaProperties{ClusterID: clusterID, NodeID: cfg.NodeID}); err != nil {
			t.Fatal(err)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	for i := range n {
		c.start(int32(i + 1))
	}
	// NB: closed together, so each controlled shutdown still finds a quorum.
	t.Cleanup(func() {
		done := make(chan struct{}, len(c.nodes))
		for _, b := range c.nodes {
			go func() {
				if b != nil {
					b.Close()
				}
				done <- struct{}{}
			}()
		}
		for range c.nodes {
			<-done
		}
	})
	return c
}

// addBroker formats and starts a broker-only node (process.roles=broker: a KRaft observer that
// follows the metadata log from the controllers) with the next node ID, and returns the ID.
func (c *opsCluster) addBroker() int32 {
	c.t.Helper()
	id := int32(len(c.cfgs) + 1)
	dir := c.t.TempDir()
	cfg, _, err := config.Load("", []string{
		"process.roles=broker", fmt.Sprintf("node.id=%d", id), "log.dirs=" + dir,
		"controller.quorum.voters=" + c.voters, "listeners=PLAINTEXT://127.0.0.1:0", "controller.listener.names=CONTROLLER",
		"broker.heartbeat.interval.ms=100", "broker.session.timeout.ms=1500", "replica.fetch.backoff.ms=50",
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := config.WriteMetaProperties(dir, config.MetaProperties{ClusterID: c.clusterID, NodeID: id}); err != nil {
		c.t.Fatal(err)
	}
	c.cfgs = append(c.cfgs, cfg)
	c.nodes = append(c.nodes, nil)
	c.start(id)
	return id
}

// start starts node id on its directory.
func (c *opsCluster) start(id int32) {
	c.t.Helper()
	b, err := broker.New(c.cfgs[id-1], broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		b.Close()
		c.t.Fatal(err)
	}
	c.nodes[id-1] = b
}

// stop closes node id (a controlled shutdown).
func (c *opsCluster) stop(id int32) {
	c.t.Helper()
	if err := c.nodes[id-1].Close(); err != nil {
		c.t.Logf("closing node %d: %v", id, err)
	}
	c.nodes[id-1] = nil
}

// running returns the nodes that are up.
func (c *opsCluster) running() []*broker.Broker {
	var out []*broker.Broker
	for _, b := range c.nodes {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// seeds is a bootstrap list of every running node.
func (c *opsCluster) seeds() kgo.Opt {
	var addrs []string
	for _, b := range c.running() {
		addrs = append(addrs, b.Addr())
	}
	return kgo.SeedBrokers(addrs...)
}

// createOnePartition creates topic with one partition of rf replicas and returns its replicas once
// they are all in the ISR.
func (c *opsCluster) createOnePartition(ctx context.Context, t *testing.T, topic string, rf int16) []int32 {
	t.Helper()
	createThroughController(ctx, t, c.nodes[0], topic, 1, rf)
	var replicas []int32
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		p := c.nodes[0].MetadataImage().Partition(topic, 0)
		if p == nil || len(p.Isr) != int(rf) {
			return fmt.Errorf("partition %+v", p)
		}
		replicas = slices.Clone(p.Replicas)
		return nil
	})
	return replicas
}

// produceRange writes values from..to-1 with acks=all.
func produceRange(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce record %d: %v", i, err)
		}
	}
}

// checkReadable consumes the topic's n records from the start and checks they are 0..n-1 in order.
func (c *opsCluster) checkReadable(t *testing.T, topic string, n int) {
	t.Helper()
	got := consumeAll(t, c.running()[0].Addr(), topic, n, c.seeds())
	for i, r := range got {
		if string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d of %s: %q", i, topic, r.Value)
		}
	}
}
