package connect_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/file"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceMixed creates topic (one partition) and writes n records: even offsets are valid JSON
// strings "ok-<i>", odd ones are garbage "bad-<i> {" with key k-<i> and a header orig=<i>.
func produceMixed(t *testing.T, tb *testbroker.Broker, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	var recs []*kgo.Record
	for i := range n {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k-%d", i)), Value: []byte(fmt.Sprintf("%q", fmt.Sprintf("ok-%d", i)))}
		if i%2 == 1 {
			r.Value = []byte(fmt.Sprintf("bad-%d {", i))
			r.Headers = []kgo.RecordHeader{{Key: "orig", Value: []byte(fmt.Sprint(i))}}
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

const schemalessJSON = `"value.converter":"org.apache.kafka.connect.json.JsonConverter","value.converter.schemas.enable":"false",` +
	`"key.converter":"org.apache.kafka.connect.storage.StringConverter"`

func TestSinkToleratesBadRecordsAndWritesThemToTheDLQ(t *testing.T) {
	tb := testbroker.Start(t)
	const n = 20
	produceMixed(t, tb, "mixed", n)
	w := startWorker(t, tb, nil, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	dst := filepath.Join(t.TempDir(), "out.txt")
	c.expect(201, "POST", "/connectors", fmt.Sprintf(`{"name":"tolerant","config":{"connector.class":"FileStreamSink","file":%q,"topics":"mixed",%s,
		"errors.tolerance":"all","errors.log.enable":"true","errors.log.include.messages":"true",
		"errors.deadletterqueue.topic.name":"mixed-dlq","errors.deadletterqueue.topic.replication.factor":"1",
		"errors.deadletterqueue.context.headers.enable":"true"}}`, dst, schemalessJSON))

	var want strings.Builder
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(&want, "ok-%d\n", i)
	}
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		out, _ := os.ReadFile(dst)
		if string(out) != want.String() {
			return errors.New("sink file with the valid records")
		}
		return nil
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics("mixed-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(got) < n/2 && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	if len(got) != n/2 {
		t.Fatalf("DLQ has %d records, want %d", len(got), n/2)
	}
	for j, r := range got {
		i := 2*j + 1
		if string(r.Key) != fmt.Sprintf("k-%d", i) || string(r.Value) != fmt.Sprintf("bad-%d {", i) {
			t.Fatalf("DLQ record %d = %q/%q", j, r.Key, r.Value)
		}
		h := map[string]string{}
		var order []string
		for _, hd := range r.Headers {
			h[hd.Key] = string(hd.Value)
			order = append(order, hd.Key)
		}
		if order[0] != "orig" || h["orig"] != fmt.Sprint(i) {
			t.Fatalf("original header not kept first: %v", order)
		}
		for k, v := range map[string]string{
			connect.HeaderErrorsTopic:          "mixed",
			connect.HeaderErrorsPartition:      "0",
			connect.HeaderErrorsOffset:         fmt.Sprint(i),
			connect.HeaderErrorsConnectorName:  "tolerant",
			connect.HeaderErrorsTaskID:         "0",
			connect.HeaderErrorsStage:          "VALUE_CONVERTER",
			connect.HeaderErrorsClassName:      "org.apache.kafka.connect.json.JsonConverter",
			connect.HeaderErrorsExceptionClass: "org.apache.kafka.connect.errors.DataException",
		} {
			if h[k] != v {
				t.Fatalf("DLQ record %d header %s = %q, want %q (all: %v)", j, k, h[k], v, h)
			}
		}
		if m := h[connect.HeaderErrorsExceptionMessage]; !strings.Contains(m, "Converting byte[] to Kafka Connect data failed") &&
			!strings.Contains(m, "converting byte[] to Kafka Connect data failed") {
			t.Fatalf("exception message = %q", m)
		}
		if h[connect.HeaderErrorsExceptionTrace] == "" {
			t.Fatalf("no stacktrace header: %v", h)
		}
	}
	// The task stays up, and commits past the bad records.
	waitState(t, c, "tolerant", "RUNNING", "RUNNING")
	adm := kadm.NewClient(cl)
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		offs, err := adm.FetchOffsets(context.Background(), "connect-tolerant")
		o, ok := offs.Lookup("mixed", 0)
		if !(err == nil && ok && o.At == n) {
			return errors.New("committed offsets at the end")
		}
		return nil
	})
}

func TestSinkWithoutToleranceFailsOnTheFirstBadRecord(t *testing.T) {
	tb := testbroker.Start(t)
	produceMixed(t, tb, "mixed", 4)
	w := startWorker(t, tb, nil, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	dst := filepath.Join(t.TempDir(), "out.txt")
	c.expect(201, "POST", "/connectors", fmt.Sprintf(`{"name":"strict","config":{"connector.class":"FileStreamSink","file":%q,"topics":"mixed",%s}}`, dst, schemalessJSON))
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		_, tasks := statusOf(c, "strict")
		if !(len(tasks) == 1 && tasks[0] == "FAILED") {
			return errors.New("task FAILED")
		}
		return nil
	})
	ts := c.expect(200, "GET", "/connectors/strict/tasks/0/status", "")
	tr, _ := field(ts, "trace").(string)
	for _, want := range []string{"tolerance exceeded", "VALUE_CONVERTER", "mixed-0@1", "failed"} {
		if !strings.Contains(tr, want) {
			t.Fatalf("trace %q lacks %q", tr, want)
		}
	}
	if out, _ := os.ReadFile(dst); len(out) != 0 {
		// NB: the first record is valid, but the batch failed before Put.
		t.Fatalf("sink wrote %q", out)
	}
}

