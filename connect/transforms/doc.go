// Package transforms implements Kafka Connect's single message transforms (SMTs) and predicates for
// Gregor's Connect worker. It registers itself with connect (connect.RegisterTransforms) in init, so
// a binary that runs a worker blank-imports it, as it does connector packages.
//
// A connector config names a chain as Kafka does: transforms=a,b; transforms.a.type=<class>;
// transforms.a.<key>=...; predicates=p; predicates.p.type=<class>; transforms.a.predicate=p;
// transforms.a.negate=true. Classes are Kafka's (org.apache.kafka.connect.transforms.InsertField$Value)
// or their simple names (InsertField$Value). Every transform works on schemaless values
// (map[string]any or map[any]any with string keys, as the JSON converter produces) and on *connect.Struct
// values with struct schemas. An invalid config yields errors keyed by the full config key
// (transforms.a.regex), which the worker turns into a 400 before anything is created.
//
// Deviations from Kafka: timestamps inserted or converted to Kafka's Timestamp/Date/Time logical
// types are carried as int64 epoch milliseconds (schema name org.apache.kafka.connect.data.Timestamp
// etc.), since the value model has no time.Time values; header values are raw bytes (strings as
// UTF-8, other values as JSON).
package transforms
