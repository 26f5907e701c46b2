package broker_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// freePorts reserves n ports on 127.0.0.1 for controller listeners (testbroker.FreePorts).
//
//lint:ignore U1000 kept for the in-process clusters other test files build by hand (ops_cluster_test.go on main)
func freePorts(t *testing.T, n int) []int { return testbroker.FreePorts(t, n) }

// startKRaftCluster starts n combined (broker,controller) nodes in-process (testbroker.StartCluster)
// with fast heartbeats; extra are more key=value settings.
func startKRaftCluster(t *testing.T, n int, extra ...string) []*broker.Broker {
	t.Helper()
	var opts []testbroker.Option
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		opts = append(opts, testbroker.Set(k, v))
	}
	return testbroker.StartCluster(t, n, opts...).Brokers()
}

// TestKRaftNodesRegisterAndShutDownInAControlledWay: three combined nodes started through broker.New
// and Start elect a controller, register with it and are unfenced; every node's published image
// lists the three brokers with their advertised PLAINTEXT endpoints, and Metadata and DescribeCluster
// tell clients of all three with their broker.rack. Closing a node runs a controlled shutdown: it
// returns quickly, and the others' images then show it as shutting down or fenced.
func TestKRaftNodesRegisterAndShutDownInAControlledWay(t *testing.T) {
	begin := time.Now()
	nodes := startKRaftCluster(t, 3)
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			st, ok := b.LifecycleState()
			if !ok || st.BrokerEpoch < 0 || st.Fenced {
				return fmt.Errorf("node %d: %+v", i+1, st)
			}
			img := b.MetadataImage()
			if got := img.UsableBrokers(); len(got) != 3 {
				return fmt.Errorf("node %d sees usable brokers %v", i+1, got)
			}
			for j, other := range nodes {
				ep, ok := img.Broker(int32(j + 1)).EndPoint("PLAINTEXT")
				if !ok || net.JoinHostPort(ep.Host, fmt.Sprint(ep.Port)) != other.Addr() {
					return fmt.Errorf("node %d: broker %d endpoint %+v, serving on %s", i+1, j+1, ep, other.Addr())
				}
			}
		}
		return nil
	})
	t.Logf("registered and unfenced after %v", time.Since(begin))
	// Clients see the cluster: Metadata (kadm's ListBrokers) and DescribeCluster list all three.
	cl := newClient(t, nodes[0].Addr())
	md, err := kadm.NewClient(cl).BrokerMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 || md.Controller != 1 {
		t.Fatalf("Metadata lists %v, controller %d", md.Brokers, md.Controller)
	}
	for i, d := range md.Brokers {
		if d.NodeID != int32(i+1) || net.JoinHostPort(d.Host, fmt.Sprint(d.Port)) != nodes[i].Addr() ||
			d.Rack == nil || *d.Rack != fmt.Sprintf("r%d", i+1) {
			t.Fatalf("Metadata broker %d: %+v, serving on %s", i, d, nodes[i].Addr())
		}
	}
	cluster, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(context.Background(), cl)
	if err != nil || len(cluster.Brokers) != 3 || cluster.ControllerID != 1 {
		t.Fatalf("DescribeCluster: %+v %v", cluster, err)
	}
	start := time.Now()
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v: the controlled shutdown did not complete", took)
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if br := nodes[0].MetadataImage().Broker(3); br == nil || !(br.InControlledShutdown || br.Fenced) {
			return fmt.Errorf("broker 3 after Close: %+v", br)
		}
		return nil
	})
}

// TestSingleNodeMetadataCarriesItsRack: a legacy single node with broker.rack tells clients its rack.
func TestSingleNodeMetadataCarriesItsRack(t *testing.T) {
	tb := testbroker.Start(t, testbroker.Set("broker.rack", "eu-west-1a"))
	md, err := kadm.NewClient(newClient(t, tb.Addr())).BrokerMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Rack == nil || *md.Brokers[0].Rack != "eu-west-1a" {
		t.Fatalf("Metadata brokers %+v", md.Brokers)
	}
}
