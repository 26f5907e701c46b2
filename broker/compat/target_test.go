package compat_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// target is what a compat test runs against: one broker, or a KRaft cluster.
type target struct {
	addr    string   // the bootstrap address clients are given: the first node's
	brokers int      // how many brokers Metadata lists (and the replication factor of new topics)
	all     []string // every node's client address

	single  *testbroker.Broker  // the broker, on a single node
	cluster *testbroker.Cluster // the cluster, on three nodes
}

// Addr is the bootstrap address; clients learn the other brokers from Metadata.
func (tg *target) Addr() string { return tg.addr }

// clusterPrefix names the test that reruns part of this package against a three-node cluster.
const clusterPrefix = "TestThreeNodeCluster/"

// sharedCluster is TestThreeNodeCluster's cluster while it runs (its subtests run one at a time and
// use distinct topic names, so they share it and CI starts one cluster, not one per suite).
var sharedCluster struct {
	sync.Mutex
	target *target
}

// startBroker starts the test's target: a single in-process broker stopped when the test ends, or,
// for a test run as a subtest of TestThreeNodeCluster, that test's three-node cluster.
func startBroker(t *testing.T) *target {
	t.Helper()
	if !strings.HasPrefix(t.Name(), clusterPrefix) {
		tb := testbroker.Start(t)
		return &target{addr: tb.Addr(), brokers: 1, all: []string{tb.Addr()}, single: tb}
	}
	sharedCluster.Lock()
	defer sharedCluster.Unlock()
	if sharedCluster.target == nil {
		t.Fatal("no cluster: run through TestThreeNodeCluster")
	}
	return sharedCluster.target
}

// eventually checks a read that goes to any broker: once on a single broker (it must hold at
// once), and on a cluster until it holds (bounded), since brokers other than the one that forwarded
// an admin request learn its effect from the metadata log a moment later.
func (tg *target) eventually(t *testing.T, check func() error) {
	t.Helper()
	if !tg.clustered() {
		if err := check(); err != nil {
			t.Fatal(err)
		}
		return
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, check)
}

// clusterOf is the cluster t runs against, or nil on a single broker.
func clusterOf(t *testing.T) *target {
	if !strings.HasPrefix(t.Name(), clusterPrefix) {
		return nil
	}
	sharedCluster.Lock()
	defer sharedCluster.Unlock()
	return sharedCluster.target
}

// waitTopicEverywhere waits until every node's Metadata lists topic with its partitions and
// leaders, so a client under test finds it whichever broker it asks.
func (tg *target) waitTopicEverywhere(t *testing.T, topic string, partitions int) {
	t.Helper()
	clients := tg.nodeClients(t)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, cl := range clients {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			md, err := nodeMetadata(cl, req)
			if err != nil {
				return fmt.Errorf("node %d: Metadata: %w", i+1, err)
			}
			mt := md.Topics[0]
			if mt.ErrorCode != 0 || len(mt.Partitions) != partitions {
				return fmt.Errorf("node %d: %s: error %d, %d partitions", i+1, topic, mt.ErrorCode, len(mt.Partitions))
			}
			for _, p := range mt.Partitions {
				if p.Leader < 0 {
					return fmt.Errorf("node %d: %s-%d has no leader", i+1, topic, p.Partition)
				}
			}
		}
		return nil
	})
}

// nodeClients returns one franz-go client per node, each seeded with that node alone (requests
// through its SeedBrokers()[0] go to that node), closed when the test ends.
func (tg *target) nodeClients(t *testing.T) []*kgo.Client {
	t.Helper()
	var clients []*kgo.Client
	for _, addr := range tg.all {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		clients = append(clients, cl)
	}
	return clients
}

