// Package schemaregistry is a Confluent-compatible Schema Registry: it serves Confluent's REST API
// (subjects, versions, ids, compatibility, config, mode) for Avro, JSON Schema and Protobuf schemas,
// and keeps its whole state in the compacted `_schemas` topic in Confluent's own record format.
//
// The model: every change is a record produced to `_schemas`; every instance (primary or not) reads
// that topic from the beginning and applies each record to an in-memory [state], so the topic is the
// only source of truth and a restart rebuilds the same subjects, versions and ids. Reads are served
// from the local state. Writes are decided by the one primary instance — elected through a consumer
// group as Confluent's instances do — which first catches up with the topic's end, then produces and
// waits until its own reader has applied the record; other instances forward writes to the primary's
// advertised URL. The registry reaches Kafka only through the protocol (franz-go), so it runs against
// any Kafka-compatible cluster.
//
// Lock order: Registry.writeMu (serialises the primary's writes) before state.mu.
package schemaregistry
