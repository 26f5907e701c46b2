package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// reassignmentPlan is kafka-reassign-partitions.sh's JSON (--reassignment-json-file, and what
// --execute prints as the rollback plan).
type reassignmentPlan struct {
	Version    int                     `json:"version"`
	Partitions []reassignmentPartition `json:"partitions"`
}

// reassignmentPartition is one partition's target replicas. log_dirs is accepted and must be "any"
// (Gregor places a replica in the log dir it chooses).
type reassignmentPartition struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

// parseReassignmentPlan reads and checks a plan: version 1, each partition once, replicas non-empty
// and distinct, log_dirs "any".
func parseReassignmentPlan(data []byte) (*reassignmentPlan, error) {
	var plan reassignmentPlan
	if err := json.Unmarshal(data, &plan); err != nil {
		return nil, usageErrorf("reassignment JSON: %v", err)
	}
	if plan.Version != 1 {
		return nil, usageErrorf("reassignment JSON: version %d is not supported (1 is)", plan.Version)
	}
	if len(plan.Partitions) == 0 {
		return nil, usageErrorf("reassignment JSON: no partitions")
	}
	seen := map[string]bool{}
	for _, p := range plan.Partitions {
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		if p.Topic == "" || p.Partition < 0 {
			return nil, usageErrorf("reassignment JSON: partition %q needs a topic and a partition ≥ 0", name)
		}
		if seen[name] {
			return nil, usageErrorf("reassignment JSON: partition %s appears more than once", name)
		}
		seen[name] = true
		if err := checkReplicaList(name, p.Replicas); err != nil {
			return nil, err
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return nil, usageErrorf("reassignment JSON: %s: log_dirs %q: only \"any\" is supported", name, d)
			}
		}
	}
	return &plan, nil
}

func checkReplicaList(name string, replicas []int32) error {
	if len(replicas) == 0 {
		return usageErrorf("%s: the replica list is empty", name)
	}
	for i, r := range replicas {
		if r < 0 {
			return usageErrorf("%s: broker id %d is negative", name, r)
		}
		if slices.Contains(replicas[:i], r) {
			return usageErrorf("%s: broker %d appears twice in the replicas", name, r)
		}
	}
	return nil
}

