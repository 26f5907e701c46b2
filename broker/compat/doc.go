// Package compat holds the broker to third-party Kafka clients, run unchanged against it: sarama
// (github.com/IBM/sarama) and goka (github.com/lovoo/goka) in-process, kcat (librdkafka) and
// kafkajs as external programs. The package has no code of its own; its tests are the point.
//
// Each test starts its own broker with internal/testbroker and round-trips what the client
// supports: keys, values, headers, explicit timestamps, null keys, tombstones (a null value must
// read back as null, not empty), a record of about 1 MiB, every compression codec (gzip, snappy,
// lz4, zstd) and per-partition ordering; what a client wrote is also read back with franz-go and
// compared. The groups_*_test.go files consume in consumer groups (sarama range and sticky, kcat -G,
// kafkajs, a goka processor with its group table), commit, restart the broker and check that only
// records after the committed offsets are read.
//
// TestThreeNodeCluster (target_test.go) reruns every suite (all but the failover_* tests, which are
// cluster tests of their own) against one shared three-node in-process KRaft cluster
// (internal/testbroker.StartCluster) whose topics have three replicas, seeded with one node: the
// clients must find leaders on every node, produce with acks=all through replication, find their
// group's coordinator, and administer topics through the forwarding to the active controller. A
// suite that restarts its broker restarts, on the cluster, the node coordinating its group
// (restart_test.go); each suite uses topic and group names of its own, since they share the cluster.
// TestThreeNodeClusterRunsEverySuite fails for a new test that is neither rerun there nor a cluster
// test of its own.
//
// External programs come from scripts/test-deps.sh (kcat from Debian, kafkajs under
// .ci/node_modules). When one is missing the test is skipped on a developer machine and fails when
// the CI environment variable is set, so CI cannot pass by silently not testing.
//
// GREGOR_TEST_LOG=1 shows the broker's debug logs in a failing test's output.
package compat
