// Package connect is Gregor's Kafka Connect worker: the connector and task API, converters, config
// definitions, the plugin registry, the herders that decide what runs, the worker that runs it, and
// Kafka Connect's REST API. A connector plugin registers itself (Register) under Kafka's class name
// and aliases; a herder validates a connector's JSON config against the common keys plus the
// plugin's ConfigDef, and the Worker starts the Connector, asks it for TaskConfigs(tasks.max), and
// runs each task on its own goroutine. A source task's records are converted
// (key.converter/value.converter) and produced with franz-go; the source offsets they carry
// (partition map → offset map) are written to the offset store only after Kafka acknowledged every
// record before them. A sink task consumes in group connect-<name>, gets converted records through
// Put, and its Kafka offsets are committed only after Flush (or PreCommit) succeeds. Both directions
// are therefore at-least-once: after a crash, records since the last offset flush are produced or
// delivered again; a clean stop flushes and commits, so it duplicates nothing.
//
// # Layers and files
//
// As in Kafka, the layers are REST → herder → worker → storage, and each file has one of them:
//
//   - rest_*.go: the REST Server speaks only to the Herder interface (herder_api.go):
//     rest_server.go (routes, path checks, panics), rest_connectors.go, rest_admin.go (plugins,
//     loggers), rest_forward.go (writes forwarded to a distributed leader), rest_json.go (bodies
//     and Kafka's error shape).
//   - herder_*.go: who runs what, configs, target states (running, paused, stopped), statuses and
//     REST semantics. Standalone (herder_standalone.go) keeps configs in memory and runs every
//     connector here; herder_persistent.go saves them to a file for `gregor dev`. Distributed
//     (herder_distributed*.go) keeps them in the config, offset and status topics and joins a group
//     of protocol type "connect", whose leader assigns work with Assign (a pure function,
//     herder_distributed_assignor.go) and takes every REST write. herder_offsets.go is the offsets
//     endpoints both share.
//   - worker*.go: the Worker (worker.go) runs connector instances and task runners for either
//     herder, through its methods only; worker_task.go is a task runner's lifecycle and halt gate,
//     worker_source.go and worker_sink.go its two loops, worker_errors.go errors.* (tolerance,
//     retries, logging, the sink dead-letter queue), worker_config*.go the worker properties.
//   - storage_*.go: the source offset file (storage_offsets_file.go), the internal topics' record
//     shapes (storage_topics.go) and the compacted-topic reader they share (storage_topic_log.go).
//   - converter*.go: the Converter interface, String and ByteArray converters; JsonConverter
//     (converter_json.go) with its schema and value mapping (converter_json_schema.go).
//   - api.go, data.go, logical.go, config.go, registry.go: what connectors see — the
//     connector and task interfaces, Kafka Connect's data model (a *Schema and a Go value per key
//     and value, with Kafka's logical types Decimal (*big.Rat), Date, Time and Timestamp
//     (time.Time)), ConfigDef, and the plugin registry.
//
// connect never imports broker/ or connectors/, and reaches Kafka only through franz-go.
//
// # Locking
//
// A mutex-guarded state sits in a `mu struct{ sync.Mutex; ... }` field, and a method whose name
// ends in Locked expects its receiver's mu held: Standalone.mu, Distributed.mu, PersistentHerder.mu,
// FileOffsetStore.mu, Loggers.mu. The one exception is connectorState, which has no lock of its
// own: Standalone.mu guards it, and its Locked methods expect that. A lock that is not a mu field
// (a sink loop's callMu) is named in the function's name instead (putHoldingCallMu). Lock order: a herder's mu (Standalone.mu or Distributed.mu), then a task runner's
// mu, then a topicSet's. Task goroutines never take a herder's mu, so the herder may wait for them
// while holding it. A task runner takes the Worker's halt gate (for reading) around each call into
// its task and each write or commit, after a sink's callMu and before nothing else.
//
// Transforms and predicates (Kafka's SMTs) live in connect/transforms, which registers itself
// through RegisterTransforms (a binary imports it for that side effect, as it does connectors);
// without it, a config naming transforms is rejected rather than silently ignored. Every connection
// to Kafka of every client a worker makes goes through Options.Dialer when it is set (dialer.go);
// Distributed.Halt crashes a distributed worker in-process for failover tests and drills: its tasks
// stop mid-flight without flushing or committing, and all its connections drop at once. Log levels
// are per component (the "component" attribute of a slog.Logger), hierarchical on "." and changed
// at run time through /admin/loggers (loggers.go).
package connect
