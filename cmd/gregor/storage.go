package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/internal/dirlock"
)

const storageUsage = `Usage: gregor storage <subcommand> [flags]

Prepare the log directories of a KRaft node, as kafka-storage.sh does.

Subcommands:
  random-uuid   print a new cluster ID
  format        write meta.properties (cluster.id, node.id) in every log dir of a node
  info          print the meta.properties of a node's log dirs
`

// runStorage is `gregor storage`, Kafka's kafka-storage.sh.
func runStorage(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "storage", storageUsage, map[string]subcommand{
		"random-uuid": runStorageRandomUUID,
		"format":      runStorageFormat,
		"info":        runStorageInfo,
	}, args, stdout, stderr)
}

func runStorageRandomUUID(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("storage random-uuid", "gregor storage random-uuid")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	fmt.Fprintln(stdout, config.RandomClusterID())
	return nil
}

// addStorageConfigFlag registers --config and its short form -c.
func addStorageConfigFlag(fs *flagSet) *string {
	var path string
	fs.StringVar(&path, "config", "", "the node's server.properties")
	fs.StringVar(&path, "c", "", "short for --config")
	return &path
}

// loadKRaftConfig reads a server.properties for the storage commands, which only make sense for a
// KRaft node.
func loadKRaftConfig(path string) (*config.Broker, error) {
	if path == "" {
		return nil, usageErrorf("--config is required")
	}
	cfg, _, err := config.Load(path, nil)
	if err != nil {
		return nil, err
	}
	if cfg.KRaft.Implicit {
		return nil, fmt.Errorf("the configuration file %s is for the implicit single node: process.roles is not set. Such a node formats its log dir itself on first start; formatting is only needed for nodes with process.roles and controller.quorum.voters", path)
	}
	return cfg, nil
}

func runStorageFormat(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("storage format", "gregor storage format --cluster-id ID --config server.properties [--ignore-formatted]")
	var clusterID string
	fs.StringVar(&clusterID, "cluster-id", "", "the cluster's ID, from `gregor storage random-uuid` (the same on every node)")
	fs.StringVar(&clusterID, "t", "", "short for --cluster-id")
	path := addStorageConfigFlag(fs)
	var ignoreFormatted bool
	fs.BoolVar(&ignoreFormatted, "ignore-formatted", false, "skip log dirs that are already formatted instead of failing")
	fs.BoolVar(&ignoreFormatted, "g", false, "short for --ignore-formatted")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if clusterID == "" {
		return usageErrorf("--cluster-id is required")
	}
	if err := config.ValidateClusterID(clusterID); err != nil {
		return err
	}
	cfg, err := loadKRaftConfig(*path)
	if err != nil {
		return err
	}
	var todo []string
	for _, dir := range cfg.StorageDirs() {
		_, err := config.ReadMetaProperties(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			todo = append(todo, dir)
		case err != nil:
			return err
		case !ignoreFormatted:
			return fmt.Errorf("log directory %s is already formatted. Use --ignore-formatted to ignore this directory and format the others", dir)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintln(stdout, "All of the log directories are already formatted.")
		return nil
	}
	for _, dir := range todo {
		if err := formatDir(dir, config.MetaProperties{ClusterID: clusterID, NodeID: cfg.NodeID}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Formatting %s with cluster.id %s and node.id %d.\n", dir, clusterID, cfg.NodeID)
	}
	return nil
}

// formatDir writes meta.properties in dir under the directory's lock, so a running broker's dirs are
// never rewritten.
func formatDir(dir string, m config.MetaProperties) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	l, err := dirlock.Acquire(dir)
	if err != nil {
		return fmt.Errorf("log directory %s: %w", dir, err)
	}
	defer l.Release()
	return config.WriteMetaProperties(dir, m)
}

func runStorageInfo(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("storage info", "gregor storage info --config server.properties")
	path := addStorageConfigFlag(fs)
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	cfg, err := loadKRaftConfig(*path)
	if err != nil {
		return err
	}
	for _, dir := range cfg.StorageDirs() {
		m, err := config.ReadMetaProperties(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(stdout, "%s: not formatted\n", dir)
		case err != nil:
			fmt.Fprintf(stdout, "%s: %v\n", dir, err)
		default:
			fmt.Fprintf(stdout, "%s: cluster.id=%s node.id=%d\n", dir, m.ClusterID, m.NodeID)
		}
	}
	return nil
}
