package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/schemaregistry"
)

// defaultSchemaRegistryListen is Confluent's port, where `gregor dev` and `gregor schema-registry`
// serve the registry unless told.
const defaultSchemaRegistryListen = "127.0.0.1:8081"

// runSchemaRegistry runs `gregor schema-registry`: a registry instance against any Kafka-compatible
// cluster until interrupted. Several instances with one --group-id and --topic elect a primary.
// Like Confluent's schema-registry-start, it takes a schema-registry.properties file (positional
// or --config); flags given explicitly override it.
func runSchemaRegistry(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("schema-registry", "gregor schema-registry [schema-registry.properties] [--listen host:port] [--bootstrap-server B] [--topic _schemas] [--group-id schema-registry] [--advertised-url URL]")
	bootstrap := addBootstrapFlag(fs)
	configPath := fs.String("config", "", "Confluent schema-registry.properties (listeners, kafkastore.bootstrap.servers, kafkastore.topic, schema.registry.group.id, leader.eligibility, host.name)")
	listen := fs.String("listen", defaultSchemaRegistryListen, "REST address (host:port)")
	topic := fs.String("topic", "_schemas", "the compacted topic schemas live in (kafkastore.topic)")
	group := fs.String("group-id", "schema-registry", "group the instances elect their primary in (schema.registry.group.id)")
	advertised := fs.String("advertised-url", "", "URL other instances forward writes to (default http://<listen>)")
	notEligible := fs.Bool("not-leader-eligible", false, "never become primary (leader.eligibility=false)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(positional) == 1 && *configPath == "" {
		*configPath, positional = positional[0], nil
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	cfg := schemaregistry.Config{BootstrapServers: splitList(bootstrap.bootstrap), Listen: *listen, Topic: *topic, GroupID: *group,
		AdvertisedURL: *advertised, NotLeaderEligible: *notEligible}
	if *configPath != "" {
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		if err := applyRegistryProperties(*configPath, explicit, &cfg); err != nil {
			return err
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErrorf("--log-level: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	s, err := schemaregistry.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Schema registry on %s (topic %s, bootstrap %s)\n", s.URL(), cfg.Topic, strings.Join(cfg.BootstrapServers, ","))
	<-ctx.Done()
	return s.Close()
}

// applyRegistryProperties reads Confluent's schema-registry.properties names into cfg, except where
// the matching flag was given explicitly.
func applyRegistryProperties(path string, explicit map[string]bool, cfg *schemaregistry.Config) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	props, err := config.ReadProperties(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	stripScheme := func(v string) string {
		if _, rest, ok := strings.Cut(v, "://"); ok {
			return rest
		}
		return v
	}
	if v, ok := props["listeners"]; ok && !explicit["listen"] {
		cfg.Listen = stripScheme(splitList(v)[0])
	}
	if v, ok := props["kafkastore.bootstrap.servers"]; ok && !explicit["bootstrap-server"] && !explicit["b"] {
		cfg.BootstrapServers = nil
		for _, s := range splitList(v) {
			cfg.BootstrapServers = append(cfg.BootstrapServers, stripScheme(s))
		}
	}
	if v, ok := props["kafkastore.topic"]; ok && !explicit["topic"] {
		cfg.Topic = v
	}
	if v, ok := props["schema.registry.group.id"]; ok && !explicit["group-id"] {
		cfg.GroupID = v
	}
	for _, k := range []string{"leader.eligibility", "master.eligibility"} {
		if v, ok := props[k]; ok && !explicit["not-leader-eligible"] {
			cfg.NotLeaderEligible = strings.EqualFold(v, "false")
		}
	}
	if host, ok := props["host.name"]; ok && !explicit["advertised-url"] {
		if _, port, ok := strings.Cut(cfg.Listen, ":"); ok {
			cfg.AdvertisedURL = "http://" + host + ":" + port
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// brokerStarted is runBroker's hook: it runs once the broker serves and returns what to stop.
type brokerStarted = func(*broker.Broker, *slog.Logger) (func() error, error)

// withSchemaRegistry wraps a runBroker hook so the node also serves a registry on listen (none when
// empty), against the node's own listener. The registry starts before inner (so its line prints
// above `gregor dev`'s banner) and stops after inner's stop, before the broker.
func withSchemaRegistry(ctx context.Context, listen string, topic, group string, inner brokerStarted) brokerStarted {
	return func(b *broker.Broker, logger *slog.Logger) (func() error, error) {
		closeRegistry := func() error { return nil }
		if listen != "" {
			listen = strings.TrimPrefix(strings.TrimPrefix(listen, "http://"), "HTTP://")
			s, err := schemaregistry.Start(ctx, schemaregistry.Config{BootstrapServers: []string{b.Addr()}, Listen: listen,
				Topic: topic, GroupID: group, Logger: logger})
			if err != nil {
				return nil, fmt.Errorf("schema registry on %s (--schema-registry-listen or schema.registry.listener moves it; empty disables it): %w", listen, err)
			}
			closeRegistry = s.Close
			fmt.Fprintf(os.Stdout, "Schema registry on %s (Confluent Schema Registry REST; schemas in topic %s)\n", s.URL(), topic)
		}
		stop := func() error { return nil }
		if inner != nil {
			var err error
			if stop, err = inner(b, logger); err != nil {
				_ = closeRegistry()
				return nil, err
			}
		}
		return func() error {
			err := stop()
			if rerr := closeRegistry(); err == nil {
				err = rerr
			}
			return err
		}, nil
	}
}

// serverSchemaRegistry takes the schema.registry.* keys out of a server's properties file and
// --set overrides (the broker's config parser rejects keys it does not know), returning the
// remaining broker settings as overrides and a hook that serves the registry when
// schema.registry.listener is set.
func serverSchemaRegistry(ctx context.Context, path string, sets []string, inner brokerStarted) ([]string, brokerStarted, error) {
	var order []string
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		props, err := config.ReadProperties(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		for k := range props {
			order = append(order, k+"="+props[k])
		}
	}
	registry := map[string]string{"schema.registry.topic": "_schemas", "schema.registry.group.id": "schema-registry"}
	var rest []string
	for _, kv := range append(order, sets...) {
		k, v, _ := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); strings.HasPrefix(k, "schema.registry.") {
			switch k {
			case "schema.registry.listener", "schema.registry.topic", "schema.registry.group.id":
				registry[k] = strings.TrimSpace(v)
			default:
				return nil, nil, fmt.Errorf("unknown config key %q (schema registry keys: schema.registry.listener, schema.registry.topic, schema.registry.group.id)", k)
			}
			continue
		}
		rest = append(rest, kv)
	}
	return rest, withSchemaRegistry(ctx, registry["schema.registry.listener"], registry["schema.registry.topic"],
		registry["schema.registry.group.id"], inner), nil
}
