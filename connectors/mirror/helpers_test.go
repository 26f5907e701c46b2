package mirror_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/mirror"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testconnect"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const waitLong = 60 * time.Second

// flowConfig is the connector config of flow source->target.
func flowConfig(sourceAlias string, source *testbroker.Broker, targetAlias string, target *testbroker.Broker, extra map[string]string) map[string]string {
	cfg := map[string]string{
		"source.cluster.alias":                sourceAlias,
		"target.cluster.alias":                targetAlias,
		"source.cluster.bootstrap.servers":    source.Addr(),
		"target.cluster.bootstrap.servers":    target.Addr(),
		"refresh.topics.interval.seconds":     "0.5",
		"emit.checkpoints.interval.seconds":   "0.5",
		"sync.group.offsets.interval.seconds": "0.5",
		"emit.heartbeats.interval.seconds":    "0.5",
		"key.converter":                       "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter":                     "org.apache.kafka.connect.converters.ByteArrayConverter",
		"tasks.max":                           "2",
	}
	maps.Copy(cfg, extra)
	return cfg
}

// startMirror starts a worker on target running connector class with cfg.
func startMirror(t testing.TB, target *testbroker.Broker, offsetsFile string, connectors map[string]map[string]string) *connect.Runner {
	t.Helper()
	r := testconnect.StartStandalone(t, target.Addr(), nil, offsetsFile, nil)
	for name, cfg := range connectors {
		cfg = maps.Clone(cfg)
		cfg["name"] = name
		if _, _, err := r.Herder.PutConnectorConfig(name, cfg, false, connect.TargetStarted); err != nil {
			t.Fatalf("PutConnectorConfig %s: %v", name, err)
		}
	}
	return r
}

func client(t testing.TB, b *testbroker.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, b *testbroker.Broker, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(client(t, b)).CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// produce writes records synchronously (partition as set on each record).
func produce(t testing.TB, b *testbroker.Broker, records []*kgo.Record) {
	t.Helper()
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// testRecords are n records of topic spread over partitions, each with a key, value, header and
// a distinct timestamp in the past.
func testRecords(topic string, partitions int32, n, from int) []*kgo.Record {
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]*kgo.Record, n)
	for i := range n {
		id := from + i
		out[i] = &kgo.Record{
			Topic: topic, Partition: int32(id) % partitions,
			Key:       fmt.Appendf(nil, "key-%d", id),
			Value:     fmt.Appendf(nil, "value-%d", id),
			Headers:   []kgo.RecordHeader{{Key: "id", Value: fmt.Appendf(nil, "%d", id)}, {Key: "empty"}},
			Timestamp: base.Add(time.Duration(id) * time.Millisecond),
		}
		if id%17 == 0 {
			out[i].Key = nil // null keys survive too
		}
	}
	return out
}

// readAll reads topic from the start until it has want records (failing after waitLong), and
// returns them.
func readAll(t testing.TB, b *testbroker.Broker, topic string, want int) []*kgo.Record {
	t.Helper()
	cl := client(t, b, kgo.ConsumeTopics(topic), kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(500*time.Millisecond))
	var got []*kgo.Record
	testutil.CheckFor(t, waitLong, 10*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
		if len(got) < want {
			return fmt.Errorf("%s: %d of %d records", topic, len(got), want)
		}
		return nil
	})
	return got
}

// partitionCount is topic's partition count on b, or an error.
func partitionCount(b *testbroker.Broker, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil {
		return 0, fmt.Errorf("%s: not on the cluster (%v)", topic, td.Err)
	}
	return len(td.Partitions), nil
}
