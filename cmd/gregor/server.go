package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/connect"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// cmdServer runs `gregor server --config server.properties [--set k=v ...]`.
func cmdServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("server", "gregor server [--config] server.properties [--set key=value]... [--log-level info]")
	path := fs.String("config", "", "server.properties `file` (Kafka's broker config names)")
	var sets setFlags
	fs.Var(&sets, "set", "override a config: `key=value` (repeatable)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this `file` until shutdown")
	checkConfig := fs.String("check-config", "", "parse this server.properties `file`, print the effective settings and exit")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *checkConfig != "" {
		if err := noPositional(positional); err != nil {
			return err
		}
		return checkServerConfig(ctx, *checkConfig, sets, stdout)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if len(positional) == 1 && *path == "" { // kafka-server-start.sh style: gregor server server.properties
		*path = positional[0]
	} else if err := noPositional(positional); err != nil {
		return err
	}
	brokerSets, started, err := serverSchemaRegistry(ctx, *path, sets, nil)
	if err == nil {
		brokerSets, started, err = serverConsole(brokerSets, started)
	}
	if err != nil {
		return err
	}
	return runBroker(ctx, "", brokerSets, *logLevel, os.Stderr, started)
}

// cmdDev runs `gregor dev`: a single-node broker on 127.0.0.1:9092 with data under ./data, and a
// standalone Connect worker on 127.0.0.1:8083 whose offsets and connector configs live under
// ./data/connect, so connectors survive a restart.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "gregor dev [--listen 127.0.0.1:9092] [--connect-listen 127.0.0.1:8083] [--console-listen 127.0.0.1:8080] [--data ./data] [--set key=value]...")
	fs.about = "Runs a single-node broker and a standalone Connect worker (JSON converters without schemas)\n" +
		"for development; Ctrl-C stops both cleanly."
	dataDir := fs.String("data", "./data", "data `directory`")
	listen := fs.String("listen", "127.0.0.1:9092", "broker `host:port`")
	connectListen := fs.String("connect-listen", "127.0.0.1:8083", "Connect worker REST `host:port` (empty disables the worker)")
	registryListen := fs.String("schema-registry-listen", defaultSchemaRegistryListen, "Schema Registry REST `host:port` (empty disables it)")
	consoleListen := fs.String("console-listen", defaultConsoleListen, "web console `host:port` (empty or off disables it)")
	var sets setFlags
	fs.Var(&sets, "set", "override a broker config: `key=value` (repeatable)")
	brokers := fs.Int("brokers", 1, "run a local KRaft cluster of this many nodes (devcluster.go): brokers from --listen's port up, controllers after them")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	if *brokers != 1 {
		return runDevCluster(ctx, *brokers, *listen, *dataDir, sets, stdout)
	}
	// Like Kafka's quickstart config: a new group's first rebalance is not delayed.
	base := []string{"listeners=PLAINTEXT://" + *listen, "log.dirs=" + *dataDir + "/broker", "group.initial.rebalance.delay.ms=0"}
	return runBroker(ctx, "", append(base, sets...), "info", os.Stderr, withSchemaRegistry(ctx, *registryListen, "_schemas", "schema-registry", func(b *broker.Broker, logger *slog.Logger) (func() error, error) {
		addr := b.Addr()
		stop := func() error { return nil }
		connectLine, connectURL := "", ""
		// NB: /metrics on the console port gathers the broker's registry, the worker's, and the
		// default one (where streams Apps in this process register by default) without its Go and
		// process collectors, which the broker's registry has already.
		gatherers := prometheus.Gatherers{b.MetricsRegistry(), withoutRuntimeMetrics(prometheus.DefaultGatherer)}
		if *connectListen != "" {
			r, err := startDevConnect(ctx, addr, *dataDir, *connectListen, logger)
			if err != nil {
				return nil, fmt.Errorf("connect worker on %s (use --connect-listen to move it, or --connect-listen= to disable it): %w", *connectListen, err)
			}
			stop = r.Close
			gatherers = append(gatherers, r.MetricsRegistry())
			connectLine = fmt.Sprintf("  connect  http://%s   (Kafka Connect REST; JSON converters without schemas; connectors in %s)\n", r.Addr, filepath.Join(*dataDir, "connect"))
			connectURL = "http://" + r.Addr
		}
		if !consoleOff(*consoleListen) {
			cs, url, err := startConsole([]string{addr}, connectURL, *consoleListen, promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{}), logger)
			if err != nil {
				_ = stop()
				return nil, fmt.Errorf("console on %s (use --console-listen to move it, or --console-listen=off to disable it): %w", *consoleListen, err)
			}
			stopConnect := stop
			stop = func() error { cs.Close(); return stopConnect() }
			connectLine += fmt.Sprintf("  console  %s   (web console and JSON API; Prometheus metrics at /metrics)\n", url)
		}
		fmt.Fprint(stdout, devBanner(addr, *dataDir, connectLine, connectURL))
		return stop, nil
	}))
}

