package broker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// sendTo sends req to one node (not to the node franz-go would pick) and fails the test on a
// transport error.
func sendTo(ctx context.Context, t *testing.T, b *broker.Broker, req kmsg.Request) kmsg.Response {
	t.Helper()
	cl := newClient(t, b.Addr())
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("%s to %s: %v", kmsg.NameForKey(req.Key()), b.Addr(), err)
	}
	return resp
}

// metadataOf asks node b for topic's metadata.
func metadataOf(ctx context.Context, t *testing.T, b *broker.Broker, topic string) kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp := sendTo(ctx, t, b, req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("Metadata answered %d topics for one", len(resp.Topics))
	}
	return resp.Topics[0]
}

// TestKRaftCreateTopicsIsForwardedToTheController: CreateTopics sent to a node that is not the
// active controller goes to the controller, and its answer comes only once the node itself applied
// the topic: the node's very next Metadata lists every partition with three replicas. An explicit
// replica_assignment is kept as given, replication factor -1 takes default.replication.factor, a
// factor larger than the unfenced brokers is INVALID_REPLICATION_FACTOR, a bad config value
// INVALID_CONFIG, validateOnly creates nothing, and the v5+ answer carries the topic's configs
// with their sources.
func TestKRaftCreateTopicsIsForwardedToTheController(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "default.replication.factor=2")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The request goes to a node that is not the active controller, so it must be forwarded.
	st, _ := nodes[0].LifecycleState()
	node := nodes[0]
	if st.Controller == 1 {
		node = nodes[1]
	}

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 20000
	add := func(name string, partitions int32, rf int16, assignment [][]int32, configs ...string) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		for i, replicas := range assignment {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(i), replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		for i := 0; i+1 < len(configs); i += 2 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	add("rf3", 3, 3, nil, "retention.ms", "60000")
	add("manual", -1, -1, [][]int32{{1, 2}, {3, 1}})
	add("defaults", 2, -1, nil)
	add("too-many", 1, 4, nil)
	add("bad-config", 1, 1, nil, "retention.ms", "soon")
	resp := sendTo(ctx, t, node, req).(*kmsg.CreateTopicsResponse)
	codes := map[string]int16{}
	for _, st := range resp.Topics {
		codes[st.Topic] = st.ErrorCode
		if st.Topic == "rf3" {
			if st.NumPartitions != 3 || st.ReplicationFactor != 3 || st.TopicID == [16]byte{} {
				t.Errorf("rf3 answered %d partitions, RF %d, ID %x", st.NumPartitions, st.ReplicationFactor, st.TopicID)
			}
			src := map[string]int8{}
			for _, c := range st.Configs {
				src[c.Name] = c.Source
			}
			if src["retention.ms"] != 1 || src["cleanup.policy"] != 5 {
				t.Errorf("rf3 config sources: retention.ms %d (want 1), cleanup.policy %d (want 5) of %d configs",
					src["retention.ms"], src["cleanup.policy"], len(st.Configs))
			}
		}
	}
	want := map[string]int16{"rf3": 0, "manual": 0, "defaults": 0, "too-many": kerr.InvalidReplicationFactor.Code,
		"bad-config": kerr.InvalidConfig.Code}
	for name, code := range want {
		if codes[name] != code {
			t.Errorf("CreateTopics %s: %v, want %v", name, kerr.ErrorForCode(codes[name]), kerr.ErrorForCode(code))
		}
	}
	// No polling: the node answered after applying the topics.
	mt := metadataOf(ctx, t, node, "rf3")
	if mt.ErrorCode != 0 || len(mt.Partitions) != 3 {
		t.Fatalf("Metadata right after CreateTopics: %v, %d partitions", kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
	}
	for _, p := range mt.Partitions {
		if len(p.Replicas) != 3 || p.Leader < 0 {
			t.Errorf("rf3-%d: replicas %v leader %d", p.Partition, p.Replicas, p.Leader)
		}
	}
	mt = metadataOf(ctx, t, node, "manual")
	if len(mt.Partitions) != 2 || !slices.Equal(mt.Partitions[0].Replicas, []int32{1, 2}) || !slices.Equal(mt.Partitions[1].Replicas, []int32{3, 1}) {
		t.Errorf("manual: %+v", mt.Partitions)
	}
	mt = metadataOf(ctx, t, node, "defaults")
	if len(mt.Partitions) != 2 || len(mt.Partitions[0].Replicas) != 2 {
		t.Errorf("defaults (default.replication.factor=2): %+v", mt.Partitions)
	}
	// validateOnly checks against the cluster and creates nothing.
	vo := kmsg.NewPtrCreateTopicsRequest()
	vo.ValidateOnly, vo.TimeoutMillis = true, 10000
	vt := kmsg.NewCreateTopicsRequestTopic()
	vt.Topic, vt.NumPartitions, vt.ReplicationFactor = "checked", 4, 3
	vo.Topics = append(vo.Topics, vt)
	vt.Topic = "rf3"
	vo.Topics = append(vo.Topics, vt)
	vr := sendTo(ctx, t, node, vo).(*kmsg.CreateTopicsResponse)
	if vr.Topics[0].ErrorCode != 0 || vr.Topics[0].NumPartitions != 4 || vr.Topics[1].ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Errorf("validateOnly: %+v", vr.Topics)
	}
	if mt := metadataOf(ctx, t, node, "checked"); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("validateOnly created the topic: %v", kerr.ErrorForCode(mt.ErrorCode))
	}
	// Every node learns the topics; none keeps a single-node copy.
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for i, b := range nodes {
			if mt := metadataOf(ctx, t, b, "rf3"); len(mt.Partitions) != 3 || len(mt.Partitions[0].Replicas) != 3 {
				return fmt.Errorf("node %d: rf3 %+v", i+1, mt.Partitions)
			}
		}
		return nil
	})
}

