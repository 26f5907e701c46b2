package connect

import (
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConfigTopicTaskConfigsBecomeVisibleOnlyWithTheirCommit(t *testing.T) {
	c := newClusterConfig()
	steps := []struct{ key, value string }{
		{"connector-fs", `{"properties":{"connector.class":"FileStreamSource","tasks.max":"2"}}`},
		{"task-fs-0", `{"properties":{"file":"a"}}`},
		{"task-fs-1", `{"properties":{"file":"b"}}`},
	}
	for _, s := range steps {
		if _, err := c.apply(s.key, []byte(s.value)); err != nil {
			t.Fatalf("%s: %v", s.key, err)
		}
	}
	if conns, tasks := c.work(); !reflect.DeepEqual(conns, []string{"fs"}) || len(tasks) != 0 {
		t.Fatalf("before the commit: connectors %v tasks %v, want fs and no tasks", conns, tasks)
	}
	if _, err := c.apply("commit-fs", []byte(`{"tasks":2}`)); err != nil {
		t.Fatal(err)
	}
	if _, tasks := c.work(); len(tasks) != 2 || c.tasks["fs"][1]["file"] != "b" {
		t.Fatalf("after the commit: %v", c.tasks)
	}
	if _, err := c.apply("commit-fs", []byte(`{"tasks":3}`)); err == nil {
		t.Error("a commit of a task that was never written must be refused")
	}
	if len(c.tasks["fs"]) != 2 {
		t.Error("a refused commit must leave the committed tasks")
	}
	// A connector named with dashes keeps its name in task keys.
	if _, err := c.apply("connector-my-conn-1", []byte(`{"properties":{}}`)); err != nil {
		t.Fatal(err)
	}
	c.apply("task-my-conn-1-0", []byte(`{"properties":{"x":"y"}}`))
	if _, err := c.apply("commit-my-conn-1", []byte(`{"tasks":1}`)); err != nil || c.tasks["my-conn-1"][0]["x"] != "y" {
		t.Fatalf("dashed connector name: %v %v", err, c.tasks)
	}
}

func TestConfigTopicTargetStatesReadKafkasV1AndV2Records(t *testing.T) {
	c := newClusterConfig()
	c.apply("connector-a", []byte(`{"properties":{}}`))
	for _, tc := range []struct {
		value string
		want  TargetState
	}{
		{`{"state":"PAUSED"}`, TargetPaused},
		{`{"state":"STARTED"}`, TargetStarted},
		{`{"state":"PAUSED","state.v2":"STOPPED"}`, TargetStopped},
	} {
		if _, err := c.apply("target-state-a", []byte(tc.value)); err != nil {
			t.Fatal(err)
		}
		if got := c.target("a"); got != tc.want {
			t.Errorf("%s: target %s, want %s", tc.value, got, tc.want)
		}
	}
	if _, err := c.apply("target-state-a", []byte(`{"state":"SLEEPING"}`)); err == nil {
		t.Error("an unknown state must be reported")
	}
	// Deleting the connector forgets everything about it.
	c.apply("connector-a", nil)
	if conns, _ := c.work(); len(conns) != 0 || c.target("a") != TargetStarted {
		t.Errorf("after the tombstone: %v %v", conns, c.targets)
	}
	if r, err := c.apply("restart-connector-b", []byte(`{"include-tasks":true,"only-failed":false}`)); err != nil || r == nil || !r.IncludeTasks || r.task != -1 {
		t.Errorf("restart record: %+v %v", r, err)
	}
}

func TestOffsetTopicRecordsUseKafkasKeyAndValueShapes(t *testing.T) {
	s := newKafkaOffsetStore()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.apply(&kgo.Record{Key: []byte(`["fs",{"filename":"/in.txt"}]`), Value: []byte(`{"position":42}`)}, logger)
	s.apply(&kgo.Record{Key: []byte(`not json`), Value: []byte(`{}`)}, logger)
	s.apply(&kgo.Record{Key: []byte(`["fs"]`), Value: []byte(`{}`)}, logger)
	off, _ := s.Get("fs", map[string]any{"filename": "/in.txt"})
	if off["position"] != int64(42) {
		t.Fatalf("offset %v, want position 42 as an integer", off)
	}
	s.apply(&kgo.Record{Key: []byte(`["fs",{"filename":"/in.txt"}]`)}, logger)
	if all, _ := s.All("fs"); len(all) != 0 {
		t.Fatalf("a tombstone must remove the offset: %v", all)
	}
}

func FuzzConfigTopicRecord(f *testing.F) {
	f.Add("connector-a", []byte(`{"properties":{"k":"v"}}`))
	f.Add("task-a-0", []byte(`{"properties":{}}`))
	f.Add("commit-a", []byte(`{"tasks":1}`))
	f.Add("target-state-a", []byte(`{"state":"PAUSED","state.v2":"STOPPED"}`))
	f.Add("restart-connector-a", []byte(`{"include-tasks":true}`))
	f.Add("task--1", []byte(`null`))
	f.Add("commit-a", []byte(`{"tasks":4000000000000}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		c := newClusterConfig()
		c.apply("connector-a", []byte(`{"properties":{}}`))
		c.apply("task-a-0", []byte(`{"properties":{}}`))
		c.apply(key, value) // must not panic, whatever it is given
		c.work()
		c.workSummary()
		s := newKafkaOffsetStore()
		s.apply(&kgo.Record{Key: []byte(key), Value: value}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
}
