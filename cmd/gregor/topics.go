package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicsUsage = `Usage: gregor topics <subcommand> [flags]

Subcommands:
  create         --topic T [--partitions N] [--replication-factor R] [--config k=v]... [--if-not-exists]
  list
  describe       [--topic T] [--under-replicated-partitions | --unavailable-partitions]
  delete         --topic T
  alter-configs  --topic T [--config k=v]... [--delete-config k]...
  reassign       (--topic T --partition N --replicas 1,2,3 | --reassignment-json-file F) [--execute|--verify|--cancel]
                 | --generate --topics T1,T2 --broker-list 1,2,3
  elect-leaders  [--election-type preferred|unclean] (--topic T [--partition N] | --all-topic-partitions)

All take --bootstrap-server (-b). Run 'gregor topics <subcommand> -h' for details.
`

// runTopics is `gregor topics <subcommand>`, the kafka-topics.sh of Gregor.
func runTopics(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "topics", topicsUsage, map[string]subcommand{
		"create":        runTopicsCreate,
		"list":          runTopicsList,
		"describe":      runTopicsDescribe,
		"delete":        runTopicsDelete,
		"alter-configs": runTopicsAlterConfigs,
		"reassign":      runTopicsReassign,
		"elect-leaders": runTopicsElectLeaders,
	}, args, stdout, stderr)
}

// newAdmin connects an admin client; close it with the returned func.
func newAdmin(ctx context.Context, bootstrap *brokerFlags) (*kadm.Client, func(), error) {
	cl, err := newClient(ctx, bootstrap)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

func requireTopic(topic string) error {
	if topic == "" {
		return usageErrorf("--topic is required")
	}
	return nil
}

func runTopicsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics create", "gregor topics create --topic T [--partitions N] [--replication-factor R] [--config k=v]... [--if-not-exists]")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "name of the topic to create")
	partitions := fs.Int("partitions", -1, "number of partitions; -1 uses the broker's num.partitions")
	replicationFactor := fs.Int("replication-factor", -1, "replicas per partition; -1 uses the broker's default.replication.factor")
	var configPairs stringList
	fs.Var(&configPairs, "config", "topic config `key=value`; repeat for several")
	ifNotExists := fs.Bool("if-not-exists", false, "succeed quietly if the topic already exists")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	if *partitions == 0 || *partitions < -1 {
		return usageErrorf("--partitions must be positive or -1, not %d", *partitions)
	}
	if *replicationFactor == 0 || *replicationFactor < -1 || *replicationFactor > 32767 {
		return usageErrorf("--replication-factor must be positive or -1, not %d", *replicationFactor)
	}
	configs, err := parseConfigs(configPairs)
	if err != nil {
		return err
	}

	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	resps, err := adm.CreateTopics(ctx, int32(*partitions), int16(*replicationFactor), configs, *topic)
	if err != nil {
		return fmt.Errorf("creating topic %q: %w", *topic, err)
	}
	resp, err := resps.On(*topic, nil)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		if *ifNotExists && errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return explainTopicError(*topic, err, resp.ErrMessage)
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", *topic)
	return nil
}

func runTopicsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics list", "gregor topics list")
	bootstrap := addBootstrapFlag(fs)
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	for _, name := range topics.Names() {
		fmt.Fprintln(stdout, name)
	}
	return nil
}

func runTopicsDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics describe", "gregor topics describe [--topic T] [--under-replicated-partitions | --unavailable-partitions]")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to describe; all topics if empty")
	underReplicated := fs.Bool("under-replicated-partitions", false, "only partitions whose ISR is smaller than their replicas (no topic lines)")
	unavailable := fs.Bool("unavailable-partitions", false, "only partitions without a leader (no topic lines)")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()

	var requested []string
	if *topic != "" {
		requested = []string{*topic}
	}
	details, err := adm.ListTopics(ctx, requested...)
	if err != nil {
		return fmt.Errorf("describing topics: %w", err)
	}
	for _, d := range details.Sorted() {
		if d.Err != nil {
			return explainTopicError(d.Topic, d.Err, "")
		}
	}
	names := details.Names()
	if len(names) == 0 {
		return nil
	}
	if *underReplicated || *unavailable {
		// NB: as kafka-topics.sh, the filters print matching partition lines only.
		for _, name := range names {
			d := details[name]
			d.Partitions = filterPartitions(d.Partitions, *underReplicated, *unavailable)
			if len(d.Partitions) > 0 {
				desc := formatTopicDescription(d, nil)
				fmt.Fprint(stdout, desc[strings.IndexByte(desc, '\n')+1:])
			}
		}
		return nil
	}
	resourceConfigs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("describing topic configs: %w", err)
	}
	for _, name := range names {
		rc, err := resourceConfigs.On(name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return explainTopicError(name, err, rc.ErrMessage)
		}
		fmt.Fprint(stdout, formatTopicDescription(details[name], topicOverrides(rc.Configs)))
	}
	return nil
}

