package lifecycle_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func describeQuorum(t *testing.T, nd *node) (*kmsg.DescribeQuorumResponse, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	tp := kmsg.NewDescribeQuorumRequestTopic()
	tp.Topic = controller.MetadataTopic
	tp.Partitions = append(tp.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, tp)
	resp, err := request(t, nd, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.DescribeQuorumResponse), nil
}

// TestThreeCombinedNodesRegisterAndServeATopicWithLeadersSpread: the quorum elects, each broker
// registers and is unfenced once caught up, and a topic created with a franz-go CreateTopics request
// on the controller listener shows up in every node's published image with its leaders on three
// different brokers. DescribeQuorum on the leader names the leader, epoch, high watermark and every
// voter's log end.
func TestThreeCombinedNodesRegisterAndServeATopicWithLeadersSpread(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	c.createTopic("orders", 3, 3)
	tp := c.waitTopic("orders", 3)
	leaders := map[int32]bool{}
	for _, p := range tp.Partitions() {
		leaders[p.Leader] = true
		if len(p.Isr) != 3 {
			t.Errorf("orders-%d: ISR %v, want all three replicas", p.ID, p.Isr)
		}
	}
	if len(leaders) != 3 {
		t.Errorf("leaders of orders: %v, want three different brokers", leaders)
	}

	leader := c.active()
	var dq *kmsg.DescribeQuorumResponse
	testutil.CheckFor(t, waitLong, poll, func() error {
		var err error
		if dq, err = describeQuorum(t, leader); err != nil {
			return err
		}
		p := dq.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			return kerr.ErrorForCode(p.ErrorCode)
		}
		if len(p.CurrentVoters) != 3 {
			return fmt.Errorf("voters %v", p.CurrentVoters)
		}
		for _, v := range p.CurrentVoters {
			if v.LogEndOffset != p.HighWatermark {
				return fmt.Errorf("voter %d at %d, high watermark %d", v.ReplicaID, v.LogEndOffset, p.HighWatermark)
			}
		}
		return nil
	})
	p := dq.Topics[0].Partitions[0]
	st := leader.ctl.Node().Status()
	if p.LeaderID != leader.id || int64(p.LeaderEpoch) != int64(st.LeaderEpoch) || p.LeaderEpoch < 1 || p.HighWatermark < 2 {
		t.Errorf("DescribeQuorum: leader %d epoch %d hw %d; want leader %d epoch %d", p.LeaderID, p.LeaderEpoch, p.HighWatermark, leader.id, st.LeaderEpoch)
	}
	if len(dq.Nodes) != 3 {
		t.Errorf("DescribeQuorum nodes: %v, want the three voters' endpoints", dq.Nodes)
	}
	// A follower answers NOT_LEADER_OR_FOLLOWER with the leader as a hint.
	for _, nd := range c.live() {
		if nd.id == leader.id {
			continue
		}
		dq, err := describeQuorum(t, nd)
		if err != nil {
			t.Fatal(err)
		}
		if p := dq.Topics[0].Partitions[0]; p.ErrorCode != kerr.NotLeaderForPartition.Code || p.LeaderID != leader.id {
			t.Errorf("DescribeQuorum on follower %d: error %d leader %d", nd.id, p.ErrorCode, p.LeaderID)
		}
		break
	}
}

