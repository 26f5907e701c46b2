// Package streamserde is registry-backed serdes for streams and statestore, in the Confluent wire
// format as Confluent's serdes write it: Avro (KafkaAvroSerde) for typed Go structs (hamba/avro
// struct tags) and generic map[string]any records, Protobuf (KafkaProtobufSerde, with message
// indexes) for generated messages and generic dynamicpb ones, and JSON Schema
// (KafkaJsonSchemaSerde) for encoding/json values. A serde registers (or looks up) its writer schema under the subject it is given once,
// then serializes without a registry call; a deserializer fetches each writer schema it meets by
// id once and resolves it to the serde's reader schema, so records written with an older or newer
// compatible schema read into today's struct.
//
// It is the client side only: it talks to any Confluent-compatible registry over HTTP through
// franz-go's sr client and never imports the registry's server code.
//
// Lock order: Registry.mu is a leaf; it is taken only on a cache miss (a schema id not seen
// before), never per record.
package streamserde
