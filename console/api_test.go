package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTopicsPageWith2000TopicsLoadsUnder1s(t *testing.T) {
	// NB: no sampling while 2,000 topics are created: each sample lists every partition's offsets.
	_, _, adm, base := brokerAndConsole(t, Options{SampleInterval: time.Hour})
	ctx := context.Background()
	const n = 2000
	adm.SetTimeoutMillis(60000)
	for i := 0; i < n; i += 100 {
		var names []string
		for j := i; j < i+100; j++ {
			names = append(names, fmt.Sprintf("topic-%04d", j))
		}
		resps, err := adm.CreateTopics(ctx, 1, 1, nil, names...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resps {
			// NB: a slow broker (-race, a loaded machine) may see the client retry a request it
			// already carried out.
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				t.Fatalf("create %s: %v", r.Topic, r.Err)
			}
		}
	}
	testutil.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		// NB: creation is asynchronous in the broker; the page is timed once all are listed.
		st, body := call(t, "GET", base+"/api/topics?size=1", nil)
		if st != 200 || body["total"].(float64) != n {
			return fmt.Errorf("%d: %v topics listed, want %d", st, body["total"], n)
		}
		return nil
	})
	// The topics page: its HTML, its script, and the first page of the list.
	start := time.Now()
	for _, path := range []string{"/", "/app.js"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	st, body := call(t, "GET", base+"/api/topics?page=1&size=50", nil)
	took := time.Since(start)
	wantStatus(t, "topics page", st, body, 200)
	if body["total"].(float64) != n || len(body["topics"].([]any)) != 50 {
		t.Fatalf("total %v, %d rows; want %d, 50", body["total"], len(body["topics"].([]any)), n)
	}
	if first := body["topics"].([]any)[0].(map[string]any)["name"]; first != "topic-0000" {
		t.Fatalf("first topic %v, want topic-0000 (sorted)", first)
	}
	st, body = call(t, "GET", base+"/api/topics?page=40&size=50&q=topic-19", nil)
	wantStatus(t, "filtered page", st, body, 200)
	if body["total"].(float64) != 100 || len(body["topics"].([]any)) != 0 {
		t.Fatalf("q=topic-19: total %v rows %d, want 100 and an empty page 40", body["total"], len(body["topics"].([]any)))
	}
	t.Logf("topics page with %d topics loaded in %v", n, took)
	if took > time.Second {
		t.Fatalf("topics page with %d topics took %v, want under 1s", n, took)
	}
}

func TestBrowseShowsJSONHexDebeziumAndFilters(t *testing.T) {
	_, cl, adm, base := brokerAndConsole(t, Options{})
	createTopic(t, adm, "orders", 2, nil)
	produce(t, cl,
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k1"), Value: []byte(`{"id":1,"item":"apple"}`),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("web")}}},
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k2"), Value: []byte{0x00, 0xff, 0x10}},
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k3"),
			Value: []byte(`{"before":{"id":3,"qty":1},"after":{"id":3,"qty":2},"op":"u","source":{"table":"orders"}}`)},
		&kgo.Record{Topic: "orders", Partition: 0, Key: []byte("k4"), Value: []byte("plain banana")},
	)
	st, body := call(t, "GET", base+"/api/topics/orders/messages?partition=0&from=oldest", nil)
	wantStatus(t, "browse", st, body, 200)
	recs := body["records"].([]any)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4: %v", len(recs), body)
	}
	formats := []string{"json", "hex", "debezium", "text"}
	for i, want := range formats {
		v := recs[i].(map[string]any)["value"].(map[string]any)
		if v["format"] != want {
			t.Errorf("record %d: format %v, want %s (%v)", i, v["format"], want, v)
		}
	}
	if v := recs[0].(map[string]any)["value"].(map[string]any)["text"].(string); !strings.Contains(v, "\n  \"id\": 1") {
		t.Errorf("JSON not pretty-printed: %q", v)
	}
	if v := recs[1].(map[string]any)["value"].(map[string]any)["text"]; v != "00ff10" {
		t.Errorf("binary as %v, want hex 00ff10", v)
	}
	if d := recs[2].(map[string]any)["value"].(map[string]any); d["op"] != "u" || d["before"] == nil || d["after"] == nil {
		t.Errorf("Debezium envelope not split: %v", d)
	}
	for _, c := range []struct {
		query string
		keys  []string
	}{
		{"value=APPLE", []string{"k1"}},
		{"key=k4", []string{"k4"}},
		{"header=source=web", []string{"k1"}},
		{"header=source", []string{"k1"}},
		{"from=offset&offset=2", []string{"k3", "k4"}},
		{"from=newest&limit=1", []string{"k4"}},
		{"from=timestamp&timestamp=" + fmt.Sprint(time.Now().Add(time.Hour).UnixMilli()), nil},
	} {
		st, body := call(t, "GET", base+"/api/topics/orders/messages?partition=0&"+c.query+"&from=oldest", nil)
		wantStatus(t, c.query, st, body, 200)
		var keys []string
		for _, r := range body["records"].([]any) {
			keys = append(keys, r.(map[string]any)["key"].(map[string]any)["text"].(string))
		}
		if fmt.Sprint(keys) != fmt.Sprint(c.keys) {
			t.Errorf("%s: keys %v, want %v", c.query, keys, c.keys)
		}
	}
}

