package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countSource produces "count" struct records to "topic", then nothing.
type countSource struct{ config map[string]string }

func (*countSource) Version() string { return "1.0" }
func (*countSource) ConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "topic", Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High, Documentation: "Topic."}).
		Define(connect.ConfigKey{Name: "count", Type: connect.TypeConfigInt, Default: "3", Importance: connect.Low, Documentation: "Records to produce.", Validator: connect.AtLeast(0)})
}
func (c *countSource) Start(_ connect.ConnectorContext, cfg map[string]string) error {
	c.config = cfg
	return nil
}
func (c *countSource) TaskConfigs(max int) ([]map[string]string, error) {
	return []map[string]string{{"topic": c.config["topic"], "count": c.config["count"]}}, nil
}
func (*countSource) Stop() error                 { return nil }
func (*countSource) NewTask() connect.SourceTask { return &countTask{} }

var rowSchema = connect.NewStructSchema("row").Field("id", connect.Int64Schema).Field("name", connect.OptionalStringSchema).Build()

type countTask struct {
	topic string
	n     int64
	next  int64
}

func (t *countTask) Start(ctx connect.SourceTaskContext, cfg map[string]string) error {
	t.topic = cfg["topic"]
	t.n = 3
	if v, err := strconv.ParseInt(cfg["count"], 10, 64); err == nil {
		t.n = v
	}
	off, err := ctx.OffsetReader().Offset(map[string]any{"source": "count"})
	if err != nil {
		return err
	}
	if off != nil {
		t.next = off["next"].(int64)
	}
	return nil
}

func (t *countTask) Poll(context.Context) ([]connect.SourceRecord, error) {
	var out []connect.SourceRecord
	for ; t.next < t.n; t.next++ {
		v := connect.NewStruct(rowSchema)
		if err := v.Put("id", t.next); err != nil {
			return nil, err
		}
		if err := v.Put("name", fmt.Sprintf("row-%d", t.next)); err != nil {
			return nil, err
		}
		out = append(out, connect.SourceRecord{
			SourcePartition: map[string]any{"source": "count"}, SourceOffset: map[string]any{"next": t.next + 1},
			Topic: t.topic, KeySchema: connect.StringSchema, Key: fmt.Sprint(t.next), ValueSchema: rowSchema, Value: v,
		})
	}
	return out, nil
}
func (*countTask) Stop() error { return nil }

// nullSink counts what it is given.
type nullSink struct{}

var sunk atomic.Int64

func (nullSink) Version() string                                         { return "1.0" }
func (nullSink) ConfigDef() *connect.ConfigDef                           { return connect.NewConfigDef() }
func (nullSink) Start(connect.ConnectorContext, map[string]string) error { return nil }
func (nullSink) TaskConfigs(max int) ([]map[string]string, error) {
	out := make([]map[string]string, max)
	for i := range out {
		out[i] = map[string]string{}
	}
	return out, nil
}
func (nullSink) Stop() error               { return nil }
func (nullSink) NewTask() connect.SinkTask { return nullSinkTask{} }

type nullSinkTask struct{}

func (nullSinkTask) Start(connect.SinkTaskContext, map[string]string) error { return nil }
func (nullSinkTask) Put(r []connect.SinkRecord) error                       { sunk.Add(int64(len(r))); return nil }
func (nullSinkTask) Flush(map[connect.TopicPartition]int64) error           { return nil }
func (nullSinkTask) Stop() error                                            { return nil }

func testRegistry(t *testing.T) *connect.Registry {
	r := connect.NewRegistry()
	for _, p := range []connect.Plugin{
		{Class: "com.example.CountSourceConnector", Aliases: []string{"CountSource"}, Type: connect.PluginSource, Version: "1.0", New: func() connect.Connector { return &countSource{} }},
		{Class: "com.example.NullSinkConnector", Aliases: []string{"NullSink"}, Type: connect.PluginSink, Version: "1.0", New: func() connect.Connector { return nullSink{} }},
	} {
		if err := r.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func statusOf(c restClient, name string) (conn string, tasks []string) {
	v := c.expect(200, "GET", "/connectors/"+name+"/status", "")
	for _, t := range field(v, "tasks").([]any) {
		tasks = append(tasks, field(t, "state").(string))
	}
	return field(v, "connector", "state").(string), tasks
}

func waitState(t *testing.T, c restClient, name, conn string, tasks ...string) {
	t.Helper()
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		gc, gt := statusOf(c, name)
		if !(gc == conn && reflect.DeepEqual(gt, tasks) || (gc == conn && len(tasks) == 0 && len(gt) == 0)) {
			return errors.New(name + " " + conn + " " + strings.Join(tasks, ","))
		}
		return nil
	})
}