// nodeMetadata sends req to the node cl is seeded with (not to any broker cl knows).
func nodeMetadata(cl *kgo.Client, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// clustered reports whether tb is a cluster.
func (tg *target) clustered() bool { return tg.brokers > 1 }

// TestThreeNodeCluster runs every client suite of this package that is not itself a cluster test
// (the failover_* tests start their own subprocess clusters) against a three-node KRaft cluster
// with RF=3 topics: the clients must find partition leaders on every node through Metadata, find
// their group's coordinator with FindCoordinator, and administer topics through the forwarding to
// the controller. Where a single-node suite restarts its broker, the cluster restarts the node
// coordinating the test's group (restartGroupCoordinator), so another node serves the group from
// its replica of __consumer_offsets meanwhile.
//
// The cluster: three in-process KRaft nodes whose topics have three replicas
// (default.replication.factor=3, min.insync.replicas=2); clients are seeded with node 1 only.
func TestThreeNodeCluster(t *testing.T) {
	c := testbroker.StartCluster(t, 3, testbroker.Set("default.replication.factor", "3"),
		testbroker.Set("min.insync.replicas", "2"))
	c.WaitUnfenced(30 * time.Second)
	sharedCluster.Lock()
	sharedCluster.target = &target{addr: c.Node(0).Addr(), brokers: c.Len(), all: c.Bootstrap(), cluster: c}
	sharedCluster.Unlock()
	t.Cleanup(func() {
		sharedCluster.Lock()
		sharedCluster.target = nil
		sharedCluster.Unlock()
	})
	for _, run := range clusterSuites {
		t.Run(testName(run), run)
	}
}

// clusterSuites are the tests TestThreeNodeCluster reruns on three nodes: every test of this
// package except those in clusterOwn (TestThreeNodeClusterRunsEverySuite holds the list to that).
var clusterSuites = []func(*testing.T){
	TestSaramaSyncProducerRoundTripsEveryField,
	TestSaramaAsyncProducerKeepsPartitionOrder,
	TestSaramaClusterAdminManagesTopics,
	TestKcatListsTopicMetadata,
	TestKcatProducesAndConsumesEveryCodec,
	TestKcatKeepsPartitionOrder,
	TestKcatReadsHeadersTimestampsAndNulls,
	TestKafkajsAdminAndProducerRoundTrip,
	TestSaramaConsumerGroupResumesAfterRestart,
	TestSaramaConsumerGroupSharesPartitions,
	TestKcatBalancedConsumerResumesAfterRestart,
	TestKafkajsConsumerGroupResumesAfterRestart,
	TestGokaProcessorKeepsTotalsAcrossRestarts,
}

// clusterOwn are the tests that are cluster tests themselves, so TestThreeNodeCluster does not
// rerun them: besides every test in a failover_*_test.go file (subprocess clusters, kill -9),
// these. The reason is in each one's doc comment.
var clusterOwn = []string{
	"TestThreeNodeCluster",
	"TestThreeNodeClusterRunsEverySuite",
	"TestNodeThatLedAnIdleEpochRejoinsTheISR", // a cluster of its own that it restarts node by node
}

// testName is the name of a test function ("TestX").
func testName(f func(*testing.T)) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}

// TestThreeNodeClusterRunsEverySuite reads this package's test files and fails for a test that
// neither TestThreeNodeCluster reruns (clusterSuites) nor is a cluster test itself (clusterOwn, or
// in a failover_*_test.go file), so a new single-node suite cannot silently skip the cluster.
func TestThreeNodeClusterRunsEverySuite(t *testing.T) {
	covered := map[string]bool{}
	for _, run := range clusterSuites {
		covered[testName(run)] = true
	}
	for _, name := range clusterOwn {
		covered[name] = true
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("test files: %v %v", files, err)
	}
	found := 0
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, "Test") || len(fd.Type.Params.List) != 1 {
				continue
			}
			found++
			if !covered[fd.Name.Name] && !strings.HasPrefix(file, "failover_") {
				t.Errorf("%s (%s) does not run on three nodes: add it to clusterSuites, or to clusterOwn saying why", fd.Name.Name, file)
			}
		}
	}
	if found < len(clusterSuites) {
		t.Errorf("found %d tests in %v, fewer than the %d cluster suites", found, files, len(clusterSuites))
	}
}
