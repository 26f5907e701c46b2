package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultBootstrap is where client commands look for a broker unless told.
const defaultBootstrap = "127.0.0.1:9092"

// usageError is a mistake in the command line; the process exits with 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// kafkaError is a Kafka error code with a sentence about what it meant for
// this command: `TOPIC_ALREADY_EXISTS: topic "orders" already exists`.
type kafkaError struct {
	code     *kerr.Error
	sentence string
}

func (e *kafkaError) Error() string { return e.code.Message + ": " + e.sentence }
func (e *kafkaError) Unwrap() error { return e.code }

// explainTopicError turns an error about topic into a kafkaError whose
// sentence names the topic. brokerMessage, the free-text error message some
// responses carry, is preferred over kerr's generic description. Errors that
// are not Kafka error codes (network, context) are wrapped with the topic.
func explainTopicError(topic string, err error, brokerMessage string) error {
	if err == nil {
		return nil
	}
	var code *kerr.Error
	if !errors.As(err, &code) {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	var sentence string
	switch code {
	case kerr.TopicAlreadyExists:
		sentence = fmt.Sprintf("topic %q already exists", topic)
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID:
		sentence = fmt.Sprintf("topic %q does not exist", topic)
	default:
		if brokerMessage != "" {
			sentence = fmt.Sprintf("topic %q: %s", topic, brokerMessage)
		} else {
			sentence = fmt.Sprintf("topic %q: %s", topic, lowerFirst(strings.TrimSuffix(code.Description, ".")))
		}
	}
	return &kafkaError{code: code, sentence: sentence}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// flagSet is a flag.FlagSet with the synopsis printed above its flags.
type flagSet struct {
	*flag.FlagSet
	usageLine string
	about     string // optional paragraph printed under the synopsis
}

// newFlagSet returns a flagSet that reports errors instead of exiting.
func newFlagSet(name, usageLine string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // NB: parseFlags prints usage itself, to stdout for -h and stderr otherwise.
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, usageLine: usageLine}
}

// defaultTimeout is how long a client command waits for a broker to answer
// before it gives up with the reason.
const defaultTimeout = 15 * time.Second

// brokerFlags are the flags every client command takes to reach a broker.
type brokerFlags struct {
	bootstrap string
	// timeout bounds reaching a broker (and, for the producer, delivering a
	// record): a command never hangs silently on an unreachable cluster.
	timeout time.Duration
}

// addBootstrapFlag registers --bootstrap-server, its short form -b, and --timeout.
func addBootstrapFlag(fs *flagSet) *brokerFlags {
	var bf brokerFlags
	fs.StringVar(&bf.bootstrap, "bootstrap-server", defaultBootstrap, "comma-separated `host:port` list of brokers to connect to")
	fs.StringVar(&bf.bootstrap, "b", defaultBootstrap, "short for --bootstrap-server")
	fs.DurationVar(&bf.timeout, "timeout", defaultTimeout, "give up after this `duration` if no broker answers")
	return &bf
}

// parseFlags parses args allowing flags and positional arguments to be
// interleaved (`topics create --topic t` and `--topic t create` both work),
// returning the positional arguments. -h prints usage to stdout and returns
// flag.ErrHelp; any other mistake prints usage to stderr and returns a
// usageError.
func parseFlags(fs *flagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printFlagUsage(fs, stdout)
				return nil, err
			}
			printFlagUsage(fs, stderr)
			return nil, &usageError{msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func printFlagUsage(fs *flagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", fs.usageLine)
	if fs.about != "" {
		fmt.Fprintf(w, "\n%s\n", fs.about)
	}
	printExamples(w, fs.Name())
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}

// noPositional rejects positional arguments a command does not take.
func noPositional(positional []string) error {
	if len(positional) > 0 {
		return usageErrorf("unexpected argument %q", positional[0])
	}
	return nil
}

// stringList is a repeatable string flag (--config a=1 --config b=2).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseConfigs parses `key=value` pairs into a config map as kadm takes it.
// The value may itself contain '='; a key may not be empty or repeated.
func parseConfigs(pairs []string) (map[string]*string, error) {
	configs := make(map[string]*string, len(pairs))
	for _, pair := range pairs {
		key, value, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, usageErrorf("config %q is not of the form key=value", pair)
		}
		if _, dup := configs[key]; dup {
			return nil, usageErrorf("config %q given more than once", key)
		}
		configs[key] = &value
	}
	return configs, nil
}

// formatConfigs renders configs as Kafka's tools do: `k=v,k2=v2`, sorted by key.
func formatConfigs(configs map[string]string) string {
	parts := make([]string, 0, len(configs))
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		parts = append(parts, k+"="+configs[k])
	}
	return strings.Join(parts, ",")
}

// newClient connects to the comma-separated bootstrap list and checks, within
// --timeout, that a broker answers, so that a command run against no broker
// fails at once with the reason rather than waiting forever.
func newClient(ctx context.Context, bf *brokerFlags, opts ...kgo.Opt) (*kgo.Client, error) {
	if bf.timeout <= 0 {
		return nil, usageErrorf("--timeout must be positive")
	}
	bootstrap := bf.bootstrap
	var seeds []string
	for _, s := range strings.Split(bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, usageErrorf("--bootstrap-server is empty")
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", bootstrap, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, bf.timeout)
	defer cancel()
	if err := cl.Ping(pingCtx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unreachableError(bootstrap, bf.timeout, err)
	}
	return cl, nil
}

// unreachableError says why no broker in bootstrap answered a first request.
func unreachableError(bootstrap string, timeout time.Duration, err error) error {
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused to %s: no broker is listening there (start one with `./gregor dev`, or give --bootstrap-server)", bootstrap)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no broker at %s answered within %s (--timeout)", bootstrap, timeout)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("cannot connect to %s: %v", bootstrap, opErr.Err)
	}
	return fmt.Errorf("cannot reach a broker at %s: %w", bootstrap, err)
}

// parseAcks maps the console tools' --acks values to kgo.
func parseAcks(s string) (kgo.Acks, error) {
	switch s {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1":
		return kgo.LeaderAck(), nil
	case "0":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, usageErrorf("--acks must be all, -1, 1 or 0, not %q", s)
}

// producerAckOpts returns the producer options for acks; idempotent writes
// need acks=all, so anything weaker turns them off.
func producerAckOpts(s string) ([]kgo.Opt, error) {
	acks, err := parseAcks(s)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.RequiredAcks(acks)}
	if s != "all" && s != "-1" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// parseCompression maps a compression.type name to a kgo codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, usageErrorf("--compression must be none, gzip, snappy, lz4 or zstd, not %q", s)
}

// subcommand runs one `gregor <command> <subcommand>`.
type subcommand func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// runSubcommand dispatches `gregor <command> <subcommand> args...`, printing usage on help or a
// missing or unknown subcommand.
func runSubcommand(ctx context.Context, command, usage string, subs map[string]subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("%s: no subcommand given", command)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if run, ok := subs[args[0]]; ok {
		return run(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("%s: unknown subcommand %q%s", command, args[0], didYouMean(args[0], slices.Collect(maps.Keys(subs))))
}

// parseTopicFlags parses a command that takes flags only, one of them a required --topic.
func parseTopicFlags(fs *flagSet, args []string, stdout, stderr io.Writer, topic *string) error {
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noPositional(positional); err != nil {
		return err
	}
	return requireTopic(*topic)
}