func TestProduceFromAPIThenBrowse(t *testing.T) {
	_, _, adm, base := brokerAndConsole(t, Options{})
	createTopic(t, adm, "notes", 3, nil)
	st, body := call(t, "POST", base+"/api/topics/notes/messages", map[string]any{
		"partition": 2, "key": "n1", "value": `{"text":"hi"}`, "headers": map[string]string{"h": "v"}})
	wantStatus(t, "produce", st, body, 200)
	if body["partition"].(float64) != 2 || body["offset"].(float64) != 0 {
		t.Fatalf("produced to %v@%v, want partition 2 offset 0", body["partition"], body["offset"])
	}
	st, body = call(t, "GET", base+"/api/topics/notes/messages?from=newest", nil)
	wantStatus(t, "browse", st, body, 200)
	recs := body["records"].([]any)
	if len(recs) != 1 {
		t.Fatalf("records %v", recs)
	}
	r := recs[0].(map[string]any)
	if r["partition"].(float64) != 2 || r["value"].(map[string]any)["format"] != "json" || len(r["headers"].([]any)) != 1 {
		t.Fatalf("browsed %v", r)
	}
}

func TestBadInputGetsClearMessageAndChangesNothing(t *testing.T) {
	_, cl, adm, base := brokerAndConsole(t, Options{})
	ctx := context.Background()
	createTopic(t, adm, "orders", 1, nil)
	produce(t, cl, &kgo.Record{Topic: "orders", Value: []byte("a")}, &kgo.Record{Topic: "orders", Value: []byte("b")})
	endOf := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup("orders", 0)
		return o.Offset
	}
	for _, c := range []struct {
		what, method, path string
		body               any
		status             int
		says               string
	}{
		{"malformed produce", "POST", "/api/topics/orders/messages", `{"value": "x"`, 400, "malformed JSON"},
		{"unknown field", "POST", "/api/topics/orders/messages", `{"valu": "x"}`, 400, "unknown field"},
		{"bad partition", "POST", "/api/topics/orders/messages", `{"partition": 7, "value": "x"}`, 400, "partitions 0..0"},
		{"missing topic", "POST", "/api/topics/nope/messages", `{"value": "x"}`, 404, "does not exist"},
		{"offset out of range", "GET", "/api/topics/orders/messages?partition=0&from=offset&offset=99", nil, 400, "out of range"},
		{"negative offset", "GET", "/api/topics/orders/messages?partition=0&from=offset&offset=-5", nil, 400, "out of range"},
		{"offset not a number", "GET", "/api/topics/orders/messages?from=offset&offset=x", nil, 400, "not an integer"},
		{"bad from", "GET", "/api/topics/orders/messages?from=yesterday", nil, 400, "from must be"},
		{"malformed create", "POST", "/api/topics", `{"name": `, 400, "malformed JSON"},
		{"bad partitions", "POST", "/api/topics", `{"name": "x", "partitions": -3}`, 400, ""},
		{"existing topic", "POST", "/api/topics", `{"name": "orders", "partitions": 1}`, 409, "orders"},
		{"delete unconfirmed", "DELETE", "/api/topics/orders", nil, 400, "confirm=orders"},
		{"unknown config", "PUT", "/api/topics/orders/configs", `{"set": {"no.such.config": "1"}, "confirm": true}`, 400, "orders"},
		{"bad config value", "PUT", "/api/topics/orders/configs", `{"set": {"retention.ms": "soon"}, "confirm": true}`, 400, "orders"},
		{"malformed reset", "POST", "/api/groups/g/reset-offsets", `{"strategy": }`, 400, "malformed JSON"},
		{"bad strategy", "POST", "/api/groups/g/reset-offsets", `{"strategy": "sideways"}`, 400, "strategy must be"},
		{"malformed connector", "POST", "/api/connectors", `[1,2`, 400, "malformed JSON"},
		{"unknown endpoint", "GET", "/api/nothing", nil, 404, "no such API"},
	} {
		st, body := call(t, c.method, base+c.path, c.body)
		if st != c.status || !strings.Contains(errText(body), c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.what, st, errText(body), c.status, c.says)
		}
	}
	if end := endOf(); end != 2 {
		t.Errorf("end offset %d after bad produces, want 2 (nothing written)", end)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil || len(topics) != 1 {
		t.Errorf("topics after bad creates and deletes: %v %v, want only orders", topics.Names(), err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == "retention.ms" && c.Source.String() != "DEFAULT_CONFIG" {
			t.Errorf("retention.ms changed by a refused request: %v %v", c.MaybeValue(), c.Source)
		}
	}
}

func TestResetOnActiveGroupIsRefusedAndChangesNothing(t *testing.T) {
	b, cl, adm, base := brokerAndConsole(t, Options{})
	ctx := context.Background()
	createTopic(t, adm, "events", 1, nil)
	for i := range 10 {
		produce(t, cl, &kgo.Record{Topic: "events", Value: fmt.Appendf(nil, "e%d", i)})
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		consumer.PollFetches(pctx)
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			return err
		}
		offs, err := adm.FetchOffsets(ctx, "billing")
		if err != nil {
			return err
		}
		if o, ok := offs.Lookup("events", 0); !ok || o.At != 10 {
			return fmt.Errorf("committed %v", o)
		}
		return nil
	})
	st, body := call(t, "POST", base+"/api/groups/billing/reset-offsets", map[string]any{"strategy": "earliest", "execute": true})
	if st != http.StatusConflict || !strings.Contains(errText(body), "inactive, but the current state is Stable") {
		t.Fatalf("reset on an active group: %d %v", st, body)
	}
	if offs, _ := adm.FetchOffsets(ctx, "billing"); offs["events"][0].At != 10 {
		t.Fatalf("committed offset moved to %d by a refused reset", offs["events"][0].At)
	}

	// Once the consumer has left, a plan changes nothing and an execute commits it.
	consumer.Close()
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		st, body := call(t, "POST", base+"/api/groups/billing/reset-offsets", map[string]any{"strategy": "shift-by", "value": "-4", "topics": []string{"events"}})
		if st != 200 {
			return fmt.Errorf("plan: %d %v", st, body)
		}
		plan := body["plan"].([]any)
		if len(plan) != 1 || plan[0].(map[string]any)["new"].(float64) != 6 || plan[0].(map[string]any)["current"].(float64) != 10 {
			return fmt.Errorf("plan %v", plan)
		}
		return nil
	})
	if offs, _ := adm.FetchOffsets(ctx, "billing"); offs["events"][0].At != 10 {
		t.Fatalf("a plan without execute moved the offset to %d", offs["events"][0].At)
	}
	st, body = call(t, "POST", base+"/api/groups/billing/reset-offsets", map[string]any{"strategy": "shift-by", "value": "-4", "execute": true})
	wantStatus(t, "execute", st, body, 200)
	if offs, _ := adm.FetchOffsets(ctx, "billing"); offs["events"][0].At != 6 {
		t.Fatalf("executed reset: committed %d, want 6", offs["events"][0].At)
	}
	st, body = call(t, "GET", base+"/api/groups/billing", nil)
	wantStatus(t, "describe", st, body, 200)
	if body["lag"].(float64) != 4 {
		t.Fatalf("lag %v after the reset, want 4", body["lag"])
	}
}

