package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file runs the work a distributed worker is assigned: connector instances, their task
// configs, tasks and their statuses.

// reconcile makes what runs here match the assignment and the config topic: it starts assigned
// work, stops revoked or deleted work, restarts work whose config changed, applies target states,
// serves restart requests, and lets the leader rebalance when the set of work changed.
func (d *Distributed) reconcile(ctx context.Context) {
	d.mu.Lock()
	if d.mu.closed {
		d.mu.Unlock()
		return
	}
	assignment := d.mu.assignment
	cfg := d.mu.config
	connectors := maps.Clone(cfg.connectors)
	targets := maps.Clone(cfg.targets)
	tasks := maps.Clone(cfg.tasks)
	restarts := d.mu.restarts
	d.mu.restarts = nil
	reconfig := d.mu.reconfig
	d.mu.reconfig = map[string]bool{}
	raised := d.mu.raised
	d.mu.raised = map[string]string{}
	if d.mu.leader && d.mu.joined && cfg.workSummary() != d.lastAssigned {
		d.requestRejoinLocked(false)
	}
	d.mu.Unlock()
	target := func(name string) TargetState {
		if t, ok := targets[name]; ok {
			return t
		}
		return TargetStarted
	}

	wantConn := map[string]bool{}
	for _, n := range assignment.Connectors {
		wantConn[n] = true
	}
	wantTask := map[ConnectorTaskID]bool{}
	for _, t := range assignment.Tasks {
		wantTask[t] = true
	}

	// Stop tasks that are no longer ours, deleted, or whose config changed.
	var stopping []*distTask
	for id, t := range d.tasks {
		committed := tasks[id.Connector]
		if !wantTask[id] || id.Task >= len(committed) || !maps.Equal(committed[id.Task], t.config) {
			stopping = append(stopping, t)
			delete(d.tasks, id)
		}
	}
	for _, r := range restarts {
		for id, t := range d.tasks {
			if r.task >= 0 && id.Task != r.task {
				continue
			}
			if id.Connector == r.connector && r.IncludeTasks && (!r.OnlyFailed || t.runner.state() == StateFailed) {
				stopping = append(stopping, t)
				delete(d.tasks, id)
			}
		}
	}
	stopTasks(stopping)
	for _, t := range stopping {
		if _, ok := connectors[t.runner.connector]; ok && !wantTask[ConnectorTaskID{t.runner.connector, t.runner.id}] {
			d.writeStatus(ctx, statusTaskKey(t.runner.connector, t.runner.id), StateUnassigned, "")
		}
	}

	// Connectors.
	restartConn := map[string]bool{}
	for _, r := range restarts {
		if c, ok := d.running[r.connector]; ok && r.task < 0 && (!r.OnlyFailed || c.state == StateFailed) {
			restartConn[r.connector] = true
		}
	}
	for name, c := range d.running {
		conf, exists := connectors[name]
		if !wantConn[name] || !exists || !maps.Equal(conf, c.config) || restartConn[name] {
			d.stopConnectorInstance(c)
			delete(d.running, name)
			if exists && !wantConn[name] {
				d.writeStatus(ctx, statusConnectorKey(name), StateUnassigned, "")
			}
		}
	}
	for _, name := range assignment.Connectors {
		conf, ok := connectors[name]
		if !ok {
			continue
		}
		c, running := d.running[name]
		if !running {
			c = &distConnector{name: name, config: conf}
			d.running[name] = c
			d.applyConnectorTarget(ctx, c, target(name), tasks[name])
			continue
		}
		if c.target != target(name) {
			d.applyConnectorTarget(ctx, c, target(name), tasks[name])
		} else if reconfig[name] && c.conn != nil {
			d.generateTaskConfigs(ctx, c, tasks[name])
		}
	}

	for name, trace := range raised {
		if c, ok := d.running[name]; ok && c.conn != nil {
			c.state, c.trace = StateFailed, trace
			d.writeStatus(ctx, statusConnectorKey(name), c.state, c.trace)
		}
	}

	// Start assigned tasks whose configs are committed.
	startedSource := false
	for _, id := range assignment.Tasks {
		if _, ok := d.tasks[id]; ok {
			d.tasks[id].runner.setPaused(target(id.Connector) == TargetPaused)
			continue
		}
		committed := tasks[id.Connector]
		conf, ok := connectors[id.Connector]
		if !ok || id.Task >= len(committed) || target(id.Connector) == TargetStopped {
			continue
		}
		plugin, ok := d.registry.Lookup(conf[ConfigConnectorClass])
		if !ok {
			d.writeStatus(ctx, statusTaskKey(id.Connector, id.Task), StateFailed, fmt.Sprintf("connector.class %q is not installed on worker %s", conf[ConfigConnectorClass], d.workerID))
			continue
		}
		if plugin.Type == PluginSource && !startedSource {
			// NB: a task taken over from another worker must see the offsets that worker stored.
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := d.offsets.ReadToEnd(rctx); err != nil {
				d.logger.Warn("reading the offset topic before starting source tasks", "err", err)
			}
			cancel()
			startedSource = true
		}
		r := d.worker.startTask(id.Connector, id.Task, plugin, committed[id.Task], d.topicSet(id.Connector), target(id.Connector) == TargetPaused)
		d.tasks[id] = &distTask{runner: r, config: committed[id.Task]}
	}
	d.publishTaskStatuses(ctx)
}

