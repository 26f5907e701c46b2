package connect_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

const notStoppedMessage = "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint"

func produceN(t *testing.T, tb *testbroker.Broker, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func countRecords(t *testing.T, tb *testbroker.Broker, topic string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return n
		}
		n += fs.NumRecords()
	}
}

// offsetsContract checks GET/PATCH/DELETE /connectors/{n}/offsets (KIP-875) on a worker: writes
// are refused with Kafka's 400 until the connector is stopped, then alter and reset, and a resumed
// source connector continues from the altered offset.
func offsetsContract(t *testing.T, tb *testbroker.Broker, c restClient, prefix string) {
	src, srcTopic := prefix+"-src", prefix+"-count"
	writeRetrying(c, 201, "POST", "/connectors", `{"name":"`+src+`","config":{"connector.class":"CountSource","topic":"`+srcTopic+`","count":"5"}}`)
	stored := func(next int) string {
		return `{"offsets":[{"offset":{"next":` + fmt.Sprint(next) + `},"partition":{"source":"count"}}]}`
	}
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if mustJSON(c.expect(200, "GET", "/connectors/"+src+"/offsets", "")) != stored(5) {
			return errors.New("the source offset next=5")
		}
		return nil
	})
	for _, m := range []string{"PATCH", "DELETE"} {
		v := writeRetrying(c, 400, m, "/connectors/"+src+"/offsets", `{"offsets":[{"partition":{"source":"count"},"offset":{"next":0}}]}`)
		if got, want := field(v, "message"), fmt.Sprintf(notStoppedMessage, src); got != want {
			t.Fatalf("%s offsets of a running connector: message %q, want %q", m, got, want)
		}
	}
	writeRetrying(c, 204, "PUT", "/connectors/"+src+"/stop", "")
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		_, v := c.do("GET", "/connectors/"+src+"/status", "")
		tasks, _ := field(v, "tasks").([]any)
		if !(field(v, "connector", "state") == "STOPPED" && len(tasks) == 0) {
			return errors.New("the source connector STOPPED without tasks")
		}
		return nil
	})
	writeRetrying(c, 400, "PATCH", "/connectors/"+src+"/offsets", `{"offsets":[]}`)
	v := writeRetrying(c, 200, "PATCH", "/connectors/"+src+"/offsets", `{"offsets":[{"partition":{"source":"count"},"offset":{"next":2}}]}`)
	if msg := fmt.Sprint(field(v, "message")); msg != "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses." {
		t.Fatalf("alter message %q", msg)
	}
	if got := mustJSON(c.expect(200, "GET", "/connectors/"+src+"/offsets", "")); got != stored(2) {
		t.Fatalf("offsets after PATCH: %s, want %s", got, stored(2))
	}
	v = writeRetrying(c, 200, "DELETE", "/connectors/"+src+"/offsets", "")
	if msg := fmt.Sprint(field(v, "message")); msg != "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses." {
		t.Fatalf("reset message %q", msg)
	}
	if got := mustJSON(c.expect(200, "GET", "/connectors/"+src+"/offsets", "")); got != `{"offsets":[]}` {
		t.Fatalf("offsets after DELETE: %s, want none", got)
	}
	// Resumed from an altered offset, the task produces only what comes after it.
	writeRetrying(c, 200, "PATCH", "/connectors/"+src+"/offsets", `{"offsets":[{"partition":{"source":"count"},"offset":{"next":3}}]}`)
	writeRetrying(c, 202, "PUT", "/connectors/"+src+"/resume", "")
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if mustJSON(c.expect(200, "GET", "/connectors/"+src+"/offsets", "")) != stored(5) {
			return errors.New("the resumed source back at next=5")
		}
		return nil
	})
	if n := countRecords(t, tb, srcTopic); n != 7 {
		t.Fatalf("%s has %d records, want 5 + the 2 after the altered offset", srcTopic, n)
	}

	sink, sinkTopic := prefix+"-sink", prefix+"-in"
	produceN(t, tb, sinkTopic, 4)
	writeRetrying(c, 201, "POST", "/connectors", `{"name":"`+sink+`","config":{"connector.class":"NullSink","topics":"`+sinkTopic+`","tasks.max":"1","value.converter":"org.apache.kafka.connect.storage.StringConverter"}}`)
	committed := func(o int) string {
		return `{"offsets":[{"offset":{"kafka_offset":` + fmt.Sprint(o) + `},"partition":{"kafka_partition":0,"kafka_topic":"` + sinkTopic + `"}}]}`
	}
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if mustJSON(c.expect(200, "GET", "/connectors/"+sink+"/offsets", "")) != committed(4) {
			return errors.New("the sink committed offset 4")
		}
		return nil
	})
	v = writeRetrying(c, 400, "PATCH", "/connectors/"+sink+"/offsets", `{"offsets":[{"partition":{"kafka_topic":"`+sinkTopic+`","kafka_partition":0},"offset":{"kafka_offset":1}}]}`)
	if got, want := field(v, "message"), fmt.Sprintf(notStoppedMessage, sink); got != want {
		t.Fatalf("PATCH offsets of a running sink: message %q, want %q", got, want)
	}
	writeRetrying(c, 204, "PUT", "/connectors/"+sink+"/stop", "")
	v = writeRetrying(c, 400, "PATCH", "/connectors/"+sink+"/offsets", `{"offsets":[{"partition":{"kafka_topic":"`+sinkTopic+`"},"offset":{"kafka_offset":1}}]}`)
	if msg := fmt.Sprint(field(v, "message")); msg != `offsets[0]: a sink partition needs a non-negative integer "kafka_partition"` {
		t.Fatalf("bad sink partition: message %q", msg)
	}
	// The stopped sink's consumer may take a moment to leave its group; Kafka answers 500 meanwhile.
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		code, _ := c.do("PATCH", "/connectors/"+sink+"/offsets", `{"offsets":[{"partition":{"kafka_topic":"`+sinkTopic+`","kafka_partition":0},"offset":{"kafka_offset":1}}]}`)
		if code != 200 {
			return errors.New("a PATCH of the stopped sink's offset")
		}
		return nil
	})
	if got := mustJSON(c.expect(200, "GET", "/connectors/"+sink+"/offsets", "")); got != committed(1) {
		t.Fatalf("sink offsets after PATCH: %s, want %s", got, committed(1))
	}
	writeRetrying(c, 200, "PATCH", "/connectors/"+sink+"/offsets", `{"offsets":[{"partition":{"kafka_topic":"`+sinkTopic+`","kafka_partition":0},"offset":null}]}`)
	if got := mustJSON(c.expect(200, "GET", "/connectors/"+sink+"/offsets", "")); got != `{"offsets":[]}` {
		t.Fatalf("sink offsets after a null offset: %s, want none", got)
	}
	writeRetrying(c, 200, "PATCH", "/connectors/"+sink+"/offsets", `{"offsets":[{"partition":{"kafka_topic":"`+sinkTopic+`","kafka_partition":0},"offset":{"kafka_offset":3}}]}`)
	writeRetrying(c, 200, "DELETE", "/connectors/"+sink+"/offsets", "")
	if got := mustJSON(c.expect(200, "GET", "/connectors/"+sink+"/offsets", "")); got != `{"offsets":[]}` {
		t.Fatalf("sink offsets after DELETE: %s, want none", got)
	}
	writeRetrying(c, 404, "DELETE", "/connectors/nope/offsets", "")
}

func TestStandaloneOffsetsCanBeAlteredAndResetOnlyWhenStopped(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, testRegistry(t), "")
	offsetsContract(t, tb, restClient{t: t, base: "http://" + w.Addr}, "sa")
}

func TestDistributedOffsetsCanBeAlteredAndResetOnlyWhenStopped(t *testing.T) {
	tb := startDistBroker(t)
	reg := testRegistry(t)
	a := startDistWorker(t, tb, reg, "offsets-cluster")
	b := startDistWorker(t, tb, reg, "offsets-cluster")
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		if !(a.Herder.Joined() && b.Herder.Joined()) {
			return errors.New("both workers in the group")
		}
		return nil
	})
	// Through the follower: every write is forwarded to the leader.
	follower := b
	if b.Herder.IsLeader() {
		follower = a
	}
	offsetsContract(t, tb, restOf(t, follower), "dist")
}
