package connect_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// The contract tests hold the standalone worker's REST API to Kafka Connect's documented shapes
// (https://kafka.apache.org/documentation/#connect_rest and the Confluent REST reference): every
// response body is compared field by field, so a missing, extra or mistyped field fails with its
// JSON path. Values the worker chooses (worker_id, versions, timestamps) are matched by kind.

// kind matches a JSON value the worker chooses.
type kind struct {
	what string
	ok   func(any) bool
}

var (
	aString      = kind{"a non-empty string", func(v any) bool { s, ok := v.(string); return ok && s != "" }}
	aNumber      = kind{"a number", func(v any) bool { _, ok := v.(float64); return ok }}
	aNullOrInt   = kind{"null or a number", func(v any) bool { _, ok := v.(float64); return v == nil || ok }}
	aStringArray = kind{"an array of strings", func(v any) bool {
		a, ok := v.([]any)
		for _, e := range a {
			if _, isStr := e.(string); !isStr {
				return false
			}
		}
		return ok
	}}
)

// shapeDiff lists every difference between got and want (JSON decoded with numbers as float64):
// objects must have exactly want's keys, arrays want's length, and kinds must match.
func shapeDiff(path string, got, want any) []string {
	switch w := want.(type) {
	case kind:
		if !w.ok(got) {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, mustJSON(got), w.what)}
		}
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", path, mustJSON(got))}
		}
		var diffs []string
		for k, wv := range w {
			gv, present := g[k]
			if !present {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, shapeDiff(path+"."+k, gv, wv)...)
		}
		for k := range g {
			if _, expected := w[k]; !expected {
				diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected field (value %s)", path, k, mustJSON(g[k])))
			}
		}
		sort.Strings(diffs)
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, want %d elements", path, mustJSON(got), len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, shapeDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return diffs
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s: got %s, want %s", path, mustJSON(got), mustJSON(want))}
	}
	return nil
}

// check sends a request and fails with every shape difference of the response.
func (c restClient) check(code int, method, path, body string, want any) any {
	c.t.Helper()
	got := c.expect(code, method, path, body)
	if diffs := shapeDiff("$", got, want); len(diffs) > 0 {
		c.t.Errorf("%s %s: body differs from Kafka's shape:\n  %s\nbody: %s", method, path, strings.Join(diffs, "\n  "), mustJSON(got))
	}
	return got
}

// obj and arr keep the expectations short.
type obj = map[string]any

func arr(v ...any) []any { return v }

func errorBody(code int, message any) obj {
	return obj{"error_code": float64(code), "message": message}
}

func containing(parts ...string) kind {
	return kind{fmt.Sprintf("a message containing %q", parts), func(v any) bool {
		s, ok := v.(string)
		for _, p := range parts {
			ok = ok && strings.Contains(s, p)
		}
		return ok
	}}
}

// brokenSource's task fails while brokenTasks is set; its connector never fails.
type brokenSource struct{ countSource }

var brokenTasks atomic.Bool

func (*brokenSource) NewTask() connect.SourceTask { return brokenTask{} }

type brokenTask struct{}

func (brokenTask) Start(connect.SourceTaskContext, map[string]string) error { return nil }
func (brokenTask) Stop() error                                              { return nil }
func (brokenTask) Poll(context.Context) ([]connect.SourceRecord, error) {
	if brokenTasks.Load() {
		return nil, errors.New("sensor unplugged")
	}
	return nil, nil
}

func contractWorker(t *testing.T) (restClient, *connect.Runner) {
	t.Helper()
	tb := testbroker.Start(t)
	reg := testRegistry(t)
	if err := reg.Register(connect.Plugin{Class: "com.example.BrokenSourceConnector", Type: connect.PluginSource, Version: "2.1",
		New: func() connect.Connector { return &brokenSource{} }}); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, tb, reg, "")
	return restClient{t: t, base: "http://" + w.Addr}, w
}

