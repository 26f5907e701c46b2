package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
	_ "github.com/gregor-streams/gregor/connectors/file" // registers FileStreamSource and FileStreamSink
)

const connectUsage = `Usage: gregor connect <subcommand>

Subcommands:
  standalone worker.properties connector.json|connector.properties ...
           run a standalone Connect worker (Kafka Connect's REST API on listeners,
           default http://127.0.0.1:8083) with the given connectors
`

// runConnect is `gregor connect <subcommand>`.
func runConnect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "connect", connectUsage, map[string]subcommand{
		"standalone": runConnectStandalone,
	}, args, stdout, stderr)
}

// runConnectStandalone is connect-standalone.sh: a worker config, then connector configs.
func runConnectStandalone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 {
		fmt.Fprint(stderr, connectUsage)
		return usageErrorf("connect standalone: a worker.properties file is required")
	}
	props, err := readPropertiesFile(args[0])
	if err != nil {
		return err
	}
	var connectors []connectorFile
	for _, path := range args[1:] {
		c, err := readConnectorFile(path)
		if err != nil {
			return err
		}
		connectors = append(connectors, c)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := connect.RunStandalone(ctx, props, connect.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer r.Close()
	for _, c := range connectors {
		if _, _, err := r.Herder.PutConnectorConfig(c.name, c.config, false, connect.TargetStarted); err != nil {
			return fmt.Errorf("connector %s: %w", c.name, err)
		}
		logger.Info("connector created", "name", c.name)
	}
	fmt.Fprintf(stdout, "Connect worker listening on http://%s\n", r.Addr)
	<-ctx.Done()
	return nil
}

type connectorFile struct {
	name   string
	config map[string]string
}

func readPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props, err := config.ReadProperties(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return props, nil
}

// readConnectorFile reads a connector config like Kafka's tools accept: a .properties file, or JSON
// either as {"name": ..., "config": {...}} (the REST body) or as a flat object with "name".
func readConnectorFile(path string) (connectorFile, error) {
	if !strings.HasSuffix(path, ".json") {
		props, err := readPropertiesFile(path)
		if err != nil {
			return connectorFile{}, err
		}
		if props["name"] == "" {
			return connectorFile{}, fmt.Errorf("%s: no name", path)
		}
		return connectorFile{name: props["name"], config: props}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return connectorFile{}, err
	}
	var wrapped struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Config != nil {
		if wrapped.Name == "" {
			wrapped.Name = wrapped.Config["name"]
		}
		if wrapped.Name == "" {
			return connectorFile{}, fmt.Errorf("%s: no name", path)
		}
		return connectorFile{name: wrapped.Name, config: wrapped.Config}, nil
	}
	var flat map[string]string
	if err := json.Unmarshal(data, &flat); err != nil {
		return connectorFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if flat["name"] == "" {
		return connectorFile{}, fmt.Errorf("%s: no name", path)
	}
	return connectorFile{name: flat["name"], config: flat}, nil
}
