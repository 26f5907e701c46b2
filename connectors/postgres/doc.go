// Package postgres holds PostgresCdcSource, a change-data-capture source connector compatible with
// Debezium's io.debezium.connector.postgresql.PostgresConnector: the same class name (alias
// PostgresCdcSource), config keys, topics (<topic.prefix>.<schema>.<table>), record keys (the
// primary-key columns), value envelope (before, after, source, op, ts_ms) and Connect schemas, so
// consumers written for Debezium read its topics unchanged. Importing the package registers it in
// connect.DefaultRegistry.
//
// Model. One task owns a logical replication slot (plugin pgoutput) and a publication. On first
// start it creates the slot with EXPORT_SNAPSHOT, reads every captured table inside that snapshot
// (REPEATABLE READ, SET TRANSACTION SNAPSHOT) as op "r" events, and then streams from the slot's
// consistent point, so the snapshot and the stream neither overlap nor leave a gap. A reader
// goroutine owns both Postgres connections; it hands records to Poll through a bounded channel and
// answers keepalives.
//
// Delivery. The source partition is {"server": topic.prefix}; the offset is {"lsn", "txId",
// "ts_usec", "lsn_commit", "event_serial_no"} (snapshot records carry "snapshot" and
// "last_snapshot_record"). The slot's confirmed flush LSN only advances in Commit, which the worker
// calls after every record Poll returned was acknowledged by Kafka and its offset stored; it
// confirms the end of the last transaction Poll handed out completely. After a crash Postgres
// resends from the confirmed position and the task skips what the stored offset says was written,
// so no change is lost and duplicates are limited to records produced after the last offset flush.
// heartbeat.interval.ms emits records to __debezium-heartbeat.<topic.prefix> carrying the server's
// WAL position, so the slot also advances when the captured tables are idle.
//
// Limits. Tables need a primary key (the task fails naming the table otherwise). Types outside
// the mapped set (integers, numeric, floats, text, boolean, date/time/timestamp/timestamptz, uuid,
// json/jsonb, bytea and one-dimensional arrays of these) are emitted as their text form. Schema
// changes take effect at the next relation message pgoutput sends. pgoutput leaves an unchanged
// TOASTed value out of an update: with REPLICA IDENTITY FULL the task takes it from the old row,
// otherwise a text column carries Debezium's placeholder __debezium_unavailable_value.
//
// Locking: the task has no mutex; SourceTask.safeLSN is an atomic written by Commit (task
// goroutine) and read by the reader, and the reader's failure is published by closing a channel.
package postgres