func TestRESTContract(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, testRegistry(t), "")
	c := restClient{t: t, base: "http://" + w.Addr}

	root := c.expect(200, "GET", "/", "")
	if field(root, "version") == "" || field(root, "kafka_cluster_id") == nil || field(root, "commit") == nil {
		t.Fatalf("GET / = %v", root)
	}
	if got := c.expect(200, "GET", "/connectors", ""); !reflect.DeepEqual(got, []any{}) {
		t.Fatalf("GET /connectors = %v, want []", got)
	}
	plugins := c.expect(200, "GET", "/connector-plugins", "")
	want := []any{
		map[string]any{"class": "com.example.CountSourceConnector", "type": "source", "version": "1.0"},
		map[string]any{"class": "com.example.NullSinkConnector", "type": "sink", "version": "1.0"},
	}
	if !reflect.DeepEqual(plugins, want) {
		t.Fatalf("plugins = %v", plugins)
	}
	pc := c.expect(200, "GET", "/connector-plugins/CountSource/config", "").([]any)
	if len(pc) != 2 || field(pc[0], "name") != "topic" || field(pc[0], "order") != -1.0 || field(pc[0], "required") != true || field(pc[1], "default_value") != "3" || field(pc[1], "type") != "INT" {
		t.Fatalf("plugin config = %v", pc)
	}
	c.expect(404, "GET", "/connector-plugins/Nope/config", "")

	// Validate: every invalid field is listed, with Kafka's shape.
	vr := c.expect(200, "PUT", "/connector-plugins/CountSource/config/validate", `{"tasks.max":"zero","count":-1}`)
	if field(vr, "name") != "com.example.CountSourceConnector" || field(vr, "error_count") != 4.0 {
		t.Fatalf("validate = %v", mustJSON(vr))
	}
	errorsBy := map[string][]any{}
	for _, ci := range field(vr, "configs").([]any) {
		if errs := field(ci, "value", "errors").([]any); len(errs) > 0 {
			errorsBy[field(ci, "value", "name").(string)] = errs
		}
		if field(ci, "definition", "name") != field(ci, "value", "name") {
			t.Fatalf("definition/value mismatch in %v", ci)
		}
	}
	for _, k := range []string{"name", "tasks.max", "topic", "count"} {
		if len(errorsBy[k]) == 0 {
			t.Errorf("validate: no error for %s; got %v", k, errorsBy)
		}
	}

	// Create.
	created := c.expect(201, "POST", "/connectors", `{"name":"src","config":{"connector.class":"CountSource","topic":"rest-t","count":"5"}}`)
	wantInfo := map[string]any{
		"name":   "src",
		"config": map[string]any{"connector.class": "CountSource", "topic": "rest-t", "count": "5", "name": "src"},
		"tasks":  []any{map[string]any{"connector": "src", "task": 0.0}},
		"type":   "source",
	}
	if !reflect.DeepEqual(created, wantInfo) {
		t.Fatalf("POST /connectors = %v", mustJSON(created))
	}
	if got := c.expect(409, "POST", "/connectors", `{"name":"src","config":{"connector.class":"CountSource","topic":"x"}}`); !reflect.DeepEqual(got, map[string]any{"error_code": 409.0, "message": "Connector src already exists"}) {
		t.Fatalf("duplicate = %v", got)
	}
	if got := c.expect(200, "GET", "/connectors/src", ""); !reflect.DeepEqual(got, wantInfo) {
		t.Fatalf("GET info = %v", got)
	}
	if got := c.expect(404, "GET", "/connectors/nope", ""); !reflect.DeepEqual(got, map[string]any{"error_code": 404.0, "message": "Connector nope not found"}) {
		t.Fatalf("404 = %v", got)
	}
	for _, p := range []string{"/config", "/status", "/tasks", "/tasks/0/status"} {
		c.expect(404, "GET", "/connectors/nope"+p, "")
	}
	if got := c.expect(200, "GET", "/connectors/src/config", ""); !reflect.DeepEqual(got, wantInfo["config"]) {
		t.Fatalf("GET config = %v", got)
	}
	waitState(t, c, "src", "RUNNING", "RUNNING")
	st := c.expect(200, "GET", "/connectors/src/status", "")
	if field(st, "name") != "src" || field(st, "type") != "source" || field(st, "connector", "worker_id") != w.Addr {
		t.Fatalf("status = %v", mustJSON(st))
	}
	if got := c.expect(200, "GET", "/connectors/src/tasks/0/status", ""); !reflect.DeepEqual(got, map[string]any{"id": 0.0, "state": "RUNNING", "worker_id": w.Addr}) {
		t.Fatalf("task status = %v", got)
	}
	c.expect(404, "GET", "/connectors/src/tasks/7/status", "")
	tasks := c.expect(200, "GET", "/connectors/src/tasks", "").([]any)
	if len(tasks) != 1 || !reflect.DeepEqual(field(tasks[0], "id"), map[string]any{"connector": "src", "task": 0.0}) || field(tasks[0], "config", "topic") != "rest-t" {
		t.Fatalf("tasks = %v", tasks)
	}
	exp := c.expect(200, "GET", "/connectors?expand=status&expand=info", "")
	if field(exp, "src", "status", "connector", "state") != "RUNNING" || field(exp, "src", "info", "type") != "source" {
		t.Fatalf("expand = %v", mustJSON(exp))
	}
	if exp := c.expect(200, "GET", "/connectors?expand=info", ""); field(exp, "src", "status") != nil || field(exp, "src", "info", "name") != "src" {
		t.Fatalf("expand=info = %v", mustJSON(exp))
	}

	// The records reached Kafka through the JsonConverter with schemas.
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics("rest-t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < 5 && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	if len(got) != 5 {
		t.Fatalf("consumed %d records, want 5", len(got))
	}
	var env map[string]any
	if err := json.Unmarshal(got[2].Value, &env); err != nil {
		t.Fatal(err)
	}
	wantEnv := map[string]any{
		"schema": map[string]any{"type": "struct", "optional": false, "name": "row", "fields": []any{
			map[string]any{"type": "int64", "optional": false, "field": "id"},
			map[string]any{"type": "string", "optional": true, "field": "name"},
		}},
		"payload": map[string]any{"id": 2.0, "name": "row-2"},
	}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Fatalf("record value = %s", got[2].Value)
	}
	if string(got[2].Key) != `{"schema":{"type":"string","optional":false},"payload":"2"}` {
		t.Fatalf("record key = %s", got[2].Key)
	}

	// Offsets and active topics.
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		got := c.expect(200, "GET", "/connectors/src/offsets", "")
		if !reflect.DeepEqual(got, map[string]any{"offsets": []any{map[string]any{"partition": map[string]any{"source": "count"}, "offset": map[string]any{"next": 5.0}}}}) {
			return errors.New("source offsets to be flushed")
		}
		return nil
	})
	if got := c.expect(200, "GET", "/connectors/src/topics", ""); !reflect.DeepEqual(got, map[string]any{"src": map[string]any{"topics": []any{"rest-t"}}}) {
		t.Fatalf("topics = %v", got)
	}
	c.expect(202, "PUT", "/connectors/src/topics/reset", "")
	if got := c.expect(200, "GET", "/connectors/src/topics", ""); !reflect.DeepEqual(got, map[string]any{"src": map[string]any{"topics": []any{}}}) {
		t.Fatalf("topics after reset = %v", got)
	}
	c.expect(404, "GET", "/connectors/nope/offsets", "")
	c.expect(404, "GET", "/connectors/nope/topics", "")

	// Pause, resume, restart.
	c.expect(202, "PUT", "/connectors/src/pause", "")
	waitState(t, c, "src", "PAUSED", "PAUSED")
	c.expect(202, "PUT", "/connectors/src/resume", "")
	waitState(t, c, "src", "RUNNING", "RUNNING")
	c.expect(204, "POST", "/connectors/src/restart", "")
	rs := c.expect(202, "POST", "/connectors/src/restart?includeTasks=true", "")
	if field(rs, "name") != "src" {
		t.Fatalf("restart includeTasks = %v", rs)
	}
	c.expect(204, "POST", "/connectors/src/tasks/0/restart", "")
	c.expect(404, "POST", "/connectors/src/tasks/9/restart", "")
	c.expect(404, "POST", "/connectors/nope/restart", "")
	waitState(t, c, "src", "RUNNING", "RUNNING")

	// PUT config: 200 on update, 201 on create.
	upd := c.expect(200, "PUT", "/connectors/src/config", `{"connector.class":"CountSource","topic":"rest-t","count":"6"}`)
	if field(upd, "config", "count") != "6" {
		t.Fatalf("PUT config = %v", upd)
	}
	patched := c.expect(200, "PATCH", "/connectors/src/config", `{"count":"7","tasks.max":null}`)
	if field(patched, "config", "count") != "7" || field(patched, "config", "topic") != "rest-t" {
		t.Fatalf("PATCH config = %v", patched)
	}
	c.expect(404, "PATCH", "/connectors/nope/config", `{"a":"b"}`)
	c.expect(400, "PATCH", "/connectors/src/config", `{"count":"-5"}`)
	c.expect(201, "PUT", "/connectors/sink/config", `{"connector.class":"com.example.NullSinkConnector","topics":"rest-t","tasks.max":"2"}`)
	waitState(t, c, "sink", "RUNNING", "RUNNING", "RUNNING")
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if sunk.Load() < 6 {
			return errors.New("sink receives 6 records")
		}
		return nil
	})
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		got := c.expect(200, "GET", "/connectors/sink/offsets", "")
		offs, _ := field(got, "offsets").([]any)
		if !(len(offs) == 1 && reflect.DeepEqual(field(offs[0], "partition"), map[string]any{"kafka_topic": "rest-t", "kafka_partition": 0.0}) &&
			field(offs[0], "offset", "kafka_offset").(float64) >= 6) {
			return errors.New("sink offsets to be committed")
		}
		return nil
	})
	if got := c.expect(200, "GET", "/connectors", ""); !reflect.DeepEqual(got, []any{"sink", "src"}) {
		t.Fatalf("connectors = %v", got)
	}

	// Stop: no tasks; resume starts again.
	c.expect(204, "PUT", "/connectors/src/stop", "")
	waitState(t, c, "src", "STOPPED")
	c.expect(202, "PUT", "/connectors/src/resume", "")
	waitState(t, c, "src", "RUNNING", "RUNNING")

	// initial_state is honoured.
	c.expect(201, "POST", "/connectors", `{"name":"dormant","config":{"connector.class":"CountSource","topic":"rest-t"},"initial_state":"STOPPED"}`)
	waitState(t, c, "dormant", "STOPPED")
	c.expect(201, "POST", "/connectors", `{"name":"napping","config":{"connector.class":"CountSource","topic":"rest-t"},"initial_state":"PAUSED"}`)
	waitState(t, c, "napping", "PAUSED", "PAUSED")

	// Delete.
	c.expect(204, "DELETE", "/connectors/src", "")
	c.expect(404, "GET", "/connectors/src", "")
	c.expect(404, "DELETE", "/connectors/src", "")

	// Unknown routes and methods get JSON errors too.
	if got := c.expect(404, "GET", "/nope", ""); field(got, "error_code") != 404.0 {
		t.Fatalf("unknown path = %v", got)
	}
	if got := c.expect(405, "DELETE", "/connector-plugins", ""); field(got, "error_code") != 405.0 {
		t.Fatalf("bad method = %v", got)
	}
}