// TestAStandbyControllerAnswersNotController: controller APIs on a standby get NOT_CONTROLLER, in
// the response's own shape.
func TestAStandbyControllerAnswersNotController(t *testing.T) {
	c := startCluster(t, 3)
	active := c.active()
	for _, nd := range c.live() {
		if nd.id == active.id {
			continue
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		tp := kmsg.NewCreateTopicsRequestTopic()
		tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "x", 1, 1
		req.Topics = append(req.Topics, tp)
		resp, err := request(t, nd, req)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != kerr.NotController.Code {
			t.Errorf("CreateTopics on standby %d: error %d, want NOT_CONTROLLER", nd.id, code)
		}
	}
}

// TestTheActiveControllerFailsOver: killing the active controller's node makes another node active
// within a bound; it serves CreateTopics, and the killed node's broker is fenced once its session
// expires, its partitions led by ISR members.
func TestTheActiveControllerFailsOver(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	c.createTopic("before", 3, 3)
	c.waitTopic("before", 3)

	killed := c.active().id
	start := time.Now()
	c.kill(killed)
	next := c.active()
	took := time.Since(start)
	if next.id == killed {
		t.Fatalf("killed node %d still active", killed)
	}
	t.Logf("node %d active %v after node %d was killed", next.id, took, killed)
	if took > 5*time.Second {
		t.Errorf("failover took %v, want under 5s", took)
	}
	c.createTopic("after", 2, 2)
	c.waitTopic("after", 2)

	testutil.CheckFor(t, waitLong, poll, func() error {
		for _, nd := range c.live() {
			img := nd.pub.Current()
			if b := img.Broker(killed); !b.Fenced {
				return fmt.Errorf("node %d's image: killed broker %d not fenced", nd.id, killed)
			}
			for _, p := range img.Topic("before").Partitions() {
				if p.Leader == killed || p.Leader < 0 || !p.InIsr(p.Leader) || p.InIsr(killed) {
					return fmt.Errorf("node %d's image: before-%d leader %d ISR %v", nd.id, p.ID, p.Leader, p.Isr)
				}
			}
		}
		return nil
	})
}

// TestABrokerWhoseHeartbeatsStopIsFenced: the controller keeps running, but the broker's lifecycle
// manager stops: after broker.session.timeout.ms the broker is fenced and leadership of its
// partitions moves to the remaining ISR members, with a new leader epoch.
func TestABrokerWhoseHeartbeatsStopIsFenced(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	c.createTopic("t", 3, 3)
	tp := c.waitTopic("t", 3)
	var victim int32 = -1
	for _, nd := range c.live() {
		if !nd.ctl.Node().Active() {
			victim = nd.id
			break
		}
	}
	epochs := map[int32]int32{}
	for _, p := range tp.Partitions() {
		epochs[p.ID] = p.LeaderEpoch
	}
	c.nodes[victim].mgr.Close()
	stopped := time.Now()
	testutil.CheckFor(t, waitLong, poll, func() error {
		for _, nd := range c.live() {
			img := nd.pub.Current()
			if !img.Broker(victim).Fenced {
				return fmt.Errorf("node %d's image: broker %d not fenced", nd.id, victim)
			}
			for _, p := range img.Topic("t").Partitions() {
				if p.Leader == victim || p.InIsr(victim) || !p.InIsr(p.Leader) {
					return fmt.Errorf("node %d's image: t-%d leader %d ISR %v", nd.id, p.ID, p.Leader, p.Isr)
				}
			}
		}
		return nil
	})
	// NB: the session runs from the last heartbeat, up to one interval before the manager stopped.
	if took := time.Since(stopped); took < sessionTimeout-heartbeatInterval {
		t.Errorf("broker fenced %v after its heartbeats stopped, before the %v session timeout", took, sessionTimeout)
	}
	for _, p := range c.active().pub.Current().Topic("t").Partitions() {
		if tp.Partition(p.ID).Leader == victim && p.LeaderEpoch <= epochs[p.ID] {
			t.Errorf("t-%d moved from broker %d without a new leader epoch (%d)", p.ID, victim, p.LeaderEpoch)
		}
	}
}

// TestControlledShutdownMovesLeadershipFirst: ControlledShutdown returns once the controller agreed,
// and by then the broker leads nothing and has left every ISR in the published image, while the
// partitions it led have other leaders.
func TestControlledShutdownMovesLeadershipFirst(t *testing.T) {
	c := startCluster(t, 3)
	c.waitUnfenced()
	c.createTopic("t", 6, 3)
	c.waitTopic("t", 6)
	leaving := c.live()[0]
	if len(leaving.pub.Current().PartitionsLedBy(leaving.id)) == 0 {
		t.Fatalf("broker %d leads nothing to move", leaving.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := leaving.mgr.ControlledShutdown(ctx); err != nil {
		t.Fatalf("controlled shutdown: %v", err)
	}
	if st := leaving.mgr.State(); !st.ShutdownComplete {
		t.Fatalf("state after controlled shutdown: %+v", st)
	}
	img := c.active().ctl.Node().CommittedImage()
	if led := img.PartitionsLedBy(leaving.id); len(led) != 0 {
		t.Errorf("broker %d still leads %d partitions after its controlled shutdown", leaving.id, len(led))
	}
	for _, p := range img.Topic("t").Partitions() {
		if p.Leader < 0 || p.InIsr(leaving.id) || !slices.Contains(p.Replicas, p.Leader) {
			t.Errorf("t-%d: leader %d ISR %v after broker %d shut down", p.ID, p.Leader, p.Isr, leaving.id)
		}
	}
}

// TestOneNodeQuorumRunsTheSamePaths: process.roles=broker,controller with one voter registers,
// unfences, creates a topic, answers DescribeQuorum and shuts down in a controlled way.
func TestOneNodeQuorumRunsTheSamePaths(t *testing.T) {
	c := startCluster(t, 1)
	c.waitUnfenced()
	c.createTopic("solo", 2, 1)
	tp := c.waitTopic("solo", 2)
	for _, p := range tp.Partitions() {
		if p.Leader != 1 {
			t.Errorf("solo-%d led by %d", p.ID, p.Leader)
		}
	}
	dq, err := describeQuorum(t, c.nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	if p := dq.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LeaderID != 1 || len(p.CurrentVoters) != 1 || p.CurrentVoters[0].LogEndOffset != p.HighWatermark {
		t.Errorf("DescribeQuorum: %+v", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := c.nodes[1].mgr.ControlledShutdown(ctx); err != nil {
		t.Fatalf("controlled shutdown: %v", err)
	}
}

// TestEveryGoroutineStopsOnClose: a node's controller server, follower and lifecycle manager leave no
// goroutine behind once closed: none running Gregor's code or a franz-go client.
func TestEveryGoroutineStopsOnClose(t *testing.T) {
	c := startCluster(t, 1)
	c.waitUnfenced()
	c.createTopic("t", 1, 1)
	c.waitTopic("t", 1)
	c.kill(1)
	testutil.CheckFor(t, waitLong, poll, func() error {
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		var left []string
		for _, g := range stacks[1:] { // the first is this goroutine
			if strings.Contains(g, "gregor-streams/gregor/") || strings.Contains(g, "franz-go/pkg/kgo") {
				left = append(left, g)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		return nil
	})
}
