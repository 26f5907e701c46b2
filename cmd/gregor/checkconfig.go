package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
)

// checkServerConfig is `gregor server --check-config FILE`: it parses the broker properties (and
// --set overrides) with the loaders `gregor server` uses, and prints the effective broker settings
// as Kafka logs them (`key = value`, secrets [hidden]); an error names the offending key.
func checkServerConfig(ctx context.Context, path string, sets []string, stdout io.Writer) error {
	// NB: serverSchemaRegistry only validates and strips the schema.registry.* keys here; its
	// start function runs only once a broker has started, which a check never does.
	brokerSets, _, err := serverSchemaRegistry(ctx, path, sets, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cfg, ignored, err := config.Load("", brokerSets)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	settings := map[string]string{}
	for _, e := range cfg.BrokerEntries() {
		settings[e.Name] = e.Value
	}
	fmt.Fprintf(stdout, "%s: valid broker config. Effective values:\n", path)
	printSettings(stdout, settings)
	for _, k := range ignored {
		fmt.Fprintf(stdout, "# %s has no effect on a Gregor node; ignored\n", k)
	}
	return nil
}

// checkConnectConfig is `gregor connect --check-config FILE`: a worker properties file with
// group.id is a distributed worker's (connect-distributed.properties), one without a standalone
// worker's; it is parsed as `gregor connect standalone|distributed` would, and the effective
// settings printed: the defaults of the settings the worker reads, then every property as given.
func checkConnectConfig(path string, stdout io.Writer) error {
	props, err := readPropertiesFile(path)
	if err != nil {
		return err
	}
	settings := map[string]string{}
	mode := "standalone"
	if strings.TrimSpace(props["group.id"]) != "" {
		mode = "distributed"
		c, err := connect.ParseDistributedConfig(props)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		workerSettings(settings, c.WorkerConfig)
		for k, v := range map[string]string{
			"group.id": c.GroupID, "config.storage.topic": c.ConfigTopic, "offset.storage.topic": c.OffsetTopic,
			"status.storage.topic":              c.StatusTopic,
			"config.storage.replication.factor": strconv.Itoa(int(c.ConfigReplication)),
			"offset.storage.replication.factor": strconv.Itoa(int(c.OffsetReplication)),
			"status.storage.replication.factor": strconv.Itoa(int(c.StatusReplication)),
			"offset.storage.partitions":         strconv.Itoa(int(c.OffsetPartitions)),
			"status.storage.partitions":         strconv.Itoa(int(c.StatusPartitions)),
			"session.timeout.ms":                strconv.FormatInt(c.SessionTimeout.Milliseconds(), 10),
			"heartbeat.interval.ms":             strconv.FormatInt(c.HeartbeatInterval.Milliseconds(), 10),
			"rebalance.timeout.ms":              strconv.FormatInt(c.RebalanceTimeout.Milliseconds(), 10),
			"scheduled.rebalance.max.delay.ms":  strconv.FormatInt(c.ScheduledRebalanceMaxDelay.Milliseconds(), 10),
		} {
			settings[k] = v
		}
	} else {
		c, err := connect.ParseWorkerConfig(props)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		workerSettings(settings, c)
		settings["offset.storage.file.filename"] = c.OffsetStorageFile
	}
	for k, v := range props {
		if _, parsed := settings[k]; !parsed {
			settings[k] = v
		}
	}
	fmt.Fprintf(stdout, "%s: valid %s worker config. Effective values:\n", path, mode)
	printSettings(stdout, settings)
	return nil
}

// workerSettings adds the settings every worker reads, as parsed (defaults filled in).
func workerSettings(settings map[string]string, c connect.WorkerConfig) {
	settings["bootstrap.servers"] = strings.Join(c.BootstrapServers, ",")
	settings["listeners"] = c.Listeners
	settings["key.converter"] = c.KeyConverter
	settings["value.converter"] = c.ValueConverter
	settings["offset.flush.interval.ms"] = strconv.FormatInt(c.OffsetFlushInterval.Milliseconds(), 10)
	settings["offset.flush.timeout.ms"] = strconv.FormatInt(c.OffsetFlushTimeout.Milliseconds(), 10)
}

// printSettings prints settings sorted by key as Kafka logs a config: `\tkey = value`, a
// password, secret or JAAS config as [hidden].
func printSettings(w io.Writer, settings map[string]string) {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := maskSecret(k, settings[k])
		if strings.HasSuffix(k, ".jaas.config") { // a PASSWORD-typed key in Kafka: it holds credentials
			v = hiddenValue
		}
		fmt.Fprintf(w, "\t%s = %s\n", k, v)
	}
}