func TestRESTBadInputIs400NamingTheProblemAndCreatesNothing(t *testing.T) {
	tb := testbroker.Start(t)
	w := startWorker(t, tb, testRegistry(t), "")
	c := restClient{t: t, base: "http://" + w.Addr}
	cases := []struct {
		name, method, path, body string
		wantInMessage            []string
	}{
		{"malformed JSON", "POST", "/connectors", `{"name":"a","config":{`, []string{"malformed JSON"}},
		{"empty body", "POST", "/connectors", ``, []string{"empty"}},
		{"config not an object", "POST", "/connectors", `{"name":"a","config":[1]}`, []string{"malformed JSON", "config"}},
		{"no name", "POST", "/connectors", `{"config":{"connector.class":"CountSource","topic":"x"}}`, []string{`"name"`}},
		{"unknown class lists plugins", "POST", "/connectors", `{"name":"a","config":{"connector.class":"com.example.Nope","topic":"x"}}`,
			[]string{"com.example.Nope", "com.example.CountSourceConnector", "com.example.NullSinkConnector"}},
		{"missing required", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource"}}`, []string{`"topic"`}},
		{"missing class", "POST", "/connectors", `{"name":"a","config":{"topic":"x"}}`, []string{`"connector.class"`}},
		{"bad type", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"x","tasks.max":"many"}}`, []string{"tasks.max"}},
		{"sink without topics", "POST", "/connectors", `{"name":"a","config":{"connector.class":"NullSink"}}`, []string{"topics", "topics.regex"}},
		{"sink with bad regex", "POST", "/connectors", `{"name":"a","config":{"connector.class":"NullSink","topics.regex":"("}}`, []string{"topics.regex"}},
		{"transforms not supported yet", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"x","transforms":"t"}}`, []string{"transforms"}},
		{"bad converter", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"x","value.converter":"com.example.Conv"}}`, []string{"value.converter"}},
		{"name mismatch", "PUT", "/connectors/a/config", `{"connector.class":"CountSource","topic":"x","name":"b"}`, []string{"(b)", "(a)"}},
		{"malformed PUT", "PUT", "/connectors/a/config", `{"topic":`, []string{"malformed JSON"}},
		{"bad initial_state", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"x"},"initial_state":"ASLEEP"}`, []string{"initial_state"}},
		{"malformed validate", "PUT", "/connector-plugins/CountSource/config/validate", `nope`, []string{"malformed JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := restClient{t: t, base: c.base}
			v := c.expect(http.StatusBadRequest, tc.method, tc.path, tc.body)
			msg, _ := field(v, "message").(string)
			if field(v, "error_code") != 400.0 {
				t.Fatalf("body = %v", v)
			}
			for _, want := range tc.wantInMessage {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}
	if got := c.expect(200, "GET", "/connectors", ""); !reflect.DeepEqual(got, []any{}) {
		t.Fatalf("bad requests left connectors behind: %v", got)
	}
}
