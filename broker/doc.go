// Package broker is Gregor's Kafka-compatible broker: it owns the topics and their partition logs,
// serves the Kafka requests that the server package decodes, and runs the background loops
// (retention, flushing).
//
// Model: a Broker holds a registry of topics (name, topic ID, configs, partitions), persisted in
// `gregor-topics.json` in the first log dir. Each partition is a broker/log.Log in
// `<log dir>/<topic>-<partition>`. Requests are handled on the connection's goroutine; handlers
// touch the registry under Broker.mu (a RWMutex: produce and fetch take it for reading only, to find
// partitions) and the logs through their own locks.
//
// Lock order: Broker.mu, then a log's internal locks. Never call into the server while holding mu.
package broker