func TestRESTContractMatchesKafkaShapes(t *testing.T) {
	c, w := contractWorker(t)
	wid := w.Addr

	c.check(200, "GET", "/", "", obj{"version": aString, "commit": aString, "kafka_cluster_id": aString})
	c.check(200, "GET", "/connectors", "", arr())
	c.check(200, "GET", "/connectors?expand=status", "", obj{})

	// Plugins: connectors only by default; with connectorsOnly=false the converters too (this test
	// binary does not link connect/transforms, whose own tests check transformations and predicates).
	connectors := arr(
		obj{"class": "com.example.BrokenSourceConnector", "type": "source", "version": "2.1"},
		obj{"class": "com.example.CountSourceConnector", "type": "source", "version": "1.0"},
		obj{"class": "com.example.NullSinkConnector", "type": "sink", "version": "1.0"},
	)
	c.check(200, "GET", "/connector-plugins", "", connectors)
	c.check(200, "GET", "/connector-plugins?connectorsOnly=true", "", connectors)
	c.check(200, "GET", "/connector-plugins?connectorsOnly=false", "", append(append(arr(), connectors...),
		obj{"class": "org.apache.kafka.connect.converters.ByteArrayConverter", "type": "converter", "version": aString},
		obj{"class": "org.apache.kafka.connect.json.JsonConverter", "type": "converter", "version": aString},
		obj{"class": "org.apache.kafka.connect.storage.StringConverter", "type": "converter", "version": aString},
	))
	// ConfigKeyInfo: a key defined without a group has group null and order -1, as Kafka's ConfigDef.
	c.check(200, "GET", "/connector-plugins/CountSource/config", "", arr(
		obj{"name": "topic", "type": "STRING", "required": true, "default_value": nil, "importance": "HIGH", "documentation": "Topic.",
			"group": nil, "width": "NONE", "display_name": "topic", "dependents": arr(), "order": -1.0},
		obj{"name": "count", "type": "INT", "required": false, "default_value": "3", "importance": "LOW", "documentation": "Records to produce.",
			"group": nil, "width": "NONE", "display_name": "count", "dependents": arr(), "order": -1.0},
	))
	c.check(404, "GET", "/connector-plugins/com.example.Nope/config", "", errorBody(404, containing("com.example.Nope")))
	// Converters are described too (Kafka 3.2+): JsonConverter's keys with their groups and order.
	bothStr := kind{"a string", func(v any) bool { _, ok := v.(string); return ok }}
	c.check(200, "GET", "/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config", "", arr(
		obj{"name": "converter.type", "type": "STRING", "required": true, "default_value": nil, "importance": "LOW", "documentation": bothStr,
			"group": nil, "width": "NONE", "display_name": "converter.type", "dependents": arr(), "order": -1.0},
		obj{"name": "schemas.enable", "type": "BOOLEAN", "required": false, "default_value": "true", "importance": "HIGH", "documentation": bothStr,
			"group": "Schemas", "width": "MEDIUM", "display_name": "Enable Schemas", "dependents": arr(), "order": 0.0},
		obj{"name": "schemas.cache.size", "type": "INT", "required": false, "default_value": "1000", "importance": "HIGH", "documentation": bothStr,
			"group": "Schemas", "width": "MEDIUM", "display_name": "Schema Cache Size", "dependents": arr(), "order": 1.0},
		obj{"name": "decimal.format", "type": "STRING", "required": false, "default_value": "BASE64", "importance": "LOW", "documentation": bothStr,
			"group": "Serialization", "width": "MEDIUM", "display_name": "Decimal Format", "dependents": arr(), "order": 0.0},
		obj{"name": "replace.null.with.default", "type": "BOOLEAN", "required": false, "default_value": "true", "importance": "LOW", "documentation": bothStr,
			"group": "Serialization", "width": "MEDIUM", "display_name": "Replace null with default", "dependents": arr(), "order": 1.0},
	))
	if got := c.expect(200, "GET", "/connector-plugins/StringConverter/config", "").([]any); len(got) != 2 || field(got[0], "name") != "converter.encoding" {
		t.Errorf("StringConverter config = %s", mustJSON(got))
	}

	// Validate: Kafka's ConfigInfos; every key appears with its definition and value.
	vr := c.check(200, "PUT", "/connector-plugins/CountSource/config/validate", `{"connector.class":"CountSource","name":"v","topic":"t","count":"x"}`, obj{
		"name": "com.example.CountSourceConnector", "error_count": 1.0, "groups": aStringArray, "configs": kind{"an array", func(v any) bool { _, ok := v.([]any); return ok }},
	})
	for _, ci := range field(vr, "configs").([]any) {
		name, _ := field(ci, "definition", "name").(string)
		wantValue := obj{"name": name, "value": kind{"null or a string", func(v any) bool { _, ok := v.(string); return v == nil || ok }},
			"recommended_values": aStringArray, "errors": aStringArray, "visible": true}
		if name == "count" {
			wantValue["value"], wantValue["errors"] = "x", arr(containing("count", "x"))
		}
		if diffs := shapeDiff("$.configs["+name+"]", ci, obj{
			"definition": obj{"name": name, "type": aString, "required": kind{"a boolean", func(v any) bool { _, ok := v.(bool); return ok }},
				"default_value": kind{"null or a string", func(v any) bool { _, ok := v.(string); return v == nil || ok }}, "importance": aString,
				"documentation": kind{"a string", func(v any) bool { _, ok := v.(string); return ok }},
				"group":         kind{"null or a string", func(v any) bool { _, ok := v.(string); return v == nil || ok }}, "width": aString,
				"display_name": aString, "dependents": aStringArray, "order": aNumber},
			"value": wantValue,
		}); len(diffs) > 0 {
			t.Errorf("validate: %s", strings.Join(diffs, "\n  "))
		}
	}

	// Create: 201 with ConnectorInfo and a Location header.
	srcConfig := obj{"connector.class": "CountSource", "topic": "contract", "count": "4", "name": "src"}
	srcInfo := obj{"name": "src", "config": srcConfig, "tasks": arr(obj{"connector": "src", "task": 0.0}), "type": "source"}
	c.check(201, "POST", "/connectors", `{"name":"src","config":{"connector.class":"CountSource","topic":"contract","count":"4"}}`, srcInfo)
	c.check(409, "POST", "/connectors", `{"name":"src","config":{"connector.class":"CountSource","topic":"x"}}`, errorBody(409, "Connector src already exists"))
	c.check(200, "GET", "/connectors", "", arr("src"))
	c.check(200, "GET", "/connectors/src", "", srcInfo)
	c.check(200, "GET", "/connectors/src/config", "", srcConfig)
	waitState(t, c, "src", "RUNNING", "RUNNING")
	srcStatus := obj{"name": "src", "connector": obj{"state": "RUNNING", "worker_id": wid},
		"tasks": arr(obj{"id": 0.0, "state": "RUNNING", "worker_id": wid}), "type": "source"}
	c.check(200, "GET", "/connectors/src/status", "", srcStatus)
	c.check(200, "GET", "/connectors/src/tasks", "", arr(obj{"id": obj{"connector": "src", "task": 0.0},
		"config": obj{"connector.class": "CountSource", "topic": "contract", "count": "4", "name": "src"}}))
	c.check(200, "GET", "/connectors/src/tasks/0/status", "", obj{"id": 0.0, "state": "RUNNING", "worker_id": wid})
	c.check(404, "GET", "/connectors/src/tasks/3/status", "", errorBody(404, containing("src", "3")))
	c.check(200, "GET", "/connectors?expand=status", "", obj{"src": obj{"status": srcStatus}})
	c.check(200, "GET", "/connectors?expand=info", "", obj{"src": obj{"info": srcInfo}})
	c.check(200, "GET", "/connectors?expand=status&expand=info", "", obj{"src": obj{"status": srcStatus, "info": srcInfo}})

	// Every connector sub-resource of an unknown connector is a 404 in Kafka's error shape.
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/connectors/nope", ""}, {"DELETE", "/connectors/nope", ""}, {"GET", "/connectors/nope/config", ""},
		{"PATCH", "/connectors/nope/config", `{"a":"b"}`}, {"GET", "/connectors/nope/status", ""}, {"GET", "/connectors/nope/tasks", ""},
		{"GET", "/connectors/nope/tasks/0/status", ""}, {"POST", "/connectors/nope/restart", ""}, {"POST", "/connectors/nope/restart?includeTasks=true", ""},
		{"POST", "/connectors/nope/tasks/0/restart", ""}, {"PUT", "/connectors/nope/pause", ""}, {"PUT", "/connectors/nope/resume", ""},
		{"GET", "/connectors/nope/topics", ""}, {"PUT", "/connectors/nope/topics/reset", ""},
	} {
		c.check(404, r.method, r.path, r.body, errorBody(404, containing("nope")))
	}

	// Active topics and their reset (202, as Kafka).
	c.check(200, "GET", "/connectors/src/topics", "", obj{"src": obj{"topics": arr("contract")}})
	c.check(202, "PUT", "/connectors/src/topics/reset", "", nil)
	c.check(200, "GET", "/connectors/src/topics", "", obj{"src": obj{"topics": arr()}})

	// PUT config: 200 and ConnectorInfo when it exists, 201 when it creates; PATCH merges (null removes).
	c.check(200, "PUT", "/connectors/src/config", `{"connector.class":"CountSource","topic":"contract","count":"5"}`,
		obj{"name": "src", "config": obj{"connector.class": "CountSource", "topic": "contract", "count": "5", "name": "src"}, "tasks": arr(obj{"connector": "src", "task": 0.0}), "type": "source"})
	c.check(200, "PATCH", "/connectors/src/config", `{"count":null,"tasks.max":"1"}`,
		obj{"name": "src", "config": obj{"connector.class": "CountSource", "topic": "contract", "tasks.max": "1", "name": "src"}, "tasks": arr(obj{"connector": "src", "task": 0.0}), "type": "source"})
	sinkInfo := obj{"name": "sink", "config": obj{"connector.class": "NullSink", "topics": "contract", "tasks.max": "2", "name": "sink"},
		"tasks": arr(obj{"connector": "sink", "task": 0.0}, obj{"connector": "sink", "task": 1.0}), "type": "sink"}
	c.check(201, "PUT", "/connectors/sink/config", `{"connector.class":"NullSink","topics":"contract","tasks.max":"2"}`, sinkInfo)
	waitState(t, c, "sink", "RUNNING", "RUNNING", "RUNNING")

	// Pause and resume: 202, no body.
	c.check(202, "PUT", "/connectors/sink/pause", "", nil)
	waitState(t, c, "sink", "PAUSED", "PAUSED", "PAUSED")
	c.check(202, "PUT", "/connectors/sink/resume", "", nil)
	waitState(t, c, "sink", "RUNNING", "RUNNING", "RUNNING")

	// Restart: 204 without parameters; 202 with the restart plan (RESTARTING) otherwise.
	c.check(204, "POST", "/connectors/sink/restart", "", nil)
	c.check(204, "POST", "/connectors/sink/restart?includeTasks=false&onlyFailed=false", "", nil)
	c.check(202, "POST", "/connectors/sink/restart?includeTasks=true", "", obj{"name": "sink", "type": "sink",
		"connector": obj{"state": "RESTARTING", "worker_id": wid},
		"tasks":     arr(obj{"id": 0.0, "state": "RESTARTING", "worker_id": wid}, obj{"id": 1.0, "state": "RESTARTING", "worker_id": wid})})
	waitState(t, c, "sink", "RUNNING", "RUNNING", "RUNNING")
	c.check(202, "POST", "/connectors/sink/restart?onlyFailed=true", "", obj{"name": "sink", "type": "sink",
		"connector": obj{"state": "RUNNING", "worker_id": wid},
		"tasks":     arr(obj{"id": 0.0, "state": "RUNNING", "worker_id": wid}, obj{"id": 1.0, "state": "RUNNING", "worker_id": wid})})
	c.check(204, "POST", "/connectors/sink/tasks/1/restart", "", nil)
	c.check(404, "POST", "/connectors/sink/tasks/2/restart", "", errorBody(404, containing("sink", "2")))
	waitState(t, c, "sink", "RUNNING", "RUNNING", "RUNNING")

	// A failed task: its status carries the trace; onlyFailed restarts just that task.
	brokenTasks.Store(true)
	t.Cleanup(func() { brokenTasks.Store(false) })
	c.check(201, "POST", "/connectors", `{"name":"broken","config":{"connector.class":"com.example.BrokenSourceConnector","topic":"contract"}}`,
		obj{"name": "broken", "config": obj{"connector.class": "com.example.BrokenSourceConnector", "topic": "contract", "name": "broken"},
			"tasks": arr(obj{"connector": "broken", "task": 0.0}), "type": "source"})
	waitState(t, c, "broken", "RUNNING", "FAILED")
	c.check(200, "GET", "/connectors/broken/tasks/0/status", "", obj{"id": 0.0, "state": "FAILED", "worker_id": wid, "trace": containing("sensor unplugged")})
	brokenTasks.Store(false)
	c.check(202, "POST", "/connectors/broken/restart?includeTasks=true&onlyFailed=true", "", obj{"name": "broken", "type": "source",
		"connector": obj{"state": "RUNNING", "worker_id": wid},
		"tasks":     arr(obj{"id": 0.0, "state": "RESTARTING", "worker_id": wid})})
	waitState(t, c, "broken", "RUNNING", "RUNNING")

	// initial_state.
	c.check(201, "POST", "/connectors", `{"name":"napping","config":{"connector.class":"CountSource","topic":"contract"},"initial_state":"PAUSED"}`,
		obj{"name": "napping", "config": obj{"connector.class": "CountSource", "topic": "contract", "name": "napping"},
			"tasks": arr(obj{"connector": "napping", "task": 0.0}), "type": "source"})
	waitState(t, c, "napping", "PAUSED", "PAUSED")

	// Delete: 204, then gone.
	c.check(204, "DELETE", "/connectors/src", "", nil)
	c.check(404, "GET", "/connectors/src", "", errorBody(404, "Connector src not found"))
	c.check(200, "GET", "/connectors", "", arr("broken", "napping", "sink"))

	// Unknown routes and methods answer in the same error shape.
	c.check(404, "GET", "/nope", "", errorBody(404, aString))
	c.check(405, "DELETE", "/connector-plugins", "", errorBody(405, aString))
}

