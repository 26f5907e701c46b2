package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/connectors/mirror" // registers the MirrorMaker 2 connectors
)

const mirrorUsage = `Usage: gregor mirror mm2.properties
       gregor mirror status [--bootstrap-server host:port]

Runs MirrorMaker 2 in dedicated mode, as connect-mirror-maker.sh does: for each enabled flow
(A->B.enabled = true) a Connect worker on the target cluster runs MirrorSourceConnector,
MirrorCheckpointConnector and MirrorHeartbeatConnector.

status prints the newest heartbeat of each heartbeats topic on a cluster: in <alias>.heartbeats
it came through a mirror flow, and its age bounds that flow's replication latency.

Examples:
  gregor mirror deploy/mm2.properties
  gregor mirror status --bootstrap-server 127.0.0.1:9092
`

// runMirror is connect-mirror-maker.sh.
func runMirror(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "status" {
		return runMirrorStatus(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, mirrorUsage)
		return nil
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, mirrorUsage)
		return usageErrorf("mirror: exactly one mm2.properties file is required")
	}
	props, err := readPropertiesFile(args[0])
	if err != nil {
		return err
	}
	flows, err := mirror.ParseMM2(props)
	if err != nil {
		return err
	}
	if len(flows) == 0 {
		return fmt.Errorf("mirror: %s enables no flow (set A->B.enabled = true)", args[0])
	}
	loggers := connect.NewLoggers(slog.LevelInfo)
	logger := slog.New(loggers.Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4})))
	var runners []*connect.DistributedRunner
	defer func() {
		for _, r := range runners {
			r.Close()
		}
	}()
	for _, f := range flows {
		flowLog := logger.With("flow", f.Source+"->"+f.Target)
		r, err := connect.RunDistributed(ctx, f.Worker, connect.Options{Logger: flowLog, Loggers: loggers})
		if err != nil {
			return fmt.Errorf("mirror: %s->%s worker: %w", f.Source, f.Target, err)
		}
		runners = append(runners, r)
		for name, cfg := range f.Connectors {
			if err := putWhenReady(ctx, r.Herder, name, cfg); err != nil {
				if ctx.Err() != nil {
					return nil // stopped while starting
				}
				return fmt.Errorf("mirror: %s->%s: %w", f.Source, f.Target, err)
			}
		}
		fmt.Fprintf(stdout, "Mirroring %s->%s (worker http://%s)\n", f.Source, f.Target, r.Addr)
	}
	<-ctx.Done()
	return nil
}

// putWhenReady creates or updates a connector once the worker has joined its group and read the
// config topic (bounded): until then the herder answers ErrConflict.
func putWhenReady(ctx context.Context, h *connect.Distributed, name string, cfg map[string]string) error {
	var err error
	for range 300 {
		if _, _, err = h.PutConnectorConfig(name, cfg, true, connect.TargetStarted); err == nil {
			return nil
		}
		if errors.Is(err, connect.ErrInvalidConfig) {
			return fmt.Errorf("connector %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("connector %s: %w", name, err)
}

// runMirrorStatus prints the newest heartbeat per heartbeats topic of one cluster.
func runMirrorStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mirror status", "mirror status [--bootstrap-server host:port]")
	bootstrap := addBootstrapFlag(fs)
	if _, err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if bootstrap.timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, bootstrap.timeout)
	defer cancel()
	statuses, err := mirror.HeartbeatStatuses(ctx, strings.Split(bootstrap.bootstrap, ","))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tFLOW\tLAST HEARTBEAT\tAGE")
	for _, s := range statuses {
		fmt.Fprintf(tw, "%s\t%s->%s\t%s\t%s\n", s.Topic, s.Heartbeat.SourceClusterAlias, s.Heartbeat.TargetClusterAlias,
			time.UnixMilli(s.Heartbeat.TimestampMs).UTC().Format(time.RFC3339Nano), s.Age.Round(time.Millisecond))
	}
	return tw.Flush()
}
