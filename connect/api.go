package connect

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalidConfig reports a config that fails validation.
	ErrInvalidConfig = errors.New("connect: invalid config")
	// ErrNotFound reports an unknown connector, task or plugin.
	ErrNotFound = errors.New("connect: not found")
	// ErrAlreadyExists reports a connector name already in use.
	ErrAlreadyExists = errors.New("connect: already exists")
	// ErrConflict reports a request that conflicts with the connector's state.
	ErrConflict = errors.New("connect: conflict")
)

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// SourceRecord is a record a source task produced, with the source position it came from.
// SourcePartition and SourceOffset are JSON-able maps (string keys; string, bool, int64, float64,
// nil, nested maps and slices); the worker stores the latest offset per partition once the record
// and every record before it are acknowledged by Kafka.
type SourceRecord struct {
	SourcePartition map[string]any
	SourceOffset    map[string]any
	Topic           string
	// Partition is the Kafka partition, or nil to let the producer's partitioner choose.
	Partition   *int32
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	Timestamp   time.Time
	Headers     []Header
}

// SinkRecord is a record a sink task receives.
type SinkRecord struct {
	Topic       string
	Partition   int32
	Offset      int64
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	Timestamp   time.Time
	Headers     []Header
}

// TopicPartition names a Kafka partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// RecordMetadata is where Kafka stored a produced record.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// ConnectorContext is given to a connector when it starts.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the worker to call TaskConfigs again and restart tasks whose
	// configs changed. Safe from any goroutine.
	RequestTaskReconfiguration()
	// RaiseError fails the connector with err. Safe from any goroutine.
	RaiseError(err error)
}

// Connector is the part of a plugin that validates config and splits work into task configs. The
// worker calls its methods from one goroutine at a time.
type Connector interface {
	// Version is the plugin version shown by GET /connector-plugins.
	Version() string
	// ConfigDef defines the connector-specific keys; the worker adds the common ones.
	ConfigDef() *ConfigDef
	// Start starts the connector with its full config (common keys included).
	Start(ctx ConnectorContext, config map[string]string) error
	// TaskConfigs returns at most maxTasks task configs. The worker owns the returned maps.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop stops the connector. It is called once after a successful Start.
	Stop() error
}

// SourceConnector is a connector whose tasks read from an external system into Kafka.
type SourceConnector interface {
	Connector
	NewTask() SourceTask
}

// SinkConnector is a connector whose tasks write Kafka records to an external system.
type SinkConnector interface {
	Connector
	NewTask() SinkTask
}

// OffsetReader reads committed source offsets.
type OffsetReader interface {
	// Offset returns the last committed offset for a source partition, or nil if none.
	Offset(partition map[string]any) (map[string]any, error)
}

// SourceTaskContext is given to a source task when it starts.
// ContextLogger is implemented by the worker's connector and task contexts: Logger is the
// worker's logger with the connector (and task) as attributes, which connectors should log
// through (so that /admin/loggers and the worker's handler apply). Check for it with a type
// assertion; a context without it means slog.Default().
type ContextLogger interface {
	Logger() *slog.Logger
}

type SourceTaskContext interface {
	OffsetReader() OffsetReader
}

// SourceTask reads records from an external system. The worker calls Start, then Poll repeatedly
// from one goroutine, then Stop from that same goroutine.
type SourceTask interface {
	Start(ctx SourceTaskContext, config map[string]string) error
	// Poll returns the next records, or none if nothing is available yet; the worker backs off after
	// an empty poll. Poll should return promptly when ctx is done. The worker owns the returned slice.
	Poll(ctx context.Context) ([]SourceRecord, error)
	Stop() error
}

// SourceTaskCommitter is an optional SourceTask capability: Commit is called (from the task's
// goroutine) after offsets were written to the offset store; CommitRecord is called from the
// producer's callback goroutine once Kafka has acknowledged a record, so it must be goroutine-safe.
type SourceTaskCommitter interface {
	Commit() error
	CommitRecord(record SourceRecord, metadata RecordMetadata) error
}

// SinkTaskContext is given to a sink task when it starts.
type SinkTaskContext interface {
	// Assignment returns the partitions currently assigned to the task.
	Assignment() []TopicPartition
}

// SinkTask writes records to an external system. Start, Put, Flush and Stop are called from one
// goroutine at a time.
type SinkTask interface {
	Start(ctx SinkTaskContext, config map[string]string) error
	// Put hands over records; it may buffer them. The task must not keep the slice after Put returns.
	Put(records []SinkRecord) error
	// Flush makes everything Put so far durable. offsets are the next offsets to consume, per
	// partition, that the worker commits to Kafka after Flush returns nil.
	Flush(offsets map[TopicPartition]int64) error
	Stop() error
}

// SinkTaskPreCommitter is an optional SinkTask capability: PreCommit replaces Flush and returns the
// offsets that are safe to commit (which may lag behind what was Put).
type SinkTaskPreCommitter interface {
	PreCommit(offsets map[TopicPartition]int64) (map[TopicPartition]int64, error)
}
