package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// WorkerID implements Herder.
func (d *Distributed) WorkerID() string { return d.workerID }

// Registry implements Herder.
func (d *Distributed) Registry() *Registry { return d.registry }

// Offsets returns the offset store.
func (d *Distributed) Offsets() OffsetStore { return d.offsets }

// ForwardURL implements the REST server's leader forwarding: "" when this worker is the leader,
// the leader's URL otherwise, and a 409 while a rebalance runs.
func (d *Distributed) ForwardURL() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.mu.closed:
		return "", errClosed
	case !d.mu.joined:
		return "", fmt.Errorf("%w: %s", ErrConflict, msgRebalancing)
	case d.mu.leader:
		return "", nil
	case d.mu.leaderURL == "":
		return "", fmt.Errorf("%w: %s", ErrConflict, msgStaleConfig)
	}
	return d.mu.leaderURL, nil
}

// AwaitFirstJoin waits until the worker has joined its group for the first time, or ctx ends. NB:
// only the first join is waited for, as Kafka's herder thread first ensures group membership before
// it serves queued requests; a write during a later rebalance still answers 409 at once.
func (d *Distributed) AwaitFirstJoin(ctx context.Context) error {
	select {
	case <-d.firstJoin:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CatchUp waits until this worker has read every config and offset record written so far.
func (d *Distributed) CatchUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.configLog.readToEnd(ctx); err != nil {
		return err
	}
	return d.offsets.ReadToEnd(ctx)
}

// Joined reports whether the worker runs a current assignment, i.e. is not in a rebalance.
func (d *Distributed) Joined() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.joined
}

// IsLeader reports whether this worker leads the group (REST writes go to it).
func (d *Distributed) IsLeader() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.leader && d.mu.joined
}

// checkWritableLocked refuses a write unless this worker is the leader and not rebalancing.
func (d *Distributed) checkWritableLocked() error {
	switch {
	case d.mu.closed:
		return errClosed
	case !d.mu.joined:
		return fmt.Errorf("%w: %s", ErrConflict, msgRebalancing)
	case !d.mu.leader:
		return fmt.Errorf("%w: %s", ErrConflict, msgStaleConfig)
	}
	return nil
}

func (d *Distributed) getLocked(name string) (map[string]string, error) {
	c, ok := d.mu.config.connectors[name]
	if !ok {
		return nil, fmt.Errorf("%w: Connector %s not found", ErrNotFound, name)
	}
	return c, nil
}

// Connectors implements Herder.
func (d *Distributed) Connectors() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names, _ := d.mu.config.work()
	return names
}

func (d *Distributed) pluginType(config map[string]string) PluginType {
	if p, ok := d.registry.Lookup(config[ConfigConnectorClass]); ok {
		return p.Type
	}
	return "unknown"
}

func (d *Distributed) infoLocked(name string, config map[string]string) ConnectorInfo {
	info := ConnectorInfo{Name: name, Config: maps.Clone(config), Tasks: []ConnectorTaskID{}, Type: d.pluginType(config)}
	for i := range d.mu.config.tasks[name] {
		info.Tasks = append(info.Tasks, ConnectorTaskID{Connector: name, Task: i})
	}
	return info
}

