package connect

import (
	"context"
	"errors"
	"maps"
	"strconv"
)

// Connector and task states, as Kafka Connect reports them.
const (
	StateUnassigned = "UNASSIGNED"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
	StateStopped    = "STOPPED"
)

// TargetState is the state a user asked for.
type TargetState string

// Target states (initial_state accepts these names).
const (
	TargetStarted TargetState = "RUNNING"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// ConnectorTaskID names a task in REST shape.
type ConnectorTaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is GET /connectors/{n}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []ConnectorTaskID `json:"tasks"`
	Type   PluginType        `json:"type"`
}

// ConnectorState is the "connector" part of a status.
type ConnectorState struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskState is one task's status.
type TaskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// ConnectorStatus is GET /connectors/{n}/status.
type ConnectorStatus struct {
	Name      string         `json:"name"`
	Connector ConnectorState `json:"connector"`
	Tasks     []TaskState    `json:"tasks"`
	Type      PluginType     `json:"type"`
}

// TaskInfo is one element of GET /connectors/{n}/tasks.
type TaskInfo struct {
	ID     ConnectorTaskID   `json:"id"`
	Config map[string]string `json:"config"`
}

// ValidationError is a connector config that failed validation; Infos lists every key's result.
type ValidationError struct {
	Infos ConfigInfos
}

func (e *ValidationError) Error() string {
	msg := "Connector configuration is invalid and contains the following " + strconv.Itoa(e.Infos.ErrorCount) + " error(s):"
	for _, c := range e.Infos.Configs {
		for _, m := range c.Value.Errors {
			msg += "\n" + m
		}
	}
	return msg + "\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalidConfig }

// Herder manages connectors for the REST API. The standalone herder runs everything in one
// process; a distributed herder implements the same interface over the config, offset and status
// topics. Every method is goroutine-safe. Errors wrap ErrNotFound, ErrAlreadyExists, ErrConflict or
// ErrInvalidConfig (as *ValidationError).
type Herder interface {
	WorkerID() string
	Connectors() []string
	ConnectorInfo(name string) (ConnectorInfo, error)
	ConnectorConfig(name string) (map[string]string, error)
	// PutConnectorConfig creates a connector (created=true) or, if allowReplace, updates it.
	PutConnectorConfig(name string, config map[string]string, allowReplace bool, initial TargetState) (info ConnectorInfo, created bool, err error)
	DeleteConnector(name string) error
	ConnectorStatus(name string) (ConnectorStatus, error)
	TaskConfigs(name string) ([]TaskInfo, error)
	TaskStatus(name string, task int) (TaskState, error)
	RestartConnector(name string, includeTasks, onlyFailed bool) error
	RestartTask(name string, task int) error
	SetTargetState(name string, target TargetState) error
	// ConnectorOffsets returns a source connector's stored source offsets, or a sink connector's
	// committed group offsets as {"kafka_topic","kafka_partition"} → {"kafka_offset"}.
	ConnectorOffsets(ctx context.Context, name string) ([]PartitionOffset, error)
	// AlterConnectorOffsets sets (or, for a nil Offset, removes) offsets of a stopped connector and
	// returns Kafka's success message; a connector not stopped is an ErrInvalidConfig (400).
	AlterConnectorOffsets(ctx context.Context, name string, offsets []PartitionOffset) (string, error)
	// ResetConnectorOffsets removes every offset of a stopped connector (a sink's consumer group).
	ResetConnectorOffsets(ctx context.Context, name string) (string, error)
	// ActiveTopics returns the topics the connector's tasks produced to or consumed from since it was
	// created or its topics were reset.
	ActiveTopics(name string) ([]string, error)
	ResetActiveTopics(name string) error
	Registry() *Registry
}

var errClosed = errors.New("connect: worker closed")

// checkConnectorPut is what both herders do first for PutConnectorConfig, before anything changes:
// it returns a copy of config with name set, its plugin, and the initial target state (RUNNING if
// unset), or a *ValidationError. A validated config always names an installed plugin.
func checkConnectorPut(registry *Registry, name string, config map[string]string, initial TargetState) (map[string]string, *Plugin, TargetState, error) {
	config = maps.Clone(config)
	if config == nil {
		config = map[string]string{}
	}
	config[ConfigName] = name
	infos, plugin := registry.ValidateConnectorConfig(config)
	if infos.ErrorCount > 0 || plugin == nil {
		return nil, nil, "", &ValidationError{Infos: infos}
	}
	if initial == "" {
		initial = TargetStarted
	}
	return config, plugin, initial, nil
}
