package connect

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/gregor-streams/gregor/internal/dirlock"
)

// Standalone is the standalone herder: it runs every connector and task in this process, keeps
// connector configs in memory and source offsets in offset.storage.file.filename.
//
// Lock order: Standalone.mu, then a task runner's mu. Task goroutines never take Standalone.mu.
type Standalone struct {
	worker     *Worker
	logger     *slog.Logger
	offsetLock *dirlock.Lock // the offset file is this worker's alone

	wg sync.WaitGroup // connector-context callbacks
	mu struct {
		sync.Mutex
		closed     bool
		connectors map[string]*connectorState
	}
}

type connectorState struct {
	name   string
	config map[string]string
	plugin *Plugin
	target TargetState

	conn  Connector // running instance, nil when not started
	state string
	trace string

	taskConfigs []map[string]string
	tasks       []*taskRunner // nil entries when stopped

	topics *topicSet // shared with the task runners
}

// NewStandalone opens the offset store and returns a herder with no connectors.
func NewStandalone(cfg WorkerConfig, opts Options) (*Standalone, error) {
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// NB: the offset file has one owner, as a broker's log.dirs do: a second worker on it would
	// overwrite the first one's offsets with its own. The lock (`<file>.lock`, so workers whose
	// files merely share a directory such as /tmp do not refuse each other) is taken before the
	// file is read and refuses the second worker naming the holder's PID.
	if err := os.MkdirAll(filepath.Dir(cfg.OffsetStorageFile), 0o755); err != nil {
		return nil, fmt.Errorf("connect: offset.storage.file.filename %s: %w", cfg.OffsetStorageFile, err)
	}
	lock, err := dirlock.AcquireFile(cfg.OffsetStorageFile)
	if err != nil {
		return nil, fmt.Errorf("connect: offset.storage.file.filename %s: %w", cfg.OffsetStorageFile, err)
	}
	offsets, err := OpenFileOffsetStore(cfg.OffsetStorageFile)
	if err != nil {
		_ = lock.Release()
		return nil, err
	}
	logger := opts.Logger.With("component", "connect")
	s := &Standalone{worker: newWorker(cfg, opts.Registry, logger, opts.WorkerID, offsets, opts.Dialer, opts.Metrics), logger: logger, offsetLock: lock}
	s.mu.connectors = map[string]*connectorState{}
	return s, nil
}

// WorkerID implements Herder.
func (s *Standalone) WorkerID() string { return s.worker.ID() }

// Registry implements Herder.
func (s *Standalone) Registry() *Registry { return s.worker.Registry() }

// Offsets returns the offset store.
func (s *Standalone) Offsets() OffsetStore { return s.worker.Offsets() }

// Close stops every connector and task (committing what they have) and waits for them. Idempotent.
func (s *Standalone) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	for _, c := range s.mu.connectors {
		s.stopConnectorLocked(c)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.offsetLock.Release()
}

// Connectors implements Herder.
func (s *Standalone) Connectors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.mu.connectors))
	for n := range s.mu.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Standalone) getLocked(name string) (*connectorState, error) {
	c, ok := s.mu.connectors[name]
	if !ok {
		return nil, fmt.Errorf("%w: Connector %s not found", ErrNotFound, name)
	}
	return c, nil
}

func (c *connectorState) infoLocked() ConnectorInfo {
	info := ConnectorInfo{Name: c.name, Config: maps.Clone(c.config), Tasks: []ConnectorTaskID{}, Type: c.plugin.Type}
	for i := range c.taskConfigs {
		info.Tasks = append(info.Tasks, ConnectorTaskID{Connector: c.name, Task: i})
	}
	return info
}

// ConnectorInfo implements Herder.
func (s *Standalone) ConnectorInfo(name string) (ConnectorInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return c.infoLocked(), nil
}

// ConnectorConfig implements Herder.
func (s *Standalone) ConnectorConfig(name string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(c.config), nil
}

