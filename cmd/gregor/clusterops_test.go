package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// On a single node, `cluster status` shows the one unfenced broker, the one-voter quorum it is, and
// healthy partitions; `topics elect-leaders` finds nothing to elect; `topics reassign` to the node
// itself starts and verifies as completed, and to a broker that does not exist fails with the
// broker's reason.
func TestClusterOpsCommandsOnASingleNode(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "2", "-b", bs)

	r := mustGregor(t, "", "cluster", "status", "-b", bs)
	for _, want := range []string{"Brokers: 1\n", "  1   unfenced", "Metadata quorum (__cluster_metadata-0): leader 1 (the active controller)", "voters: 1; observers: none",
		"; 0 under-replicated, 0 offline\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cluster status lacks %q:\n%s", want, r.stdout)
		}
	}

	for _, filter := range []string{"--under-replicated-partitions", "--unavailable-partitions"} {
		if r := mustGregor(t, "", "topics", "describe", filter, "-b", bs); r.stdout != "" {
			t.Errorf("topics describe %s on a healthy node: %q", filter, r.stdout)
		}
	}

	r = mustGregor(t, "", "topics", "elect-leaders", "--topic", "orders", "-b", bs)
	if r.stdout != "Valid replica already elected for partitions orders-0, orders-1\n" {
		t.Errorf("elect-leaders stdout = %q", r.stdout)
	}

	r = mustGregor(t, "", "topics", "reassign", "--topic", "orders", "--partition", "1", "--replicas", "1", "-b", bs)
	if !strings.Contains(r.stdout, `{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[1],"log_dirs":["any"]}]}`) ||
		!strings.HasSuffix(r.stdout, "Successfully started partition reassignments for orders-1\n") {
		t.Errorf("reassign stdout:\n%s", r.stdout)
	}
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[1],"log_dirs":["any"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustGregor(t, "", "topics", "reassign", "--reassignment-json-file", plan, "--verify", "-b", bs)
	if r.stdout != "Status of partition reassignment:\nReassignment of partition orders-1 is completed.\n" {
		t.Errorf("verify stdout = %q", r.stdout)
	}
	r = gregor(t, "", "topics", "reassign", "--topic", "orders", "--partition", "0", "--replicas", "1,2", "-b", bs)
	if r.exit != 1 || !strings.Contains(r.stderr, "orders-0: ") || !strings.Contains(r.stderr, "broker 2, which is not registered") {
		t.Errorf("reassign to a missing broker: exit %d, stderr %q", r.exit, r.stderr)
	}
}

// The reassignment JSON is kafka-reassign-partitions.sh's; mistakes are usage errors naming the
// partition.
func TestReassignmentPlanIsKafkasJSON(t *testing.T) {
	for _, tc := range []struct{ json, wantErr string }{
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`, ""},
		{`{"version":2,"partitions":[{"topic":"a","partition":0,"replicas":[1]}]}`, "version 2 is not supported"},
		{`{"version":1,"partitions":[]}`, "no partitions"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}`, "a-0: broker 1 appears twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}`, "a-0: the replica list is empty"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}`, "a-0 appears more than once"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1],"log_dirs":["/data"]}]}`, `only "any"`},
		{`{"version":1,`, "reassignment JSON"},
	} {
		_, err := parseReassignmentPlan([]byte(tc.json))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.wantErr)
		}
	}
}

// --generate proposes a plan over the given brokers that keeps each partition's replication
// factor and spreads leaders; it refuses a broker list shorter than the replication factor.
func TestReassignGenerateSpreadsReplicasOverTheBrokerList(t *testing.T) {
	current := &reassignmentPlan{Version: 1, Partitions: []reassignmentPartition{
		{Topic: "a", Partition: 0, Replicas: []int32{1, 2}}, {Topic: "a", Partition: 1, Replicas: []int32{2, 1}},
		{Topic: "a", Partition: 2, Replicas: []int32{1, 2}}, {Topic: "b", Partition: 0, Replicas: []int32{1}},
	}}
	got, err := proposeAssignment(current, []int32{2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{2, 3}, {3, 4}, {4, 2}, {3}}
	for i, p := range got.Partitions {
		if fmt.Sprint(p.Replicas) != fmt.Sprint(want[i]) {
			t.Errorf("%s-%d: %v, want %v", p.Topic, p.Partition, p.Replicas, want[i])
		}
	}
	if _, err := proposeAssignment(current, []int32{2}); err == nil || !strings.Contains(err.Error(), "a-0 has 2 replicas") {
		t.Errorf("a broker list shorter than the replication factor: %v", err)
	}

	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "orders", "--partitions", "2", "-b", bs)
	r := mustGregor(t, "", "topics", "reassign", "--generate", "--topics", "orders", "--broker-list", "1", "-b", bs)
	const plan = `{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1]},{"topic":"orders","partition":1,"replicas":[1]}]}`
	if r.stdout != "Current partition replica assignment\n"+plan+"\n\nProposed partition reassignment configuration\n"+plan+"\n" {
		t.Errorf("--generate stdout:\n%s", r.stdout)
	}
}