// TestKRaftDeleteTopicsAndCreatePartitionsAreForwarded: CreatePartitions and DeleteTopics (by name
// at v5 and by ID at v6) sent to one node go through the controller; the node answers once it
// applied them (its next Metadata shows the new count, then the topic gone), and its replicas of a
// deleted topic are deleted. An internal topic is refused.
func TestKRaftDeleteTopicsAndCreatePartitionsAreForwarded(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := nodes[2]
	createThroughController(ctx, t, node, "by-name", 1, 3)
	createThroughController(ctx, t, node, "by-id", 1, 2)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 20000
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "by-name", 4
	cp.Topics = append(cp.Topics, cpt)
	cpt.Topic, cpt.Count = "missing", 4
	cp.Topics = append(cp.Topics, cpt)
	cpr := sendTo(ctx, t, node, cp).(*kmsg.CreatePartitionsResponse)
	if cpr.Topics[0].ErrorCode != 0 || cpr.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("CreatePartitions: %+v", cpr.Topics)
	}
	if mt := metadataOf(ctx, t, node, "by-name"); len(mt.Partitions) != 4 {
		t.Fatalf("Metadata right after CreatePartitions: %d partitions, want 4", len(mt.Partitions))
	}

	// Wait until every node hosts its replicas, so the deletion has files to remove.
	var dirs []string
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		dirs = dirs[:0]
		for i, b := range nodes {
			if _, ok := broker.HostedReplica(b, "by-name", 0); !ok {
				return fmt.Errorf("node %d does not host by-name-0 yet", i+1)
			}
			dirs = append(dirs, broker.PartitionDir(b, "by-name", 0))
		}
		return nil
	})
	id := nodes[0].MetadataImage().Topic("by-id").ID

	v5 := kmsg.NewPtrDeleteTopicsRequest()
	v5.TimeoutMillis = 20000
	v5.TopicNames = []string{"by-name", "__consumer_offsets", "missing"}
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(v5.Key(), 5)
	v5cl := newClient(t, node.Addr(), kgo.MaxVersions(versions))
	raw, err := v5cl.SeedBrokers()[0].Request(ctx, v5)
	if err != nil {
		t.Fatal(err)
	}
	dr := raw.(*kmsg.DeleteTopicsResponse)
	got := map[string]int16{}
	for _, st := range dr.Topics {
		got[*st.Topic] = st.ErrorCode
	}
	if got["by-name"] != 0 || got["__consumer_offsets"] != kerr.InvalidRequest.Code || got["missing"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DeleteTopics v5: %v", got)
	}
	if mt := metadataOf(ctx, t, node, "by-name"); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("Metadata right after DeleteTopics: %v", kerr.ErrorForCode(mt.ErrorCode))
	}

	v6 := kmsg.NewPtrDeleteTopicsRequest()
	v6.TimeoutMillis = 20000
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.TopicID = id
	v6.Topics = append(v6.Topics, dt)
	dr = sendTo(ctx, t, node, v6).(*kmsg.DeleteTopicsResponse)
	if len(dr.Topics) != 1 || dr.Topics[0].ErrorCode != 0 || dr.Topics[0].Topic == nil || *dr.Topics[0].Topic != "by-id" {
		t.Fatalf("DeleteTopics by ID: %+v", dr.Topics)
	}
	if node.MetadataImage().Topic("by-id") != nil {
		t.Fatal("by-id still in the node's image after DeleteTopics answered")
	}
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				return fmt.Errorf("%s still exists", d)
			}
		}
		return nil
	})
}