func TestConsoleReconnectsAfterBrokerRestart(t *testing.T) {
	b, _, adm, base := brokerAndConsole(t, Options{})
	createTopic(t, adm, "survivor", 1, nil)
	st, body := call(t, "GET", base+"/api/topics", nil)
	wantStatus(t, "before restart", st, body, 200)
	b.Stop()
	st, body = call(t, "GET", base+"/api/topics/survivor", nil)
	if st < 500 || body["error"] == nil {
		t.Fatalf("while the broker is down: %d %v, want a 5xx with an error", st, body)
	}
	b.StartStopped()
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		st, body := call(t, "GET", base+"/api/topics/survivor", nil)
		if st != 200 {
			return fmt.Errorf("%d %v", st, body)
		}
		return nil
	})
}

func TestConnectAbsentIsSaid(t *testing.T) {
	_, _, _, base := brokerAndConsole(t, Options{})
	st, body := call(t, "GET", base+"/api/connectors", nil)
	if st != http.StatusServiceUnavailable || !strings.Contains(errText(body), "not configured") {
		t.Fatalf("no connect url: %d %v", st, body)
	}
	st, body = call(t, "GET", base+"/api/overview", nil)
	wantStatus(t, "overview", st, body, 200)
	if c := body["connect"].(map[string]any); c["available"] != false || !strings.Contains(fmt.Sprint(c["error"]), "not configured") {
		t.Fatalf("overview connect %v", c)
	}

	// A Connect URL where nothing listens: unreachable, said so.
	l, err := (&net0{}).closedPort()
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, base = brokerAndConsole(t, Options{ConnectURL: "http://" + l})
	st, body = call(t, "GET", base+"/api/connectors", nil)
	if st != http.StatusServiceUnavailable || !strings.Contains(errText(body), "unreachable") {
		t.Fatalf("connect down: %d %v", st, body)
	}
}

