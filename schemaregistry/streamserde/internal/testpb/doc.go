// Package testpb is Protobuf messages generated from order.proto (protoc-gen-go) for the
// streamserde tests: typed messages as a user's generated code would give them.
package testpb