func (d *Distributed) topicSet(connector string) *topicSet {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.mu.topics[connector]
	if ts == nil {
		ts = newTopicSet()
		d.mu.topics[connector] = ts
	}
	return ts
}

// applyConnectorTarget brings a connector running here to its target state.
func (d *Distributed) applyConnectorTarget(ctx context.Context, c *distConnector, target TargetState, committed []map[string]string) {
	old := c.target
	c.target = target
	if target == TargetStopped {
		d.stopConnectorInstance(c)
		c.state, c.trace = StateStopped, ""
		d.writeStatus(ctx, statusConnectorKey(c.name), StateStopped, "")
		return
	}
	if c.conn == nil && (old == "" || old == TargetStopped || c.state != StateFailed) {
		d.startConnectorInstance(ctx, c, committed)
		return
	}
	if c.state != StateFailed {
		c.state = stateFor(target)
		d.writeStatus(ctx, statusConnectorKey(c.name), c.state, "")
	}
}

func (d *Distributed) startConnectorInstance(ctx context.Context, c *distConnector, committed []map[string]string) {
	plugin, ok := d.registry.Lookup(c.config[ConfigConnectorClass])
	if !ok {
		c.state, c.trace = StateFailed, fmt.Sprintf("connector.class %q is not installed on worker %s", c.config[ConfigConnectorClass], d.workerID)
		d.writeStatus(ctx, statusConnectorKey(c.name), c.state, c.trace)
		return
	}
	c.plugin = plugin
	conn, err := d.worker.startConnector(c.name, plugin, c.config, &distConnectorContext{d: d, name: c.name})
	if err != nil {
		c.state, c.trace = StateFailed, err.Error()
		d.writeStatus(ctx, statusConnectorKey(c.name), c.state, c.trace)
		return
	}
	c.conn, c.state, c.trace = conn, stateFor(c.target), ""
	d.writeStatus(ctx, statusConnectorKey(c.name), c.state, "")
	d.generateTaskConfigs(ctx, c, committed)
}

func (d *Distributed) stopConnectorInstance(c *distConnector) {
	if c.conn == nil {
		return
	}
	d.worker.stopConnector(c.name, c.conn)
	c.conn = nil
}

// generateTaskConfigs asks the connector for task configs and, if they differ from the committed
// ones, writes them to the config topic (task-<name>-<n> records, then commit-<name>).
// NB: Kafka routes this write through the leader; here the connector's owner writes it, which is
// safe because one worker owns a connector at a time and the commit record makes the set atomic.
func (d *Distributed) generateTaskConfigs(ctx context.Context, c *distConnector, committed []map[string]string) {
	full, err := d.worker.taskConfigs(c.name, c.conn, c.config)
	if err != nil {
		c.state, c.trace = StateFailed, err.Error()
		d.writeStatus(ctx, statusConnectorKey(c.name), c.state, c.trace)
		return
	}
	same := len(full) == len(committed)
	for i := 0; same && i < len(full); i++ {
		same = maps.Equal(full[i], committed[i])
	}
	if same {
		return
	}
	records := make([]*kgo.Record, 0, len(full)+1)
	for i, tc := range full {
		v, _ := json.Marshal(propertiesValue{Properties: tc})
		records = append(records, &kgo.Record{Key: []byte(configTaskPrefix + c.name + "-" + strconv.Itoa(i)), Value: v})
	}
	v, _ := json.Marshal(commitValue{Tasks: len(full)})
	records = append(records, &kgo.Record{Key: []byte(configCommitPrefix + c.name), Value: v})
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.configLog.send(wctx, records...); err != nil {
		d.logger.Error("writing task configs", "connector", c.name, "err", err)
	}
}

// distConnectorContext is a running connector's view of the herder; its calls are served by the
// driver.
type distConnectorContext struct {
	d    *Distributed
	name string
}

func (x *distConnectorContext) RequestTaskReconfiguration() {
	x.d.mu.Lock()
	x.d.mu.reconfig[x.name] = true
	x.d.mu.Unlock()
	x.d.nudge()
}

func (x *distConnectorContext) RaiseError(err error) {
	x.d.mu.Lock()
	x.d.mu.raised[x.name] = err.Error()
	x.d.mu.Unlock()
	x.d.nudge()
}

// writeStatus writes a status record for this worker.
func (d *Distributed) writeStatus(ctx context.Context, key, state, trace string) {
	d.mu.Lock()
	gen := d.mu.generation
	d.mu.Unlock()
	st := statusRecord{State: state, WorkerID: d.workerID, Generation: gen}
	if trace != "" {
		st.Trace = &trace
	}
	d.sendStatus(ctx, key, st)
}

func (d *Distributed) sendStatus(ctx context.Context, key string, st statusRecord) {
	v, _ := json.Marshal(st)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.statusLog.send(wctx, &kgo.Record{Key: []byte(key), Value: v}); err != nil {
		d.logger.Warn("writing status", "key", key, "err", err)
	}
}

// publishTaskStatuses writes the status of every task here whose state changed.
func (d *Distributed) publishTaskStatuses(ctx context.Context) {
	for id, t := range d.tasks {
		st := t.runner.status(id.Task, d.workerID)
		if st == t.published {
			continue
		}
		d.writeStatus(ctx, statusTaskKey(id.Connector, id.Task), st.State, st.Trace)
		t.published = st
	}
}
