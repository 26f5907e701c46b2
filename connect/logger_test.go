package connect_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

// loggingSource's task logs once at Start through the context's logger.
type loggingSource struct{ countSource }

func (*loggingSource) NewTask() connect.SourceTask { return loggingTask{} }

type loggingTask struct{}

func (loggingTask) Start(ctx connect.SourceTaskContext, _ map[string]string) error {
	cl, ok := ctx.(connect.ContextLogger)
	if !ok {
		panic("the worker's source task context has no logger")
	}
	cl.Logger().Info("hello from the task")
	return nil
}
func (loggingTask) Stop() error                                          { return nil }
func (loggingTask) Poll(context.Context) ([]connect.SourceRecord, error) { return nil, nil }

// A task logs through the worker's logger, with its connector and task as attributes.
func TestTasksLogThroughTheWorkersLogger(t *testing.T) {
	tb := testbroker.Start(t)
	reg := testRegistry(t)
	if err := reg.Register(connect.Plugin{Class: "com.example.LoggingSourceConnector", Type: connect.PluginSource, Version: "1.0", New: func() connect.Connector { return &loggingSource{} }}); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	props := map[string]string{"bootstrap.servers": tb.Addr(), "listeners": "http://127.0.0.1:0",
		"offset.storage.file.filename": t.TempDir() + "/offsets"}
	w, err := connect.RunStandalone(context.Background(), props, connect.Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c := restClient{t: t, base: "http://" + w.Addr}
	c.expect(201, "POST", "/connectors", `{"name":"chatty","config":{"connector.class":"com.example.LoggingSourceConnector","topic":"t"}}`)
	testutil.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "hello from the task") {
				if !strings.Contains(line, "connector=chatty") || !strings.Contains(line, "task=0") {
					t.Fatalf("task log line %q does not name its connector and task", line)
				}
				return nil
			}
		}
		return fmt.Errorf("the task's log line never reached the worker's logger:\n%s", out.String())
	})
}
