package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/broker/config"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// cmdServer runs `gregor server --config server.properties [--set k=v ...]`.
func cmdServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	path := fs.String("config", "", "server.properties file (Kafka's broker config names)")
	var sets setFlags
	fs.Var(&sets, "set", "override a config: key=value (repeatable)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file until shutdown")
	if err := fs.Parse(args); err != nil {
		return err
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
	if fs.NArg() == 1 && *path == "" { // kafka-server-start.sh style: gregor server server.properties
		*path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return runBroker(ctx, *path, sets, *logLevel, os.Stderr, nil)
}

// cmdDev runs `gregor dev`: a single-node broker on 127.0.0.1:9092 with data under ./data.
func cmdDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dataDir := fs.String("data", "./data", "data directory")
	listen := fs.String("listen", "127.0.0.1:9092", "broker address")
	var sets setFlags
	fs.Var(&sets, "set", "override a broker config: key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Like Kafka's quickstart config: a new group's first rebalance is not delayed.
	base := []string{"listeners=PLAINTEXT://" + *listen, "log.dirs=" + *dataDir + "/broker", "group.initial.rebalance.delay.ms=0"}
	return runBroker(ctx, "", append(base, sets...), "info", os.Stderr, func(b *broker.Broker) {
		addr := b.Addr()
		fmt.Fprintf(os.Stdout, `Gregor dev is running.
  broker   %s   (Kafka protocol; data in %s)

Try it from another terminal:
  go run ./cmd/gregor topics create --topic quickstart --partitions 3
  echo 'hello gregor' | go run ./cmd/gregor produce --topic quickstart
  go run ./cmd/gregor consume --topic quickstart --from-beginning --max-messages 1
  kcat -b %s -L

Press Ctrl-C to stop.
`, addr, *dataDir, addr)
	})
}

func runBroker(ctx context.Context, path string, sets []string, level string, logOut io.Writer, started func(*broker.Broker)) error {
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
	if started != nil {
		started(b)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return b.Close()
}