func TestRESTLoggersMatchKafkaShapes(t *testing.T) {
	c, _ := contractWorker(t)

	all := c.expect(200, "GET", "/admin/loggers", "").(map[string]any)
	for _, name := range []string{"root", "connect", "connect.rest"} {
		if diffs := shapeDiff("$."+name, all[name], obj{"level": "INFO", "last_modified": nil}); len(diffs) > 0 {
			t.Errorf("GET /admin/loggers: %v (all: %s)", diffs, mustJSON(all))
		}
	}
	if got := c.expect(200, "GET", "/admin/loggers/", ""); !reflect.DeepEqual(got, any(all)) {
		t.Errorf("GET /admin/loggers/ = %s, want the same as without the slash: %s", mustJSON(got), mustJSON(all))
	}
	c.check(200, "GET", "/admin/loggers/connect.rest", "", obj{"level": "INFO", "last_modified": nil})
	c.check(404, "GET", "/admin/loggers/com.example.Nope", "", errorBody(404, "Logger com.example.Nope not found."))

	// PUT sets the logger and everything below it and lists what it changed.
	before := time.Now().UnixMilli()
	c.check(200, "PUT", "/admin/loggers/connect", `{"level":"DEBUG"}`, arr("connect", "connect.rest"))
	c.check(200, "GET", "/admin/loggers/connect.rest", "", obj{"level": "DEBUG", "last_modified": aNumber})
	if lm := field(c.expect(200, "GET", "/admin/loggers/connect", ""), "last_modified").(float64); int64(lm) < before || int64(lm) > time.Now().UnixMilli() {
		t.Errorf("last_modified %v is not the time of the PUT", lm)
	}
	if diffs := shapeDiff("$.root", field(c.expect(200, "GET", "/admin/loggers", ""), "root"), obj{"level": "INFO", "last_modified": nil}); len(diffs) > 0 {
		t.Errorf("root changed by a PUT on connect: %v", diffs)
	}
	// A logger that does not exist yet is created, as log4j does.
	c.check(200, "PUT", "/admin/loggers/com.example.MyConnector", `{"level":"trace"}`, arr("com.example.MyConnector"))
	c.check(200, "GET", "/admin/loggers/com.example.MyConnector", "", obj{"level": "TRACE", "last_modified": aNullOrInt})
	// Root sets every logger.
	c.check(200, "PUT", "/admin/loggers/root", `{"level":"WARN"}`, arr("com.example.MyConnector", "connect", "connect.rest", "root"))

	// Errors as Kafka's LoggingResource: no level is 400, an unknown level 404.
	c.check(400, "PUT", "/admin/loggers/connect", `{}`, errorBody(400, containing("level")))
	c.check(404, "PUT", "/admin/loggers/connect", `{"level":"LOUD"}`, errorBody(404, containing("LOUD")))
	c.check(400, "PUT", "/admin/loggers/connect", `{"level":`, errorBody(400, containing("malformed JSON")))

}

