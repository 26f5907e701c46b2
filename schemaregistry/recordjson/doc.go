// Package recordjson turns a record key or value between its JSON text and its registry-typed
// binary form in the Confluent wire format, as Confluent's console producers and consumers do:
// a producer gives JSON and a schema id, and gets the framed Avro, Protobuf or JSON Schema bytes;
// a consumer gives framed bytes and gets JSON back, the schema found by the id in the frame.
//
// Avro values use Avro's JSON encoding (a union value is {"branch": value}, bytes and fixed are
// strings of code points 0-255); Protobuf values use protojson (the proto3 JSON mapping, writing
// the first message of the schema's file); JSON Schema values are validated and written as they
// are. Schemas, with their references, are fetched from the registry once per id.
//
// Lock order: Codec.mu is a leaf, held only while a schema id not seen before is fetched and
// compiled; a cached id takes no lock.
package recordjson
