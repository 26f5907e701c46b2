package connect_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// flakySource's task fails its polls while failing is set.
type flakySource struct{ countSource }

var failing atomic.Bool

func (*flakySource) NewTask() connect.SourceTask { return flakyTask{} }

type flakyTask struct{}

func (flakyTask) Start(connect.SourceTaskContext, map[string]string) error { return nil }
func (flakyTask) Stop() error                                              { return nil }
func (flakyTask) Poll(context.Context) ([]connect.SourceRecord, error) {
	if failing.Load() {
		return nil, errors.New("disk on fire")
	}
	return nil, nil
}

func TestFailedTaskShowsTraceAndRestartsThroughREST(t *testing.T) {
	tb := testbroker.Start(t)
	reg := testRegistry(t)
	if err := reg.Register(connect.Plugin{Class: "com.example.FlakySourceConnector", Type: connect.PluginSource, Version: "1.0", New: func() connect.Connector { return &flakySource{} }}); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, tb, reg, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	failing.Store(true)
	c.expect(201, "POST", "/connectors", `{"name":"flaky","config":{"connector.class":"com.example.FlakySourceConnector","topic":"t"}}`)
	waitState(t, c, "flaky", "RUNNING", "FAILED")
	ts := c.expect(200, "GET", "/connectors/flaky/tasks/0/status", "")
	if tr, _ := field(ts, "trace").(string); !strings.Contains(tr, "disk on fire") {
		t.Fatalf("task status = %v", ts)
	}
	failing.Store(false)
	st := c.expect(202, "POST", "/connectors/flaky/restart?includeTasks=true&onlyFailed=true", "")
	if field(st, "name") != "flaky" {
		t.Fatalf("restart body = %v", st)
	}
	waitState(t, c, "flaky", "RUNNING", "RUNNING")
	if ts := c.expect(200, "GET", "/connectors/flaky/tasks/0/status", ""); field(ts, "trace") != nil {
		t.Fatalf("trace survived restart: %v", ts)
	}
}

// panickySource's task panics in Poll: a plugin's bug.
type panickySource struct{ countSource }

func (*panickySource) NewTask() connect.SourceTask { return panickyTask{} }

type panickyTask struct{}

func (panickyTask) Start(connect.SourceTaskContext, map[string]string) error { return nil }
func (panickyTask) Stop() error                                              { return nil }
func (panickyTask) Poll(context.Context) ([]connect.SourceRecord, error) {
	panic("sensor driver bug")
}

func TestPanickingTaskFailsWithItsTraceAndTheWorkerKeepsServing(t *testing.T) {
	tb := testbroker.Start(t)
	reg := testRegistry(t)
	if err := reg.Register(connect.Plugin{Class: "com.example.PanickySourceConnector", Type: connect.PluginSource, Version: "1.0", New: func() connect.Connector { return &panickySource{} }}); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, tb, reg, "")
	c := restClient{t: t, base: "http://" + w.Addr}
	c.expect(201, "POST", "/connectors", `{"name":"panicky","config":{"connector.class":"com.example.PanickySourceConnector","topic":"t"}}`)
	waitState(t, c, "panicky", "RUNNING", "FAILED")
	ts := c.expect(200, "GET", "/connectors/panicky/tasks/0/status", "")
	if tr, _ := field(ts, "trace").(string); !strings.Contains(tr, "panicked") || !strings.Contains(tr, "sensor driver bug") {
		t.Fatalf("task status = %v", ts)
	}
	// The worker still runs other connectors.
	c.expect(201, "POST", "/connectors", `{"name":"fine","config":{"connector.class":"CountSource","topic":"t"}}`)
	waitState(t, c, "fine", "RUNNING", "RUNNING")
}