// TestLoggersFilterSlogRecordsByComponent checks that /admin/loggers levels are what a component's
// slog.Logger obeys, children following their parent.
func TestLoggersFilterSlogRecordsByComponent(t *testing.T) {
	var out strings.Builder
	levels := connect.NewLoggers(0) // INFO
	logger := newTextLogger(levels, &out)
	rest := logger.With("component", "connect.rest")
	task := logger.With("component", "connect.task", "connector", "x")
	rest.Debug("hidden at INFO")
	levels.Set("connect", -4) // DEBUG
	rest.Debug("shown at DEBUG")
	task.Debug("child of connect")
	logger.With("component", "broker").Debug("other component stays at INFO")
	levels.Set("connect.rest", 8) // ERROR
	rest.Warn("hidden at ERROR")
	task.Debug("sibling unaffected")
	got := out.String()
	for _, want := range []string{"shown at DEBUG", "child of connect", "sibling unaffected"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"hidden at INFO", "other component", "hidden at ERROR"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, got)
		}
	}
}

func TestRESTBadInputNamesTheFieldAndCreatesNothing(t *testing.T) {
	c, _ := contractWorker(t)
	c.check(201, "POST", "/connectors", `{"name":"keep","config":{"connector.class":"CountSource","topic":"t"}}`, obj{
		"name": "keep", "config": obj{"connector.class": "CountSource", "topic": "t", "name": "keep"}, "tasks": arr(obj{"connector": "keep", "task": 0.0}), "type": "source"})
	keep := c.expect(200, "GET", "/connectors/keep", "")
	cases := []struct {
		name, method, path, body string
		message                  kind
	}{
		{"malformed JSON", "POST", "/connectors", `{"name":"a","config":{"topic":}}`, containing("malformed JSON")},
		{"unknown connector class lists the plugins", "POST", "/connectors", `{"name":"a","config":{"connector.class":"com.example.Nope","topic":"t"}}`,
			containing("connector.class", "com.example.Nope", "com.example.CountSourceConnector", "com.example.NullSinkConnector", "com.example.BrokenSourceConnector")},
		{"missing required config", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource"}}`, containing(`"topic"`)},
		{"invalid value", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"t","count":"-1"}}`, containing("count")},
		{"bad topics.regex", "POST", "/connectors", `{"name":"a","config":{"connector.class":"NullSink","topics.regex":"a("}}`, containing("topics.regex")},
		{"PUT that would create an invalid connector", "PUT", "/connectors/a/config", `{"connector.class":"CountSource"}`, containing(`"topic"`)},
		{"PUT that would break an existing one", "PUT", "/connectors/keep/config", `{"connector.class":"CountSource","topic":"t","tasks.max":"0"}`, containing("tasks.max")},
		{"PATCH that would break an existing one", "PATCH", "/connectors/keep/config", `{"topic":null}`, containing(`"topic"`)},
		{"malformed PATCH", "PATCH", "/connectors/keep/config", `[1,2]`, containing("malformed JSON")},
		{"bad initial_state", "POST", "/connectors", `{"name":"a","config":{"connector.class":"CountSource","topic":"t"},"initial_state":"SLEEPY"}`, containing("initial_state")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := restClient{t: t, base: c.base}
			c.check(400, tc.method, tc.path, tc.body, errorBody(400, tc.message))
		})
	}
	c.check(200, "GET", "/connectors", "", arr("keep"))
	if got := c.expect(200, "GET", "/connectors/keep", ""); !reflect.DeepEqual(got, keep) {
		t.Fatalf("a rejected update changed the connector: %s, was %s", mustJSON(got), mustJSON(keep))
	}
}

func newTextLogger(levels *connect.Loggers, out io.Writer) *slog.Logger {
	return slog.New(levels.Handler(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
}

// A worker given a logger at DEBUG keeps logging at DEBUG: its loggers start at the handler's level.
func TestWorkerLoggersStartAtTheGivenHandlersLevel(t *testing.T) {
	tb := testbroker.Start(t)
	props := map[string]string{
		"bootstrap.servers":            tb.Addr(),
		"listeners":                    "http://127.0.0.1:0",
		"offset.storage.file.filename": t.TempDir() + "/connect.offsets",
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := connect.RunStandalone(context.Background(), props, connect.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c := restClient{t: t, base: "http://" + w.Addr}
	c.check(200, "GET", "/admin/loggers/root", "", obj{"level": "DEBUG", "last_modified": nil})
	c.check(200, "GET", "/admin/loggers/connect", "", obj{"level": "DEBUG", "last_modified": nil})
}