func TestErrorsConfigValidation(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, nil, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	sink := `"connector.class":"FileStreamSink","file":"/dev/null","topics":"in"`
	source := `"connector.class":"FileStreamSource","file":"/dev/null","topic":"out"`
	cases := []struct{ name, config, want string }{
		{"tolerance", sink + `,"errors.tolerance":"some"`, "errors.tolerance"},
		{"retry timeout below -1", sink + `,"errors.retry.timeout":"-2"`, "errors.retry.timeout"},
		{"retry timeout not a number", sink + `,"errors.retry.timeout":"soon"`, "errors.retry.timeout"},
		{"retry delay", sink + `,"errors.retry.delay.max.ms":"-1"`, "errors.retry.delay.max.ms"},
		{"log enable", sink + `,"errors.log.enable":"maybe"`, "errors.log.enable"},
		{"log include messages", sink + `,"errors.log.include.messages":"yes"`, "errors.log.include.messages"},
		{"dlq replication factor", sink + `,"errors.deadletterqueue.topic.name":"dlq","errors.deadletterqueue.topic.replication.factor":"0"`, "errors.deadletterqueue.topic.replication.factor"},
		{"dlq context headers", sink + `,"errors.deadletterqueue.topic.name":"dlq","errors.deadletterqueue.context.headers.enable":"on"`, "errors.deadletterqueue.context.headers.enable"},
		{"dlq is a consumed topic", sink + `,"errors.deadletterqueue.topic.name":"in"`, "errors.deadletterqueue.topic.name"},
		{"dlq matches topics.regex", `"connector.class":"FileStreamSink","file":"/dev/null","topics.regex":"in.*","errors.deadletterqueue.topic.name":"in-dlq"`, "errors.deadletterqueue.topic.name"},
		{"dlq on a source", source + `,"errors.deadletterqueue.topic.name":"dlq"`, "errors.deadletterqueue.topic.name"},
		{"source tolerance", source + `,"errors.tolerance":"most"`, "errors.tolerance"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := c.do("POST", "/connectors", fmt.Sprintf(`{"name":"a","config":{%s}}`, tc.config))
			if code != 400 || !strings.Contains(mustJSON(body), tc.want) {
				t.Fatalf("POST = %d %v; want 400 naming %s", code, body, tc.want)
			}
		})
	}
	// The validate endpoint lists the keys in the Error Handling group.
	v := c.expect(200, "PUT", "/connector-plugins/FileStreamSink/config/validate", `{"name":"a",`+sink+`,"errors.tolerance":"all"}`)
	if field(v, "error_count") != float64(0) || !strings.Contains(mustJSON(field(v, "groups")), "Error Handling") {
		t.Fatalf("validate = %v", v)
	}
	c.expect(201, "POST", "/connectors", `{"name":"ok","config":{`+sink+`,"errors.tolerance":"all","errors.retry.timeout":"-1","errors.deadletterqueue.topic.name":"dlq","errors.deadletterqueue.topic.replication.factor":"1"}}`)
	c.expect(201, "POST", "/connectors", `{"name":"ok-src","config":{`+source+`,"errors.tolerance":"all","errors.log.enable":"true"}}`)
	if got := c.expect(200, "GET", "/connectors", ""); len(got.([]any)) != 2 {
		t.Fatalf("connectors = %v", got)
	}
}