// TestKRaftTopicConfigChangesReachOpenPartitions: IncrementalAlterConfigs and AlterConfigs on a
// topic go through the controller; once answered, DescribeConfigs on the node shows the new value,
// and every replica's open log enforces it: after max.message.bytes drops to 1000, a 4 KB record is
// refused MESSAGE_TOO_LARGE by the partition leader, and after min.insync.replicas rises above the
// ISR an acks=all produce is refused NOT_ENOUGH_REPLICAS.
func TestKRaftTopicConfigChangesReachOpenPartitions(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := nodes[1]
	createThroughController(ctx, t, node, "cfg", 1, 3)
	cl := newClient(t, node.Addr(), kgo.DefaultProduceTopic("cfg"), kgo.RecordRetries(3))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: randomBytes(4096)}).FirstErr(); err != nil {
		t.Fatalf("4 KB record before the change: %v", err)
	}

	iac := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	for _, kv := range [][2]string{{"max.message.bytes", "1000"}, {"retention.ms", "123456"}} {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = kv[0], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[1])
		res.Configs = append(res.Configs, c)
	}
	iac.Resources = append(iac.Resources, res)
	brokerRes := kmsg.NewIncrementalAlterConfigsRequestResource()
	brokerRes.ResourceType, brokerRes.ResourceName = kmsg.ConfigResourceTypeBroker, "2"
	iac.Resources = append(iac.Resources, brokerRes)
	ir := sendTo(ctx, t, node, iac).(*kmsg.IncrementalAlterConfigsResponse)
	if len(ir.Resources) != 2 || ir.Resources[0].ErrorCode != 0 || ir.Resources[1].ResourceType != kmsg.ConfigResourceTypeBroker {
		t.Fatalf("IncrementalAlterConfigs: %+v", ir.Resources)
	}
	if v := describedConfig(ctx, t, node, "cfg", "retention.ms"); v != "123456" {
		t.Fatalf("DescribeConfigs right after the change: retention.ms %q", v)
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		err := cl.ProduceSync(ctx, &kgo.Record{Value: randomBytes(4096)}).FirstErr()
		if err == nil || !strings.Contains(err.Error(), kerr.MessageTooLarge.Message) {
			return fmt.Errorf("4 KB record after max.message.bytes=1000: %v", err)
		}
		return nil
	})

	// min.insync.replicas above the ISR: the leader's replica state refuses acks=all.
	mi := kmsg.NewPtrIncrementalAlterConfigsRequest()
	mres := kmsg.NewIncrementalAlterConfigsRequestResource()
	mres.ResourceType, mres.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	mc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	mc.Name, mc.Op, mc.Value = "min.insync.replicas", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("4")
	mres.Configs = append(mres.Configs, mc)
	mi.Resources = append(mi.Resources, mres)
	if r := sendTo(ctx, t, node, mi).(*kmsg.IncrementalAlterConfigsResponse); r.Resources[0].ErrorCode != 0 {
		t.Fatalf("min.insync.replicas=4: %v", kerr.ErrorForCode(r.Resources[0].ErrorCode))
	}
	// NB: not idempotent and retried once, so the refusal comes back at once.
	strict := newClient(t, node.Addr(), kgo.DefaultProduceTopic("cfg"), kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		err := strict.ProduceSync(ctx, &kgo.Record{Value: []byte("small")}).FirstErr()
		if err == nil || !strings.Contains(err.Error(), kerr.NotEnoughReplicas.Message) {
			return fmt.Errorf("acks=all with min.insync.replicas=4 and 3 in sync: %v", err)
		}
		return nil
	})

	ac := kmsg.NewPtrAlterConfigsRequest()
	ares := kmsg.NewAlterConfigsRequestResource()
	ares.ResourceType, ares.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	acfg := kmsg.NewAlterConfigsRequestResourceConfig()
	acfg.Name, acfg.Value = "cleanup.policy", kmsg.StringPtr("compact")
	ares.Configs = append(ares.Configs, acfg)
	ac.Resources = append(ac.Resources, ares)
	ar := sendTo(ctx, t, node, ac).(*kmsg.AlterConfigsResponse)
	if ar.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %v", kerr.ErrorForCode(ar.Resources[0].ErrorCode))
	}
	for i, b := range nodes {
		if i == 1 {
			if v := describedConfig(ctx, t, b, "cfg", "retention.ms"); v != "604800000" {
				t.Errorf("AlterConfigs kept retention.ms=%q; it replaces the whole set", v)
			}
		}
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if v := describedConfig(ctx, t, b, "cfg", "cleanup.policy"); v != "compact" {
				return fmt.Errorf("node %d: cleanup.policy %q", i+1, v)
			}
			return nil
		})
	}
}