// ConnectorInfo implements Herder.
func (d *Distributed) ConnectorInfo(name string) (ConnectorInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.getLocked(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return d.infoLocked(name, c), nil
}

// ConnectorConfig implements Herder.
func (d *Distributed) ConnectorConfig(name string) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.getLocked(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(c), nil
}

// TaskConfigs implements Herder.
func (d *Distributed) TaskConfigs(name string) ([]TaskInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.getLocked(name); err != nil {
		return nil, err
	}
	out := []TaskInfo{}
	for i, tc := range d.mu.config.tasks[name] {
		out = append(out, TaskInfo{ID: ConnectorTaskID{Connector: name, Task: i}, Config: maps.Clone(tc)})
	}
	return out, nil
}

func (d *Distributed) statusLocked(key string) (state, workerID, trace string) {
	st, ok := d.mu.statuses[key]
	if !ok {
		return StateUnassigned, "", ""
	}
	if st.Trace != nil {
		trace = *st.Trace
	}
	return st.State, st.WorkerID, trace
}

// ConnectorStatus implements Herder: states and worker IDs as the status topic reports them.
func (d *Distributed) ConnectorStatus(name string) (ConnectorStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.getLocked(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	state, worker, trace := d.statusLocked(statusConnectorKey(name))
	st := ConnectorStatus{Name: name, Connector: ConnectorState{State: state, WorkerID: worker, Trace: trace}, Tasks: []TaskState{}, Type: d.pluginType(c)}
	for i := range d.mu.config.tasks[name] {
		state, worker, trace := d.statusLocked(statusTaskKey(name, i))
		st.Tasks = append(st.Tasks, TaskState{ID: i, State: state, WorkerID: worker, Trace: trace})
	}
	return st, nil
}

// TaskStatus implements Herder.
func (d *Distributed) TaskStatus(name string, task int) (TaskState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.getLocked(name); err != nil {
		return TaskState{}, err
	}
	if task < 0 || task >= len(d.mu.config.tasks[name]) {
		return TaskState{}, fmt.Errorf("%w: Task %s-%d not found", ErrNotFound, name, task)
	}
	state, worker, trace := d.statusLocked(statusTaskKey(name, task))
	return TaskState{ID: task, State: state, WorkerID: worker, Trace: trace}, nil
}

// writeConfig writes config records as the leader and waits until this worker has read them.
func (d *Distributed) writeConfig(records ...*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.configLog.send(ctx, records...); err != nil {
		return err
	}
	return d.configLog.readToEnd(ctx)
}

func jsonRecord(key string, v any) *kgo.Record {
	r := &kgo.Record{Key: []byte(key)}
	if v != nil {
		r.Value, _ = json.Marshal(v)
	}
	return r
}

// PutConnectorConfig implements Herder. Only the leader writes; the REST server forwards here.
func (d *Distributed) PutConnectorConfig(name string, config map[string]string, allowReplace bool, initial TargetState) (ConnectorInfo, bool, error) {
	config, _, initial, err := checkConnectorPut(d.registry, name, config, initial)
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	d.mu.Lock()
	if err := d.checkWritableLocked(); err != nil {
		d.mu.Unlock()
		return ConnectorInfo{}, false, err
	}
	_, exists := d.mu.config.connectors[name]
	d.mu.Unlock()
	if exists && !allowReplace {
		return ConnectorInfo{}, false, fmt.Errorf("%w: Connector %s already exists", ErrAlreadyExists, name)
	}
	var records []*kgo.Record
	if !exists && initial != TargetStarted {
		records = append(records, jsonRecord(configTargetPrefix+name, targetRecordValue(initial)))
	}
	records = append(records, jsonRecord(configConnectorPrefix+name, propertiesValue{Properties: config}))
	if err := d.writeConfig(records...); err != nil {
		return ConnectorInfo{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.getLocked(name)
	if err != nil {
		return ConnectorInfo{}, false, fmt.Errorf("%w: %s", ErrConflict, msgStaleConfig)
	}
	return d.infoLocked(name, c), !exists, nil
}

// lockForWrite takes d.mu for a write to connector name: it fails (with d.mu released) when this
// worker cannot write now or there is no such connector, and returns with d.mu held otherwise.
func (d *Distributed) lockForWrite(name string) error {
	d.mu.Lock()
	if err := d.checkWritableLocked(); err != nil {
		d.mu.Unlock()
		return err
	}
	if _, err := d.getLocked(name); err != nil {
		d.mu.Unlock()
		return err
	}
	return nil
}

// DeleteConnector implements Herder. Source offsets stay in the offset topic, as in Kafka.
func (d *Distributed) DeleteConnector(name string) error {
	if err := d.lockForWrite(name); err != nil {
		return err
	}
	tasks := len(d.mu.config.tasks[name])
	d.mu.Unlock()
	if err := d.writeConfig(jsonRecord(configConnectorPrefix+name, nil), jsonRecord(configTargetPrefix+name, nil)); err != nil {
		return err
	}
	statuses := []*kgo.Record{jsonRecord(statusConnectorKey(name), nil)}
	for i := range tasks {
		statuses = append(statuses, jsonRecord(statusTaskKey(name, i), nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.statusLog.send(ctx, statuses...)
}

// SetTargetState implements Herder. Stopping also writes an empty task set, as Kafka does, so a
// stopped connector keeps no tasks anywhere.
func (d *Distributed) SetTargetState(name string, target TargetState) error {
	if err := d.lockForWrite(name); err != nil {
		return err
	}
	d.mu.Unlock()
	var records []*kgo.Record
	if target == TargetStopped {
		records = append(records, jsonRecord(configCommitPrefix+name, commitValue{Tasks: 0}))
	}
	records = append(records, jsonRecord(configTargetPrefix+name, targetRecordValue(target)))
	return d.writeConfig(records...)
}

// RestartConnector implements Herder: a restart-connector-<name> record tells the workers that run
// the connector and its tasks.
func (d *Distributed) RestartConnector(name string, includeTasks, onlyFailed bool) error {
	if err := d.lockForWrite(name); err != nil {
		return err
	}
	stopped := d.mu.config.target(name) == TargetStopped
	d.mu.Unlock()
	if stopped {
		return nil
	}
	return d.writeConfig(jsonRecord(configRestartPrefix+name, restartValue{IncludeTasks: includeTasks, OnlyFailed: onlyFailed}))
}

// RestartTask implements Herder: the worker that runs the task restarts it; others forward the
// request to it (its worker ID from the status topic).
func (d *Distributed) RestartTask(name string, task int) error {
	d.mu.Lock()
	if _, err := d.getLocked(name); err != nil {
		d.mu.Unlock()
		return err
	}
	if task < 0 || task >= len(d.mu.config.tasks[name]) {
		d.mu.Unlock()
		return fmt.Errorf("%w: Task %s-%d not found", ErrNotFound, name, task)
	}
	_, owner, _ := d.statusLocked(statusTaskKey(name, task))
	d.mu.Unlock()
	if owner == d.workerID {
		d.mu.Lock()
		d.mu.restarts = append(d.mu.restarts, restartRequest{connector: name, task: task, restartValue: restartValue{IncludeTasks: true}})
		d.mu.Unlock()
		d.nudge()
		return nil
	}
	if owner == "" {
		return fmt.Errorf("%w: Task %s-%d is not assigned to any worker yet", ErrConflict, name, task)
	}
	u := "http://" + owner + "/connectors/" + url.PathEscape(name) + "/tasks/" + strconv.Itoa(task) + "/restart?forward=false"
	req, err := http.NewRequest(http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("forwarding the restart of task %s-%d to worker %s: %w", name, task, owner, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("worker %s answered %d to the restart of task %s-%d", owner, resp.StatusCode, name, task)
	}
	return nil
}

// ConnectorOffsets implements Herder.
func (d *Distributed) ConnectorOffsets(ctx context.Context, name string) ([]PartitionOffset, error) {
	d.mu.Lock()
	c, err := d.getLocked(name)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if d.pluginType(c) == PluginSink {
		return sinkOffsets(ctx, d.clientOpts(), name)
	}
	if err := d.offsets.ReadToEnd(ctx); err != nil {
		return nil, err
	}
	return d.offsets.All(name)
}

// stoppedType returns the type of a connector that is stopped with no tasks, as Kafka requires
// before its offsets change.
func (d *Distributed) stoppedType(name string) (PluginType, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkWritableLocked(); err != nil {
		return "", err
	}
	c, err := d.getLocked(name)
	if err != nil {
		return "", err
	}
	if d.mu.config.target(name) != TargetStopped || len(d.mu.config.tasks[name]) != 0 {
		return "", errNotStopped(name)
	}
	return d.pluginType(c), nil
}

// AlterConnectorOffsets implements Herder.
func (d *Distributed) AlterConnectorOffsets(ctx context.Context, name string, offsets []PartitionOffset) (string, error) {
	typ, err := d.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsAlteredMessage, alterSinkOffsets(ctx, d.clientOpts(), name, offsets)
	}
	if err := checkSourceOffsets(offsets); err != nil {
		return "", err
	}
	if err := d.offsets.Put(name, offsets); err != nil {
		return "", err
	}
	return offsetsAlteredMessage, d.offsets.ReadToEnd(ctx)
}

// ResetConnectorOffsets implements Herder.
func (d *Distributed) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	typ, err := d.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsResetMessage, resetSinkOffsets(ctx, d.clientOpts(), name)
	}
	if err := d.offsets.ReadToEnd(ctx); err != nil {
		return "", err
	}
	all, _ := d.offsets.All(name)
	for i := range all {
		all[i].Offset = nil
	}
	if err := d.offsets.Put(name, all); err != nil {
		return "", err
	}
	return offsetsResetMessage, d.offsets.ReadToEnd(ctx)
}

// ActiveTopics implements Herder: the topics the status topic lists for the connector, whichever
// worker ran its tasks.
func (d *Distributed) ActiveTopics(name string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.getLocked(name); err != nil {
		return nil, err
	}
	out := []string{}
	for topic := range d.mu.active[name] {
		out = append(out, topic)
	}
	sort.Strings(out)
	return out, nil
}

// ResetActiveTopics implements Herder: tombstones for the connector's active topics (leader only).
func (d *Distributed) ResetActiveTopics(name string) error {
	if err := d.lockForWrite(name); err != nil {
		return err
	}
	var records []*kgo.Record
	for topic := range d.mu.active[name] {
		records = append(records, &kgo.Record{Key: []byte(activeTopicKey(topic, name))})
	}
	d.mu.Unlock()
	if len(records) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.statusLog.send(ctx, records...); err != nil {
		return err
	}
	return d.statusLog.readToEnd(ctx)
}