// retrySink's task fails its first putFailures Puts with a RetriableError, then counts records.
type retrySink struct{ nullSink }

var (
	putFailures atomic.Int64
	putRecords  atomic.Int64
)

func (retrySink) NewTask() connect.SinkTask { return retrySinkTask{} }

type retrySinkTask struct{ nullSinkTask }

func (retrySinkTask) Put(r []connect.SinkRecord) error {
	if len(r) > 0 && putFailures.Add(-1) >= 0 {
		return &connect.RetriableError{Err: errors.New("downstream busy")}
	}
	putRecords.Add(int64(len(r)))
	return nil
}

func TestRetriablePutIsRetriedWithinTheRetryTimeout(t *testing.T) {
	tb := testbroker.Start(t)
	reg := testRegistry(t)
	if err := reg.Register(connect.Plugin{Class: "com.example.RetrySinkConnector", Type: connect.PluginSink, Version: "1.0", New: func() connect.Connector { return retrySink{} }}); err != nil {
		t.Fatal(err)
	}
	produceMixed(t, tb, "in", 2)
	w := startWorker(t, tb, reg, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	putFailures.Store(3)
	c.expect(201, "POST", "/connectors", `{"name":"retry","config":{"connector.class":"com.example.RetrySinkConnector","topics":"in",
		"key.converter":"org.apache.kafka.connect.storage.StringConverter","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter","errors.retry.timeout":"10000","errors.retry.delay.max.ms":"20"}}`)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if putRecords.Load() != 2 {
			return errors.New("records put after retries")
		}
		return nil
	})
	waitState(t, c, "retry", "RUNNING", "RUNNING")

	// Without errors.retry.timeout the first retriable failure fails the task.
	putFailures.Store(1)
	putRecords.Store(0)
	c.expect(201, "POST", "/connectors", `{"name":"noretry","config":{"connector.class":"com.example.RetrySinkConnector","topics":"in",
		"key.converter":"org.apache.kafka.connect.storage.StringConverter","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"}}`)
	waitState(t, c, "noretry", "RUNNING", "FAILED")
	if tr, _ := field(c.expect(200, "GET", "/connectors/noretry/tasks/0/status", ""), "trace").(string); !strings.Contains(tr, "downstream busy") {
		t.Fatalf("trace = %q", tr)
	}
}

// A source record the value converter cannot handle (a struct for the ByteArrayConverter) is
// skipped with errors.tolerance=all, and its source offset still advances; with none it fails.
func TestSourceConversionTolerance(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, testRegistry(t), "")
	c := restClient{t: t, base: "http://" + w.Addr}
	c.expect(201, "POST", "/connectors", `{"name":"skip","config":{"connector.class":"CountSource","topic":"counts","count":"5",
		"value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter","errors.tolerance":"all","errors.log.enable":"true"}}`)
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(mustJSON(c.expect(200, "GET", "/connectors/skip/offsets", "")), `"next":5`) {
			return errors.New("source offset past the skipped records")
		}
		return nil
	})
	waitState(t, c, "skip", "RUNNING", "RUNNING")

	c.expect(201, "POST", "/connectors", `{"name":"strict","config":{"connector.class":"CountSource","topic":"counts2",
		"key.converter":"org.apache.kafka.connect.storage.StringConverter","value.converter":"org.apache.kafka.connect.converters.ByteArrayConverter"}}`)
	waitState(t, c, "strict", "RUNNING", "FAILED")
	if tr, _ := field(c.expect(200, "GET", "/connectors/strict/tasks/0/status", ""), "trace").(string); !strings.Contains(tr, "VALUE_CONVERTER") {
		t.Fatalf("trace = %q", tr)
	}
}