// PutConnectorConfig implements Herder. Validation happens before anything changes, so an invalid
// config leaves no trace.
func (s *Standalone) PutConnectorConfig(name string, config map[string]string, allowReplace bool, initial TargetState) (ConnectorInfo, bool, error) {
	config, plugin, initial, err := checkConnectorPut(s.worker.registry, name, config, initial)
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ConnectorInfo{}, false, errClosed
	}
	c, exists := s.mu.connectors[name]
	if exists && !allowReplace {
		return ConnectorInfo{}, false, fmt.Errorf("%w: Connector %s already exists", ErrAlreadyExists, name)
	}
	if exists {
		s.stopConnectorLocked(c)
		c.config, c.plugin = config, plugin
	} else {
		c = &connectorState{name: name, config: config, plugin: plugin, target: initial, topics: newTopicSet()}
		s.mu.connectors[name] = c
	}
	s.startConnectorLocked(c)
	return c.infoLocked(), !exists, nil
}

// DeleteConnector implements Herder. Source offsets stay in the offset store, as in Kafka.
func (s *Standalone) DeleteConnector(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return err
	}
	s.stopConnectorLocked(c)
	delete(s.mu.connectors, name)
	return nil
}

// ConnectorStatus implements Herder.
func (s *Standalone) ConnectorStatus(name string) (ConnectorStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	st := ConnectorStatus{Name: name, Connector: ConnectorState{State: c.state, WorkerID: s.worker.id, Trace: c.trace}, Tasks: []TaskState{}, Type: c.plugin.Type}
	for i, t := range c.tasks {
		if t == nil {
			continue
		}
		st.Tasks = append(st.Tasks, t.status(i, s.worker.id))
	}
	return st, nil
}

// TaskConfigs implements Herder.
func (s *Standalone) TaskConfigs(name string) ([]TaskInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return nil, err
	}
	out := []TaskInfo{}
	for i, tc := range c.taskConfigs {
		out = append(out, TaskInfo{ID: ConnectorTaskID{Connector: name, Task: i}, Config: maps.Clone(tc)})
	}
	return out, nil
}

// TaskStatus implements Herder.
func (s *Standalone) TaskStatus(name string, task int) (TaskState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return TaskState{}, err
	}
	if task < 0 || task >= len(c.tasks) || c.tasks[task] == nil {
		return TaskState{}, fmt.Errorf("%w: Task %s-%d not found", ErrNotFound, name, task)
	}
	return c.tasks[task].status(task, s.worker.id), nil
}

// RestartConnector implements Herder.
func (s *Standalone) RestartConnector(name string, includeTasks, onlyFailed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return err
	}
	if c.target == TargetStopped {
		return nil
	}
	if !onlyFailed || c.state == StateFailed {
		s.stopConnectorInstanceLocked(c)
		s.startConnectorInstanceLocked(c)
	}
	if includeTasks {
		for i, t := range c.tasks {
			if t != nil && (!onlyFailed || t.state() == StateFailed) {
				s.restartTaskLocked(c, i)
			}
		}
	}
	return nil
}

// RestartTask implements Herder.
func (s *Standalone) RestartTask(name string, task int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return err
	}
	if task < 0 || task >= len(c.tasks) || c.tasks[task] == nil {
		return fmt.Errorf("%w: Task %s-%d not found", ErrNotFound, name, task)
	}
	s.restartTaskLocked(c, task)
	return nil
}

// SetTargetState implements Herder (pause, resume, stop).
func (s *Standalone) SetTargetState(name string, target TargetState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return err
	}
	if c.target == target {
		return nil
	}
	old := c.target
	c.target = target
	switch {
	case target == TargetStopped:
		s.stopConnectorLocked(c)
		c.state = StateStopped
	case old == TargetStopped:
		s.startConnectorLocked(c)
	default: // running <-> paused
		if c.conn != nil && c.state != StateFailed {
			c.state = stateFor(target)
		}
		for _, t := range c.tasks {
			if t != nil {
				t.setPaused(target == TargetPaused)
			}
		}
	}
	return nil
}

func stateFor(t TargetState) string {
	switch t {
	case TargetPaused:
		return StatePaused
	case TargetStopped:
		return StateStopped
	}
	return StateRunning
}