// filterPartitions keeps the under-replicated (ISR smaller than the replicas) and/or unavailable (no
// leader) partitions.
func filterPartitions(ps kadm.PartitionDetails, underReplicated, unavailable bool) kadm.PartitionDetails {
	out := kadm.PartitionDetails{}
	for id, p := range ps {
		if (underReplicated && len(p.ISR) < len(p.Replicas)) || (unavailable && p.Leader < 0) {
			out[id] = p
		}
	}
	return out
}

// topicOverrides returns the configs set on the topic itself, which is what
// kafka-topics --describe shows; broker defaults are left out.
func topicOverrides(configs []kadm.Config) map[string]string {
	overrides := make(map[string]string)
	for _, c := range configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			if c.Sensitive {
				overrides[c.Key] = "<sensitive>"
				continue
			}
			overrides[c.Key] = c.MaybeValue()
		}
	}
	return overrides
}

// formatTopicDescription renders one topic the way kafka-topics --describe
// does: a summary line, then one tab-indented line per partition.
func formatTopicDescription(d kadm.TopicDetail, configs map[string]string) string {
	var b strings.Builder
	partitions := d.Partitions.Sorted()
	replicationFactor := 0
	if len(partitions) > 0 {
		replicationFactor = len(partitions[0].Replicas)
	}
	fmt.Fprintf(&b, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
		d.Topic, formatTopicID(d.ID), len(partitions), replicationFactor, formatConfigs(configs))
	for _, p := range partitions {
		leader := "none"
		if p.Leader >= 0 {
			leader = strconv.Itoa(int(p.Leader))
		}
		fmt.Fprintf(&b, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s",
			d.Topic, p.Partition, leader, formatBrokerIDs(p.Replicas), formatBrokerIDs(p.ISR))
		if len(p.OfflineReplicas) > 0 {
			fmt.Fprintf(&b, "\tOffline: %s", formatBrokerIDs(p.OfflineReplicas))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// formatTopicID prints a topic ID as Kafka's Uuid.toString does: URL-safe
// base64 without padding.
func formatTopicID(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func formatBrokerIDs(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	return strings.Join(parts, ",")
}

func runTopicsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics delete", "gregor topics delete --topic T")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "name of the topic to delete")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	// NB: on a cluster, deleting a topic with many partitions takes a while; say so rather than hang.
	begin := time.Now()
	stop := startProgress(deleteProgressEvery, stderr, func(now time.Time) string {
		return fmt.Sprintf("Deleting topic %s... (%ds)\n", *topic, int(now.Sub(begin).Round(time.Second).Seconds()))
	})
	defer stop()
	resps, err := adm.DeleteTopics(ctx, *topic)
	if err != nil {
		return fmt.Errorf("deleting topic %q: %w", *topic, err)
	}
	resp, err := resps.On(*topic, nil)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return explainTopicError(*topic, err, resp.ErrMessage)
	}
	if !waitTopicGone(ctx, adm, *topic, bootstrap.timeout) {
		stop()
		fmt.Fprintf(stdout, "Topic %s is marked for deletion; brokers still list it.\n", *topic)
		return nil
	}
	stop()
	fmt.Fprintf(stdout, "Deleted topic %s.\n", *topic)
	return nil
}

// deleteProgressEvery is how often `topics delete` says it is still deleting.
var deleteProgressEvery = 2 * time.Second

// waitTopicGone polls Metadata until no broker asked lists topic, for at most timeout.
func waitTopicGone(ctx context.Context, adm *kadm.Client, topic string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := details[topic]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

func runTopicsAlterConfigs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topics alter-configs", "gregor topics alter-configs --topic T [--config k=v]... [--delete-config k]...")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "name of the topic to alter")
	var setPairs, deleteKeys stringList
	fs.Var(&setPairs, "config", "set topic config `key=value`; repeat for several")
	fs.Var(&deleteKeys, "delete-config", "remove the topic's override of config `key`; repeat for several")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	alters, err := buildAlterConfigs(setPairs, deleteKeys)
	if err != nil {
		return err
	}
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	resps, err := adm.AlterTopicConfigs(ctx, alters, *topic)
	if err != nil {
		return explainTopicError(*topic, err, "")
	}
	resp, err := resps.On(*topic, nil)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return explainTopicError(*topic, err, resp.ErrMessage)
	}
	fmt.Fprintf(stdout, "Completed updating config for topic %s.\n", *topic)
	return nil
}

// buildAlterConfigs turns --config and --delete-config flags into incremental
// alter operations, in a stable order: sets sorted by key, then deletes.
func buildAlterConfigs(setPairs, deleteKeys []string) ([]kadm.AlterConfig, error) {
	if len(setPairs) == 0 && len(deleteKeys) == 0 {
		return nil, usageErrorf("nothing to alter: give --config k=v or --delete-config k")
	}
	sets, err := parseConfigs(setPairs)
	if err != nil {
		return nil, err
	}
	var alters []kadm.AlterConfig
	for _, key := range slices.Sorted(maps.Keys(sets)) {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: key, Value: sets[key]})
	}
	for _, key := range deleteKeys {
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, usageErrorf("--delete-config needs a config name")
		}
		if _, both := sets[key]; both {
			return nil, usageErrorf("config %q is both set and deleted", key)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: key})
	}
	return alters, nil
}
