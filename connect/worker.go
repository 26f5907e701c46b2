package connect

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Worker runs connector instances and tasks for a herder: it owns what running them needs (the
// worker config with its converters and flush timings, the source offset store, the Kafka dialer,
// the logger) and the halt gate every task runner passes through. It decides nothing: which
// connectors and tasks run here, and with which configs, is the herder's job (Standalone runs
// everything; Distributed runs what the group's leader assigned). Both herders use it through the
// methods below and never reach into a task runner's environment otherwise.
type Worker struct {
	cfg      WorkerConfig
	registry *Registry
	logger   *slog.Logger
	id       string
	offsets  OffsetStore
	dial     Dialer // Options.Dialer, or a distributed worker's connection tracker
	metrics  *workerMetrics

	// halt is taken for reading around every call into a task and every write or commit a task
	// runner makes; HaltTasks takes it for writing once, to stop all of them at once.
	halt struct {
		sync.RWMutex
		halted bool
	}
}

// newWorker returns a worker whose tasks store source offsets in offsets and dial Kafka with dial
// (nil dials directly). id is the worker ID statuses report.
// Its metrics go to reg (nil: a registry of its own, not exposed).
func newWorker(cfg WorkerConfig, registry *Registry, logger *slog.Logger, id string, offsets OffsetStore, dial Dialer, reg prometheus.Registerer) *Worker {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Worker{cfg: cfg, registry: registry, logger: logger, id: id, offsets: offsets, dial: dial, metrics: newWorkerMetrics(reg)}
}

// ID is the worker ID statuses report.
func (w *Worker) ID() string { return w.id }

// Registry is the plugins the worker can run.
func (w *Worker) Registry() *Registry { return w.registry }

// Offsets is the source offset store.
func (w *Worker) Offsets() OffsetStore { return w.offsets }

// HaltTasks stops every task runner of the worker from calling into its task, writing, storing offsets
// or committing, and waits for such a call under way to return. Irreversible.
func (w *Worker) HaltTasks() {
	w.halt.Lock()
	w.halt.halted = true
	w.halt.Unlock()
}

// clientOpts are the options of every Kafka client the worker makes.
func (w *Worker) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	return clientOpts(w.cfg.BootstrapServers, w.dial, extra...)
}

// callConnector runs a call into a connector plugin, turning a panic (a plugin's bug) into an
// error, as Kafka's worker catches any Throwable from a connector.
func callConnector(name, what string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("connector %s panicked in %s: %v", name, what, v)
		}
	}()
	return fn()
}

// startConnector creates an instance of plugin and starts it with a copy of config; ctx is the
// herder's connector context. A failed (or panicking) Start returns the error to report as the
// connector's trace, and no instance.
func (w *Worker) startConnector(name string, plugin *Plugin, config map[string]string, ctx ConnectorContext) (Connector, error) {
	var conn Connector
	err := callConnector(name, "Start", func() error {
		conn = plugin.New()
		return conn.Start(ctx, maps.Clone(config))
	})
	if err != nil {
		w.logger.Error("connector failed to start", "connector", name, "err", err)
		return nil, err
	}
	return conn, nil
}

// stopConnector stops a running connector instance; a failure is logged, as Kafka does.
func (w *Worker) stopConnector(name string, conn Connector) {
	if err := callConnector(name, "Stop", conn.Stop); err != nil {
		w.logger.Warn("connector stop failed", "connector", name, "err", err)
	}
}

// taskConfigs asks a running connector for at most tasks.max task configs and returns each one
// merged over the connector's config. NB: task configs carry the connector's keys too, as Kafka's
// do, so tasks see converters.
func (w *Worker) taskConfigs(name string, conn Connector, connectorConfig map[string]string) ([]map[string]string, error) {
	maxTasks := 1
	if v, err := strconv.Atoi(connectorConfig[ConfigTasksMax]); err == nil && v > 0 {
		maxTasks = v
	}
	var configs []map[string]string
	err := callConnector(name, "TaskConfigs", func() (err error) {
		configs, err = conn.TaskConfigs(maxTasks)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(configs) > maxTasks {
		configs = configs[:maxTasks]
	}
	full := make([]map[string]string, len(configs))
	for i, tc := range configs {
		full[i] = maps.Clone(connectorConfig)
		maps.Copy(full[i], tc)
	}
	return full, nil
}

// startTask starts task id of connector with its full config; topics collects the connector's
// active topics. The caller stops the returned runner.
func (w *Worker) startTask(connector string, id int, plugin *Plugin, config map[string]string, topics *topicSet, paused bool) *taskRunner {
	t := newTaskRunner(w, connector, id, plugin, config)
	t.topics = topics
	t.setPaused(paused)
	t.start()
	return t
}

// topicSet is a connector's active topics. Its own lock comes after every other in the lock order.
type topicSet struct {
	mu struct {
		sync.Mutex
		topics map[string]bool
	}
}

func newTopicSet() *topicSet {
	ts := &topicSet{}
	ts.mu.topics = map[string]bool{}
	return ts
}

func (ts *topicSet) add(topic string) {
	ts.mu.Lock()
	ts.mu.topics[topic] = true
	ts.mu.Unlock()
}

func (ts *topicSet) remove(topic string) {
	ts.mu.Lock()
	delete(ts.mu.topics, topic)
	ts.mu.Unlock()
}

func (ts *topicSet) list() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	// NB: never nil: REST shows an empty list as [], not null.
	out := slices.AppendSeq(make([]string, 0, len(ts.mu.topics)), maps.Keys(ts.mu.topics))
	slices.Sort(out)
	return out
}

func (ts *topicSet) reset() {
	ts.mu.Lock()
	clear(ts.mu.topics)
	ts.mu.Unlock()
}
