package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/gregor-streams/gregor/broker"
	"github.com/gregor-streams/gregor/console"
)

// defaultConsoleListen is where `gregor console` and `gregor dev` serve the console.
const defaultConsoleListen = "127.0.0.1:8080"

func init() {
	commandExamples["console"] = []string{
		"gregor console",
		"gregor console --bootstrap-server kafka-1:9092 --connect-url http://connect:8083 --listen 0.0.0.0:8080",
		"gregor console --connect-url ''   # no Kafka Connect: the connectors page says so",
	}
}

// runConsole runs `gregor console`: the web console and its JSON API against any Kafka-compatible
// cluster (and Kafka Connect's REST API) until interrupted.
func runConsole(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("console", "gregor console [--bootstrap-server 127.0.0.1:9092] [--connect-url http://127.0.0.1:8083] [--listen 127.0.0.1:8080]")
	fs.about = "Serves the web console (topics, messages, consumer groups, connectors, streams topologies) and its\n" +
		"JSON API under /api/ for any Kafka-compatible cluster."
	bootstrap := addBootstrapFlag(fs)
	connectURL := fs.String("connect-url", defaultConnectURL, "Kafka Connect REST `URL` (empty: no connectors section)")
	listen := fs.String("listen", defaultConsoleListen, "console HTTP `host:port`")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErrorf("--log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	brokers := splitList(bootstrap.bootstrap)
	s, url, err := startConsole(brokers, *connectURL, *listen, nil, logger)
	if err != nil {
		return err
	}
	connect := *connectURL
	if connect == "" {
		connect = "none"
	}
	fmt.Fprintf(stdout, "Console on %s (cluster %s; Kafka Connect %s)\n", url, strings.Join(brokers, ","), connect)
	<-ctx.Done()
	return s.Close()
}

// startConsole starts a console serving on listen and returns it with its URL.
func startConsole(brokers []string, connectURL, listen string, metrics http.Handler, logger *slog.Logger) (*console.Server, string, error) {
	s, err := console.New(console.Options{BootstrapServers: brokers, ConnectURL: connectURL, Metrics: metrics, Logger: logger})
	if err != nil {
		return nil, "", err
	}
	addr, err := s.Start(strings.TrimPrefix(strings.TrimPrefix(listen, "http://"), "HTTP://"))
	if err != nil {
		s.Close()
		return nil, "", err
	}
	return s, "http://" + addr, nil
}

// consoleOff reports whether a --console-listen or console.listener value disables the console.
func consoleOff(listen string) bool {
	return listen == "" || strings.EqualFold(listen, "off")
}

// serverConsole takes console.listener out of a server's broker settings (file and --set lines,
// as serverSchemaRegistry returns them) and wraps started so that the broker process also serves
// the console, against the broker's own listener.
func serverConsole(sets []string, inner brokerStarted) ([]string, brokerStarted, error) {
	listen := ""
	var rest []string
	for _, kv := range sets {
		k, v, _ := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); strings.HasPrefix(k, "console.") {
			if k != "console.listener" {
				return nil, nil, fmt.Errorf("unknown config key %q (console keys: console.listener)", k)
			}
			listen = strings.TrimSpace(v)
			continue
		}
		rest = append(rest, kv)
	}
	if consoleOff(listen) {
		return rest, inner, nil
	}
	return rest, withConsole(listen, "", nil, inner), nil
}

// withConsole wraps started: once the broker serves, a console runs against it on listen, closed
// before the broker at shutdown.
func withConsole(listen, connectURL string, metrics http.Handler, inner brokerStarted) brokerStarted {
	return func(b *broker.Broker, logger *slog.Logger) (func() error, error) {
		s, url, err := startConsole([]string{b.Addr()}, connectURL, listen, metrics, logger)
		if err != nil {
			return nil, fmt.Errorf("console on %s (--console-listen or console.listener moves it; \"off\" disables it): %w", listen, err)
		}
		fmt.Fprintf(os.Stdout, "Console on %s\n", url)
		stop := func() error { return nil }
		if inner != nil {
			if stop, err = inner(b, logger); err != nil {
				s.Close()
				return nil, err
			}
		}
		return func() error {
			err := stop()
			s.Close()
			return err
		}, nil
	}
}