// parseBrokerList parses "1,2,3".
func parseBrokerList(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, usageErrorf("--replicas %q: %q is not a broker id", s, f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

func runTopicsReassign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics reassign", "gregor topics reassign (--topic T --partition N --replicas 1,2,3 | --reassignment-json-file F) [--execute | --verify | --cancel] | --generate --topics T1,T2 --broker-list 1,2,3")
	fs.about = "Moves partition replicas, as kafka-reassign-partitions.sh does: the new replicas copy the log and\n" +
		"join the ISR, then the old ones are removed. --execute starts it (the default with --topic) and\n" +
		"prints the current assignment to keep for a rollback; --verify tells whether it completed; --cancel\n" +
		"stops a reassignment in progress and returns to the original replicas."
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic of the partition to move")
	partition := fs.Int("partition", -1, "partition to move")
	replicas := fs.String("replicas", "", "target replica `ids`, comma-separated; the first is the preferred leader")
	jsonFile := fs.String("reassignment-json-file", "", "plan `file` in kafka-reassign-partitions.sh's JSON format")
	execute := fs.Bool("execute", false, "start the reassignment")
	verify := fs.Bool("verify", false, "report whether the reassignment completed")
	cancel := fs.Bool("cancel", false, "cancel the reassignment in progress")
	generate := fs.Bool("generate", false, "print a plan that spreads --topics over --broker-list (nothing is changed)")
	topicsToMove := fs.String("topics", "", "with --generate: comma-separated `topics` to move")
	brokerList := fs.String("broker-list", "", "with --generate: broker `ids` to place the replicas on")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if *generate {
		return generateReassignment(ctx, bootstrap, *topicsToMove, *brokerList, stdout)
	}
	plan, err := reassignPlanFromFlags(*topic, *partition, *replicas, *jsonFile)
	if err != nil {
		return err
	}
	actions := 0
	for _, b := range []bool{*execute, *verify, *cancel} {
		if b {
			actions++
		}
	}
	switch {
	case actions > 1:
		return usageErrorf("give one of --execute, --verify and --cancel")
	case actions == 0 && *jsonFile != "":
		return usageErrorf("with --reassignment-json-file, give --execute, --verify or --cancel")
	case actions == 0:
		*execute = true
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	switch {
	case *verify:
		return verifyReassignment(ctx, adm, plan, stdout)
	case *cancel:
		return alterAssignments(ctx, adm, plan, true, stdout)
	}
	current, err := currentAssignment(ctx, adm, plan)
	if err != nil {
		return err
	}
	rollback, _ := json.Marshal(current)
	fmt.Fprintf(stdout, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", rollback)
	return alterAssignments(ctx, adm, plan, false, stdout)
}

// reassignPlanFromFlags builds the plan from --topic/--partition/--replicas or the JSON file.
func reassignPlanFromFlags(topic string, partition int, replicas, jsonFile string) (*reassignmentPlan, error) {
	single := topic != "" || partition >= 0 || replicas != ""
	switch {
	case single && jsonFile != "":
		return nil, usageErrorf("give either --topic/--partition/--replicas or --reassignment-json-file, not both")
	case jsonFile != "":
		data, err := os.ReadFile(jsonFile)
		if err != nil {
			return nil, err
		}
		return parseReassignmentPlan(data)
	case topic == "" || partition < 0:
		return nil, usageErrorf("give --topic and --partition (with --replicas), or --reassignment-json-file")
	}
	p := reassignmentPartition{Topic: topic, Partition: int32(partition)}
	if replicas != "" {
		ids, err := parseBrokerList(replicas)
		if err != nil {
			return nil, err
		}
		if err := checkReplicaList(fmt.Sprintf("%s-%d", topic, partition), ids); err != nil {
			return nil, err
		}
		p.Replicas = ids
	}
	return &reassignmentPlan{Version: 1, Partitions: []reassignmentPartition{p}}, nil
}

// currentAssignment is the plan's partitions with their replicas now (the rollback plan).
func currentAssignment(ctx context.Context, adm *kadm.Client, plan *reassignmentPlan) (*reassignmentPlan, error) {
	var names []string
	for _, p := range plan.Partitions {
		if !slices.Contains(names, p.Topic) {
			names = append(names, p.Topic)
		}
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describing topics: %w", err)
	}
	out := &reassignmentPlan{Version: 1}
	for _, p := range plan.Partitions {
		d, ok := details[p.Topic]
		if !ok || d.Err != nil {
			return nil, explainTopicError(p.Topic, d.Err, "")
		}
		cur, ok := d.Partitions[p.Partition]
		if !ok {
			return nil, explainTopicError(p.Topic, kerr.UnknownTopicOrPartition, fmt.Sprintf("partition %d does not exist", p.Partition))
		}
		dirs := slices.Repeat([]string{"any"}, len(cur.Replicas))
		out.Partitions = append(out.Partitions, reassignmentPartition{Topic: p.Topic, Partition: p.Partition, Replicas: cur.Replicas, LogDirs: dirs})
	}
	return out, nil
}

// alterAssignments starts (or, with cancel, cancels) the plan's reassignments and reports each partition.
func alterAssignments(ctx context.Context, adm *kadm.Client, plan *reassignmentPlan, cancel bool, stdout io.Writer) error {
	var req kadm.AlterPartitionAssignmentsReq
	for _, p := range plan.Partitions {
		if cancel {
			req.CancelAssign(p.Topic, p.Partition)
		} else {
			if p.Replicas == nil {
				return usageErrorf("%s-%d: --replicas is required to start a reassignment", p.Topic, p.Partition)
			}
			req.Assign(p.Topic, p.Partition, p.Replicas)
		}
	}
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("reassigning partitions: %w", err)
	}
	var ok, failed []string
	for _, r := range resps.Sorted() {
		name := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
		if r.Err != nil {
			msg := r.ErrMessage
			if msg == "" {
				msg = r.Err.Error()
			}
			failed = append(failed, fmt.Sprintf("%s: %s", name, msg))
			continue
		}
		ok = append(ok, name)
	}
	verb := "started"
	if cancel {
		verb = "cancelled"
	}
	if len(ok) > 0 {
		fmt.Fprintf(stdout, "Successfully %s partition reassignments for %s\n", verb, strings.Join(ok, ","))
	}
	if len(failed) > 0 {
		return fmt.Errorf("reassignment not %s for:\n  %s", verb, strings.Join(failed, "\n  "))
	}
	return nil
}

// verifyReassignment prints, per partition, whether its reassignment completed, is in progress, or
// ended elsewhere (cancelled, or another reassignment); it fails unless all completed.
func verifyReassignment(ctx context.Context, adm *kadm.Client, plan *reassignmentPlan, stdout io.Writer) error {
	set := kadm.TopicsSet{}
	for _, p := range plan.Partitions {
		set.Add(p.Topic, p.Partition)
	}
	inProgress, err := adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return fmt.Errorf("listing reassignments: %w", err)
	}
	current, err := currentAssignment(ctx, adm, plan)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Status of partition reassignment:")
	pending := 0
	for i, p := range plan.Partitions {
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		now := current.Partitions[i].Replicas
		switch _, moving := inProgress[p.Topic][p.Partition]; {
		case moving:
			pending++
			fmt.Fprintf(stdout, "Reassignment of partition %s is still in progress.\n", name)
		case p.Replicas == nil || slices.Equal(now, p.Replicas):
			fmt.Fprintf(stdout, "Reassignment of partition %s is completed.\n", name)
		default:
			pending++
			fmt.Fprintf(stdout, "There is no active reassignment of partition %s, but replica set is %s rather than %s.\n",
				name, formatBrokerIDs(now), formatBrokerIDs(p.Replicas))
		}
	}
	if pending > 0 {
		return fmt.Errorf("%d of %d partition reassignments are not complete", pending, len(plan.Partitions))
	}
	return nil
}

// generateReassignment prints the current assignment of topics and a proposal that places each
// partition's replicas (same replication factor) round-robin over brokers, as
// kafka-reassign-partitions.sh --generate does; it changes nothing.
func generateReassignment(ctx context.Context, bootstrap *brokerFlags, topics, brokerList string, stdout io.Writer) error {
	if topics == "" || brokerList == "" {
		return usageErrorf("--generate needs --topics and --broker-list")
	}
	brokers, err := parseBrokerList(brokerList)
	if err != nil {
		return err
	}
	if err := checkReplicaList("--broker-list", brokers); err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	var names []string
	for _, t := range strings.Split(topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			names = append(names, t)
		}
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("describing topics: %w", err)
	}
	current := &reassignmentPlan{Version: 1}
	for _, name := range names {
		d := details[name]
		if d.Err != nil {
			return explainTopicError(name, d.Err, "")
		}
		for _, p := range d.Partitions.Sorted() {
			current.Partitions = append(current.Partitions, reassignmentPartition{Topic: name, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	proposed, err := proposeAssignment(current, brokers)
	if err != nil {
		return err
	}
	cur, _ := json.Marshal(current)
	prop, _ := json.Marshal(proposed)
	fmt.Fprintf(stdout, "Current partition replica assignment\n%s\n\nProposed partition reassignment configuration\n%s\n", cur, prop)
	return nil
}

// proposeAssignment places every partition of current on brokers, keeping its replication factor:
// partition i of a topic gets brokers i, i+1, ... (mod len(brokers)), so leaders and followers spread
// evenly, and the k-th topic starts k brokers further on.
func proposeAssignment(current *reassignmentPlan, brokers []int32) (*reassignmentPlan, error) {
	out := &reassignmentPlan{Version: 1}
	topicIndex := map[string]int{}
	for _, p := range current.Partitions {
		if _, ok := topicIndex[p.Topic]; !ok {
			topicIndex[p.Topic] = len(topicIndex)
		}
		rf := len(p.Replicas)
		if rf > len(brokers) {
			return nil, usageErrorf("%s-%d has %d replicas; --broker-list names only %d brokers", p.Topic, p.Partition, rf, len(brokers))
		}
		start := int(p.Partition) + topicIndex[p.Topic]
		replicas := make([]int32, rf)
		for j := range replicas {
			replicas[j] = brokers[(start+j)%len(brokers)]
		}
		out.Partitions = append(out.Partitions, reassignmentPartition{Topic: p.Topic, Partition: p.Partition, Replicas: replicas})
	}
	return out, nil
}
