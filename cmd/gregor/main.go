// Command gregor is the single binary of Gregor, a Kafka-compatible streaming
// platform: it runs the broker (`gregor server`, `gregor dev`) and carries the
// client tools that ship with Kafka as shell scripts — topic administration
// (kafka-topics.sh), consumer group administration (kafka-consumer-groups.sh),
// the console producer and consumer, and the producer,
// consumer and end-to-end performance tests.
//
// Every client command is a function
//
//	func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
//
// so tests run it in-process against a cluster. Errors carry Kafka's error name
// (TOPIC_ALREADY_EXISTS, ...) and are printed once, by the dispatcher.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// commandFunc is the shape of every client command.
type commandFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

type command struct {
	name    string
	summary string
	run     commandFunc
}

// commands lists the top-level commands in the order `gregor help` shows them.
var commands = []command{
	{"server", "run a broker from a server.properties file", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return cmdServer(ctx, args, stdout, stderr)
	}},
	{"dev", "run a single-node development broker on 127.0.0.1:9092", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return cmdDev(ctx, args, stdout, stderr)
	}},
	{"storage", "format a KRaft node's log dirs (meta.properties), as kafka-storage.sh does", runStorage},
	{"topics", "create, list, describe, delete and alter topics; reassign replicas, elect leaders", runTopics},
	{"cluster", "cluster status: brokers, metadata quorum, under-replicated and offline partitions", runCluster},
	{"produce", "write stdin lines to a topic, one record per line", runProduce},
	{"consume", "print records from a topic to stdout", runConsume},
	{"groups", "list, describe and delete consumer groups; reset and delete their offsets", runGroups},
	{"connect", "run a standalone or distributed Connect worker, or manage connectors through its REST API", runConnect},
	{"mirror", "run MirrorMaker 2 (connect-mirror-maker.sh) from an mm2.properties file", runMirror},
	{"schema-registry", "run a Confluent-compatible Schema Registry against a cluster", runSchemaRegistry},
	{"console", "serve the web console and its JSON API for a cluster and Kafka Connect", runConsole},
	{"schemas", "list, get, register, check and delete schemas; get and set compatibility", runSchemas},
	{"perf", "producer, consumer and end-to-end performance tests", runPerf},
	{"version", "print the version and build information", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches args to a command and turns its error into an exit code:
// 0 on success (or -h), 2 on a usage error, 1 on any other error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), shutdownSignals...)
	defer stop()
	return exitCode(dispatch(ctx, args, stdin, stdout, stderr), stderr)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageErrorf("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			// `gregor help topics` is `gregor topics -h`.
			return dispatch(ctx, []string{args[1], "-h"}, stdin, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	case "-version", "--version":
		// Kafka's tools take --version; it is `gregor version`.
		name, args = "version", append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	printUsage(stderr)
	names := []string{"help"}
	for _, c := range commands {
		names = append(names, c.name)
	}
	return usageErrorf("unknown command %q%s", name, didYouMean(name, names))
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: gregor <command> [subcommand] [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show this help, or `gregor help <command>`")
	fmt.Fprintf(w, "\nClient commands take --bootstrap-server (-b), default %s.\n", defaultBootstrap)
}

// exitCode prints err (if any) to stderr and maps it to the process exit code.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
}