func TestOverviewSamplesThroughput(t *testing.T) {
	_, cl, adm, base := brokerAndConsole(t, Options{SampleInterval: 100 * time.Millisecond})
	createTopic(t, adm, "busy", 1, nil)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		produce(t, cl, &kgo.Record{Topic: "busy", Value: []byte("x")})
		st, body := call(t, "GET", base+"/api/overview", nil)
		if st != 200 {
			return fmt.Errorf("%d %v", st, body)
		}
		tp := body["throughput"].(map[string]any)
		series, _ := tp["topics"].(map[string]any)["busy"].([]any)
		for _, p := range series {
			if p.(map[string]any)["v"].(float64) > 0 {
				return nil
			}
		}
		return fmt.Errorf("no positive rate for busy yet: %v", tp)
	})
}

func TestTopicConfigEditIsPlannedThenApplied(t *testing.T) {
	_, _, adm, base := brokerAndConsole(t, Options{})
	createTopic(t, adm, "orders", 1, nil)
	retention := func() string {
		rcs, err := adm.DescribeTopicConfigs(context.Background(), "orders")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rcs[0].Configs {
			if c.Key == "retention.ms" {
				return c.MaybeValue()
			}
		}
		return ""
	}
	before := retention()
	st, body := call(t, "PUT", base+"/api/topics/orders/configs", `{"set": {"retention.ms": "3600000"}}`)
	wantStatus(t, "plan", st, body, 200)
	changes := body["changes"].([]any)
	if len(changes) != 1 || changes[0].(map[string]any)["to"] != "3600000" || changes[0].(map[string]any)["from"] != before || body["applied"] != false {
		t.Fatalf("plan %v", body)
	}
	if got := retention(); got != before {
		t.Fatalf("a plan changed retention.ms to %s", got)
	}
	st, body = call(t, "PUT", base+"/api/topics/orders/configs", `{"set": {"retention.ms": "3600000"}, "confirm": true}`)
	wantStatus(t, "apply", st, body, 200)
	if got := retention(); got != "3600000" {
		t.Fatalf("applied retention.ms is %s, want 3600000", got)
	}
}

func TestCreateThenDeleteTopicWithConfirmation(t *testing.T) {
	_, _, _, base := brokerAndConsole(t, Options{})
	st, body := call(t, "POST", base+"/api/topics", `{"name": "fresh", "partitions": 3, "configs": {"cleanup.policy": "compact"}}`)
	wantStatus(t, "create", st, body, 200)
	st, body = call(t, "GET", base+"/api/topics/fresh", nil)
	wantStatus(t, "describe", st, body, 200)
	if n := len(body["partitions"].([]any)); n != 3 {
		t.Fatalf("%d partitions, want 3", n)
	}
	st, body = call(t, "DELETE", base+"/api/topics/fresh?confirm=fresh", nil)
	wantStatus(t, "delete", st, body, 200)
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if st, body := call(t, "GET", base+"/api/topics/fresh", nil); st != 404 {
			return fmt.Errorf("after delete: %d %v", st, body)
		}
		return nil
	})
}