// startConnectorLocked starts the connector instance and its tasks, honouring the target state.
func (s *Standalone) startConnectorLocked(c *connectorState) {
	if c.target == TargetStopped {
		c.state = StateStopped
		// NB: like Kafka, a stopped connector keeps no task configs.
		c.taskConfigs, c.tasks = nil, nil
		return
	}
	s.startConnectorInstanceLocked(c)
	if c.conn == nil {
		return
	}
	s.reconfigureTasksLocked(c)
}

func (s *Standalone) startConnectorInstanceLocked(c *connectorState) {
	ctx := &connectorContext{s: s, name: c.name}
	conn, err := s.worker.startConnector(c.name, c.plugin, c.config, ctx)
	if err != nil {
		c.state, c.trace = StateFailed, err.Error()
		return
	}
	ctx.conn = conn
	c.conn, c.state, c.trace = conn, stateFor(c.target), ""
}

func (s *Standalone) stopConnectorInstanceLocked(c *connectorState) {
	if c.conn == nil {
		return
	}
	s.worker.stopConnector(c.name, c.conn)
	c.conn = nil
	c.state = StateUnassigned
}

// reconfigureTasksLocked asks the connector for task configs and (re)starts every task.
func (s *Standalone) reconfigureTasksLocked(c *connectorState) {
	configs, err := s.worker.taskConfigs(c.name, c.conn, c.config)
	if err != nil {
		c.state, c.trace = StateFailed, err.Error()
		return
	}
	s.stopTasksLocked(c)
	c.taskConfigs = configs
	c.tasks = make([]*taskRunner, len(configs))
	for i := range configs {
		c.tasks[i] = s.newTaskLocked(c, i)
	}
}

func (s *Standalone) newTaskLocked(c *connectorState, id int) *taskRunner {
	return s.worker.startTask(c.name, id, c.plugin, c.taskConfigs[id], c.topics, c.target == TargetPaused)
}

func (s *Standalone) restartTaskLocked(c *connectorState, id int) {
	c.tasks[id].stop()
	c.tasks[id] = s.newTaskLocked(c, id)
}

func (s *Standalone) stopTasksLocked(c *connectorState) {
	// Stop concurrently: each task commits before it exits.
	var wg sync.WaitGroup
	for _, t := range c.tasks {
		if t != nil {
			wg.Add(1)
			go func() { defer wg.Done(); t.stop() }()
		}
	}
	wg.Wait()
}

func (s *Standalone) stopConnectorLocked(c *connectorState) {
	s.stopTasksLocked(c)
	c.tasks = nil
	c.taskConfigs = nil
	s.stopConnectorInstanceLocked(c)
}

// connectorContext implements ConnectorContext; its callbacks run asynchronously because the
// connector may call them while the herder holds its lock.
type connectorContext struct {
	s    *Standalone
	name string
	conn Connector
}

func (x *connectorContext) RequestTaskReconfiguration() {
	x.async(func(c *connectorState) { x.s.reconfigureTasksLocked(c) })
}

func (x *connectorContext) RaiseError(err error) {
	x.async(func(c *connectorState) { c.state, c.trace = StateFailed, err.Error() })
}

func (x *connectorContext) async(f func(c *connectorState)) {
	x.s.wg.Add(1)
	go func() {
		defer x.s.wg.Done()
		x.s.mu.Lock()
		defer x.s.mu.Unlock()
		c, ok := x.s.mu.connectors[x.name]
		// Only act if this context's instance is still the running one.
		if ok && !x.s.mu.closed && c.conn == x.conn {
			f(c)
		}
	}()
}

// ConnectorOffsets implements Herder.
func (s *Standalone) ConnectorOffsets(ctx context.Context, name string) ([]PartitionOffset, error) {
	s.mu.Lock()
	c, err := s.getLocked(name)
	var typ PluginType
	if err == nil {
		typ = c.plugin.Type
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if typ == PluginSource {
		out, err := s.worker.offsets.All(name)
		if out == nil {
			out = []PartitionOffset{}
		}
		return out, err
	}
	return sinkOffsets(ctx, s.worker.clientOpts(), name)
}

// ActiveTopics implements Herder.
func (s *Standalone) ActiveTopics(name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return nil, err
	}
	return c.topics.list(), nil
}

// ResetActiveTopics implements Herder.
func (s *Standalone) ResetActiveTopics(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return err
	}
	c.topics.reset()
	return nil
}