// devBanner is what `gregor dev` prints once it serves: where it listens and commands to try, with
// the addresses actually chosen (flags are only added where they differ from the CLI's defaults).
func devBanner(addr, dataDir, connectLine, connectURL string) string {
	b := ""
	if addr != defaultBootstrap {
		b = " -b " + addr
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Gregor dev is running.\n  broker   %s   (Kafka protocol; data in %s)\n%s\n", addr, dataDir, connectLine)
	fmt.Fprintf(&sb, "Try it from another terminal (build the CLI once: go build -o gregor ./cmd/gregor):\n")
	fmt.Fprintf(&sb, "  ./gregor topics create --topic quickstart --partitions 3%s\n", b)
	fmt.Fprintf(&sb, "  echo 'hello gregor' | ./gregor produce --topic quickstart%s\n", b)
	fmt.Fprintf(&sb, "  ./gregor consume --topic quickstart --from-beginning --max-messages 1%s\n", b)
	fmt.Fprintf(&sb, "  kcat -b %s -L\n", addr)
	if connectURL != "" {
		u := ""
		if connectURL != defaultConnectURL {
			u = " --connect-url " + connectURL
		}
		fmt.Fprintf(&sb, "  ./gregor connect plugins%s\n", u)
		fmt.Fprintf(&sb, "  ./gregor connect status%s\n", u)
	}
	sb.WriteString("\nPress Ctrl-C to stop.\n")
	return sb.String()
}

// startDevConnect starts `gregor dev`'s standalone Connect worker: REST on listen (host:port),
// bootstrap the dev broker, JSON converters without schemas (schemas.enable=false: records read as
// plain JSON such as Debezium's change events; a connector can set its own converters), source offsets
// in <data>/connect/offsets.json and connector configs in <data>/connect/connectors.json.
func startDevConnect(ctx context.Context, bootstrap, dataDir, listen string, logger *slog.Logger) (*connect.Runner, error) {
	dir := filepath.Join(dataDir, "connect")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	props := map[string]string{
		"bootstrap.servers":              bootstrap,
		"listeners":                      "http://" + listen,
		"offset.storage.file.filename":   filepath.Join(dir, "offsets.json"),
		"offset.flush.interval.ms":       "10000", // as Kafka's connect-standalone.properties
		"key.converter":                  connect.JSONConverterClass,
		"key.converter.schemas.enable":   "false",
		"value.converter":                connect.JSONConverterClass,
		"value.converter.schemas.enable": "false",
	}
	r, loadErrs, err := connect.RunStandaloneWithConfigFile(ctx, props, connect.Options{Logger: logger}, filepath.Join(dir, "connectors.json"))
	if err != nil {
		return nil, err
	}
	for _, err := range loadErrs {
		logger.Error("saved connector not started; it stays in the config file until deleted", "err", err)
	}
	return r, nil
}

// runBroker runs a broker until ctx is done. started, if set, runs once the broker serves; the
// function it returns is called at shutdown, before the broker closes.
func runBroker(ctx context.Context, path string, sets []string, level string, logOut io.Writer, started func(*broker.Broker, *slog.Logger) (func() error, error)) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: lv}))
	cfg, ignored, err := config.Load(path, sets)
	if err != nil {
		return err
	}
	for _, k := range ignored {
		logger.Info("config key has no effect on a Gregor node; ignored", "key", k)
	}
	b, err := broker.New(cfg, broker.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		b.Close()
		return err
	}
	stop := func() error { return nil }
	if started != nil {
		if stop, err = started(b, logger); err != nil {
			b.Close()
			return err
		}
	}
	<-ctx.Done()
	logger.Info("shutting down")
	// NB: stop first, so a Connect worker flushes its records and offsets while the broker is up.
	err = stop()
	if berr := b.Close(); err == nil {
		err = berr
	}
	return err
}

// withoutRuntimeMetrics returns g's families except the go_ and process_ ones.
func withoutRuntimeMetrics(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		kept := mfs[:0]
		for _, mf := range mfs {
			if n := mf.GetName(); !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") {
				kept = append(kept, mf)
			}
		}
		return kept, err
	})
}
