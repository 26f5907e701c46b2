// Package testpb is Protobuf messages generated from order.proto for the streamserde tests:
// typed messages as a user's generated code would give them.
//
// NB: order.pb.go is protoc-gen-go v1.36.11's output (paths=source_relative) for a
// CodeGeneratorRequest built from order.proto with bufbuild/protocompile, since the machines have
// no protoc; `protoc --go_out=. --go_opt=paths=source_relative order.proto` gives the same file.
package testpb
