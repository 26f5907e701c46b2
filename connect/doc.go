// Package connect is Gregor's Kafka Connect worker: the connector and task API, converters, config
// definitions, the plugin registry, the herders that run connectors, and Kafka Connect's REST API.
// A connector plugin registers itself (Register) under Kafka's class name and aliases; the worker
// validates a connector's JSON config against the common keys plus the plugin's ConfigDef, starts
// the Connector, asks it for TaskConfigs(tasks.max), and runs each task on its own goroutine. A source
// task's records are converted (key.converter/value.converter) and produced with franz-go; the source
// offsets they carry (partition map → offset map) are written to the offset store only after Kafka
// acknowledged every record before them. A sink task consumes in group connect-<name>, gets converted
// records through Put, and its Kafka offsets are committed only after Flush (or PreCommit) succeeds.
// Both directions are therefore at-least-once: after a crash, records since the last offset flush are
// produced or delivered again; a clean stop flushes and commits, so it duplicates nothing.
//
// A Herder owns connector configs, target states (running, paused, stopped) and statuses; the REST
// Server speaks only to the Herder interface. Standalone keeps configs in memory and offsets in a
// JSON file (offset.storage.file.filename); Distributed implements the same interface over the
// config, offset and status topics and a group of protocol type "connect", whose leader assigns
// work with Assign (a pure function) and takes every REST write (distributed.go). connect never imports
// broker/ or connectors/, and reaches Kafka only through franz-go. Lock order: Standalone.mu, then a
// task runner's mu; task goroutines never take Standalone.mu, so the herder may wait for them while
// holding it. A task runner takes Standalone.halt (for reading) around each call into its task and
// each write or commit, after a sink's callMu and before nothing else. Transforms and predicates (Kafka's SMTs) live in connect/transforms, which registers
// itself through RegisterTransforms (a binary imports it for that side effect, as it does
// connectors); without it, a config naming transforms is rejected rather than silently ignored.
// errors.* (tolerance, retries, logging, the sink dead-letter queue) is in errors.go. Every
// connection to Kafka of every client a worker makes goes through Options.Dialer when it is set
// (dialer.go); Distributed.Halt crashes a distributed worker in-process for failover tests and
// drills: its tasks stop mid-flight without flushing or committing, and all its connections drop
// at once.
//
// Data follows Kafka Connect's model (data.go): a *Schema and a Go value per key and value, with
// Kafka's logical types Decimal (*big.Rat), Date, Time and Timestamp (time.Time) in logical.go;
// JsonConverter writes exactly the bytes Kafka's does. Log levels are per component (the
// "component" attribute of a slog.Logger), hierarchical on "." and changed at run time through
// /admin/loggers (loggers.go).
package connect
