// Package connectconv is Connect's registry-aware converters under Confluent's class names:
// io.confluent.connect.avro.AvroConverter turns Connect schemas and values into Avro records in
// the Confluent wire format (magic byte, schema id, Avro binary) and back, registering or looking
// up each schema in a schema registry (schema.registry.url) under the subject its name strategy
// picks. It maps Connect's types as Confluent's AvroData does — int8/int16 as int with a
// connect.type property, optional schemas as unions with null, Connect names, versions and
// parameters as connect.* properties, Decimal as bytes with the decimal logical type (precision
// from connect.decimal.precision), Date, Time and Timestamp as date, time-millis and
// timestamp-millis — so Debezium's envelopes and logical types survive the round trip.
// io.confluent.connect.protobuf.ProtobufConverter and io.confluent.connect.json.JsonSchemaConverter
// do the same for Protobuf (Decimal, Date, Time, Timestamp as confluent.type.Decimal,
// google.type.Date, google.type.TimeOfDay, google.protobuf.Timestamp, as Confluent's
// ProtobufData) and JSON Schema (as Confluent's JsonSchemaData).
//
// It registers itself with connect in init; cmd/gregor imports it for that side effect. It reaches
// the registry over HTTP only (franz-go's sr client), never the registry's server code.
package connectconv
