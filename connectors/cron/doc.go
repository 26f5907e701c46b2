// Package cron holds CronQuerySource, a source connector that runs a SQL query against Postgres on
// a cron schedule and produces each row as a struct record, in the manner of Confluent's JDBC
// source connector but driven by github.com/robfig/cron/v3 schedules instead of a poll interval.
// Importing the package registers it in connect.DefaultRegistry.
//
// A run selects from table (SELECT * FROM table) or wraps query (SELECT * FROM (query) q) and, per
// mode, only returns new rows: bulk re-reads everything each run; incrementing returns rows whose
// incrementing.column.name is above the last one seen (ordered by it); timestamp returns rows whose
// timestamp.column.name is above the last one seen and below the run's start; timestamp+incrementing
// orders by both and breaks ties of equal timestamps with the incrementing column. The source
// partition is {"table": t} or {"query": q}; each record's offset is {"incrementing": int64,
// "timestamp": epoch ms, "timestamp_nanos": nanos of the second, "last_fire": epoch ms of the run},
// so a restarted task goes on where the last stored offset left off and never re-emits a row.
//
// The schedule is a cron spec with an optional seconds field ("*/5 * * * * *", "0 3 * * *"), a
// descriptor ("@hourly", "@every 1s"), optionally prefixed with CRON_TZ=Zone (otherwise the
// worker's local time zone). Runs never overlap: fires that pass while a run is still producing
// rows are skipped. Fires missed while the connector was stopped are skipped (catchup=skip) or made
// up for by one immediate run (catchup=once). last_fire is stored only with records, so a run that
// found no rows leaves the previous last_fire, and catchup=once may then run once more than needed
// (harmless except in bulk mode, where it re-emits the table).
//
// Columns map to Connect types as the JDBC source does (int2/int4/int8, float4/float8, boolean,
// text-like types to string, bytea to bytes, date/time/timestamp to the Date, Time and Timestamp
// logical types), except numeric, which is a string to stay exact, and json, jsonb, uuid and any
// other type, which are strings too. All fields are optional. A failing query fails the task with
// Postgres's error in the trace.
package cron