// describedConfig is one topic config as node b's DescribeConfigs tells it.
func describedConfig(ctx context.Context, t *testing.T, b *broker.Broker, topic, name string) string {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{name}
	req.Resources = append(req.Resources, r)
	resp := sendTo(ctx, t, b, req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 || len(resp.Resources[0].Configs) != 1 {
		t.Fatalf("DescribeConfigs %s: %+v", topic, resp.Resources)
	}
	return *resp.Resources[0].Configs[0].Value
}

// TestKRaftAutoCreateGoesThroughTheController: with auto.create.topics.enable, a producer writing to
// an unknown topic gets it created by the controller with num.partitions and
// default.replication.factor, and its records land on every replica.
func TestKRaftAutoCreateGoesThroughTheController(t *testing.T) {
	nodes := startKRaftCluster(t, 3, "auto.create.topics.enable=true", "num.partitions=2", "default.replication.factor=3")
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newClient(t, nodes[2].Addr(), kgo.DefaultProduceTopic("auto"), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce to an auto-created topic: %v", err)
	}
	it := nodes[0].MetadataImage().Topic("auto")
	if it == nil {
		t.Fatal("the auto-created topic is not in the image")
	}
	if it.NumPartitions() != 2 || len(it.Partition(0).Replicas) != 3 {
		t.Fatalf("auto: %d partitions, replicas %v; want 2 partitions of 3 replicas", it.NumPartitions(), it.Partition(0).Replicas)
	}
}

// TestKRaftProducerIDsAreUniqueAcrossBrokers: InitProducerId on two brokers at once, past the first
// block of 1000 on each, never hands out the same producer ID twice: each broker draws its IDs from
// blocks the controller allocated to it alone (AllocateProducerIds).
func TestKRaftProducerIDsAreUniqueAcrossBrokers(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const perBroker, workers = 1200, 4
	var mu sync.Mutex
	owner := map[int64]int{}
	var dups []string
	var wg sync.WaitGroup
	for i, b := range nodes[:2] {
		cl := newClient(t, b.Addr())
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perBroker / workers {
					resp, err := cl.SeedBrokers()[0].Request(ctx, kmsg.NewPtrInitProducerIDRequest())
					if err != nil {
						t.Errorf("node %d worker %d: %v", i+1, w, err)
						return
					}
					r := resp.(*kmsg.InitProducerIDResponse)
					if r.ErrorCode != 0 {
						t.Errorf("node %d: InitProducerId %v", i+1, kerr.ErrorForCode(r.ErrorCode))
						return
					}
					mu.Lock()
					if prev, ok := owner[r.ProducerID]; ok {
						dups = append(dups, fmt.Sprintf("%d (nodes %d and %d)", r.ProducerID, prev+1, i+1))
					}
					owner[r.ProducerID] = i
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(dups) > 0 {
		t.Fatalf("%d producer IDs handed out twice, e.g. %v", len(dups), dups[:min(len(dups), 5)])
	}
	if len(owner) != 2*perBroker {
		t.Fatalf("%d distinct producer IDs, want %d", len(owner), 2*perBroker)
	}
}

// randomBytes returns n random (incompressible) bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestKRaftForwardingFollowsTheNewActiveController: after the active controller's node stops, a
// CreateTopics sent to another node still succeeds within its timeout: the node's controller client
// finds the newly elected controller (NOT_CONTROLLER and unreachable voters are retried) and the
// node answers once it applied the topic.
func TestKRaftForwardingFollowsTheNewActiveController(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createThroughController(ctx, t, nodes[0], "before", 1, 3) // the clients now know the active controller
	st, _ := nodes[0].LifecycleState()
	if st.Controller < 1 || int(st.Controller) > len(nodes) {
		t.Fatalf("no active controller known: %+v", st)
	}
	old := nodes[st.Controller-1]
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	node := nodes[st.Controller%3] // another node
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "after", 2, 2
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	resp := sendTo(ctx, t, node, req).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		var brokers []string
		for _, br := range node.MetadataImage().Brokers() {
			brokers = append(brokers, fmt.Sprintf("%d fenced=%v shutdown=%v", br.ID, br.Fenced, br.InControlledShutdown))
		}
		t.Fatalf("CreateTopics after the controller stopped: %v (%v); image at %d: %v", kerr.ErrorForCode(code),
			*resp.Topics[0].ErrorMessage, node.MetadataImage().Offset(), brokers)
	}
	t.Logf("created through the new controller in %v", time.Since(start).Round(time.Millisecond))
	if mt := metadataOf(ctx, t, node, "after"); mt.ErrorCode != 0 || len(mt.Partitions) != 2 {
		t.Fatalf("Metadata after: %v, %d partitions", kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
	}
}

// TestKRaftBrokerOnlyNodeForwardsAdminRequests: a broker-only node (process.roles=broker, no local
// controller) forwards CreateTopics over the network to the active controller and answers once its
// own image (fetched from the quorum as an observer) holds the topic; its producer IDs come from its
// own controller-allocated block, apart from a combined node's.
func TestKRaftBrokerOnlyNodeForwardsAdminRequests(t *testing.T) {
	c := testbroker.StartCluster(t, 3)
	only := c.AddBroker()
	c.WaitUnfenced(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 20000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "four", 4, 4
	req.Topics = append(req.Topics, rt)
	resp := sendTo(ctx, t, only.Broker(), req).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("CreateTopics on the broker-only node: %v", kerr.ErrorForCode(code))
	}
	mt := metadataOf(ctx, t, only.Broker(), "four")
	if mt.ErrorCode != 0 || len(mt.Partitions) != 4 || len(mt.Partitions[0].Replicas) != 4 {
		t.Fatalf("Metadata on the broker-only node right after: %v, %+v", kerr.ErrorForCode(mt.ErrorCode), mt.Partitions)
	}
	ids := map[int64]string{}
	for i, b := range []*broker.Broker{only.Broker(), c.Node(0).Broker()} {
		for range 3 {
			r := sendTo(ctx, t, b, kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
			if r.ErrorCode != 0 {
				t.Fatalf("InitProducerId on node %d: %v", i, kerr.ErrorForCode(r.ErrorCode))
			}
			if prev, dup := ids[r.ProducerID]; dup {
				t.Fatalf("producer ID %d handed out by %s and node %d", r.ProducerID, prev, i)
			}
			ids[r.ProducerID] = fmt.Sprint("node ", i)
		}
	}
}

// TestKRaftControllerFailoverFencesNoLiveBroker: when the active controller's node stops, the
// surviving brokers reach the newly elected controller well within broker.session.timeout.ms (1.5 s
// here), so it fences neither of them: their lifecycle managers retry at most every heartbeat
// interval while the controllers elect. (With a 2 s retry backoff, every broker was fenced on a
// controller failover and all partitions went offline until they heartbeated again.)
func TestKRaftControllerFailoverFencesNoLiveBroker(t *testing.T) {
	nodes := startKRaftCluster(t, 3)
	waitUnfenced(t, nodes)
	st, _ := nodes[0].LifecycleState()
	if st.Controller < 1 || int(st.Controller) > len(nodes) {
		t.Fatalf("no active controller known: %+v", st)
	}
	if err := nodes[st.Controller-1].Close(); err != nil {
		t.Fatal(err)
	}
	var live []*broker.Broker
	for i, b := range nodes {
		if int32(i+1) != st.Controller {
			live = append(live, b)
		}
	}
	// NB: a bounded watch of an invariant, not a wait: every 10 ms for 5 s, no live broker may be
	// fenced in any live node's image; by the end a new controller must have taken over.
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; n < 1000 && time.Now().Before(deadline); n++ {
		<-tick.C
		for _, b := range live {
			img := b.MetadataImage()
			for _, other := range live {
				id := int32(slices.Index(nodes, other) + 1)
				if br := img.Broker(id); br == nil || br.Fenced {
					t.Fatalf("node %d's image at offset %d shows live broker %d fenced after the controller failover",
						slices.Index(nodes, b)+1, img.Offset(), id)
				}
			}
		}
	}
	for _, b := range live {
		if st2, _ := b.LifecycleState(); st2.Controller == st.Controller || st2.Fenced {
			t.Errorf("after the failover a live broker still sees controller %d (was %d), fenced %v", st2.Controller, st.Controller, st2.Fenced)
		}
	}
}
