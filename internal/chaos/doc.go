//go:build unix

// Package chaos proves a Kafka-compatible cluster keeps its promises under faults, the way Jepsen
// does: a workload writes unique values with idempotent acks=all producers while a reader polls
// every partition, a fault loop kills, pauses, stops and cuts nodes of an internal/testcluster
// meanwhile, and afterwards Check compares the histories and counts each anomaly (lost writes,
// duplicates, inconsistent offsets, out-of-order values, nonmonotonic polls, poll skips, vanished
// reads).
//
// The package has three parts with one job each: Check is a pure function over a History (so it
// is tested on handcrafted histories); Run drives the workload against any Kafka bootstrap and
// returns the History; Faults applies a schedule of faults to a cluster and counts them.
// docs/chaos.md explains how to run `make chaos` and read its output.
package chaos
