// Package streamserde is registry-backed serdes for streams and statestore, in the Confluent wire
// format as Confluent's serdes write it: Avro (KafkaAvroSerde) for typed Go structs (hamba/avro
// struct tags) and generic map[string]any records, Protobuf (KafkaProtobufSerde, with message
// indexes) for generated messages and generic dynamicpb ones, and JSON Schema
// (KafkaJsonSchemaSerde) for encoding/json values. A serde registers (or looks up) its writer
// schema under the subject it is given once, then serializes without a registry call; a
// deserializer fetches each writer schema it meets by id once (Avro: and resolves it to the
// serde's reader schema, so records written with an older or newer compatible schema read into
// today's struct; Protobuf: and checks the record's message is the serde's).
//
// It is the client side only: it talks to any Confluent-compatible registry over HTTP through
// franz-go's sr client and never imports the registry's server code.
//
// Lock order: Registry.mu, Avro's and Protobuf's mu are leaves, taken only on a cache miss (a
// schema id, or message indexes, not seen before), never per record.
package streamserde
