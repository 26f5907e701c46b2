// Command windowed-count counts records per key in 1-minute tumbling windows of event time (the
// records' timestamps) and prints each count as it changes, or, with -final, once per window
// when the window has closed. The counts are also written to an output topic, keyed by
// "key@window-start" with the count as decimal text. The windows live in a LevelDB window store
// backed by the changelog topic windowed-count-counts-changelog (cleanup.policy=compact,delete),
// so stopping and restarting the program carries on counting.
//
// Its topics default to page-views and page-views-per-minute (-input, -output), which no other
// README example uses. Try it against a local Gregor:
//
//	./gregor dev                                          # in one terminal: a broker on 127.0.0.1:9092
//	go run ./examples/windowed-count                      # in a second terminal
//	printf 'home:x\nhome:x\ncart:x\n' | ./gregor produce --topic page-views --key-separator :
//	./gregor consume --topic page-views-per-minute --from-beginning --print-key --timeout-ms 5000
//
// The program prints one line per update, such as
//
//	home  [12:03:00, 12:04:00)  count=2
//
// A window closes when the stream time (the largest timestamp seen by the task) passes the
// window end plus the grace period (-grace, default 10s); a record arriving later than that
// for its window is dropped and counted, and the number of dropped records is printed when the
// program stops. Stop it with Ctrl-C: it commits what it processed and leaves the group
// cleanly. Run with -final to see Suppress at work: one line per key and window, printed once
// a record with a later timestamp has closed the window.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "comma-separated bootstrap servers")
	appID := flag.String("app-id", "windowed-count", "application id (consumer group and internal topic prefix)")
	input := flag.String("input", "page-views", "input topic; records are counted by key")
	output := flag.String("output", "page-views-per-minute", "output topic: key@window-start → count (as decimal text)")
	partitions := flag.Int("partitions", 3, "partitions of the input and output topics when this program creates them")
	size := flag.Duration("window", time.Minute, "window size")
	grace := flag.Duration("grace", 10*time.Second, "how long after its end a window still accepts late records")
	final := flag.Bool("final", false, "print and write one final count per window when it closes (Suppress)")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "gregor-windowed-count"), "local state directory")
	flag.Parse()
	err := run(config{
		bootstrap: strings.Split(*bootstrap, ","), appID: *appID, input: *input, output: *output,
		partitions: int32(*partitions), size: *size, grace: *grace, final: *final, stateDir: *stateDir,
	})
	if err != nil {
		slog.Error("windowed-count", "err", err)
		os.Exit(1)
	}
}

type config struct {
	bootstrap            []string
	appID, input, output string
	partitions           int32
	size, grace          time.Duration
	final                bool
	stateDir             string
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := createTopics(ctx, c.bootstrap, c.partitions, c.input, c.output); err != nil {
		return err
	}

	topology, err := buildTopology(c, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, topology.Describe())

	app, err := streams.New(topology, streams.Config{
		ApplicationID:    c.appID,
		BootstrapServers: c.bootstrap,
		StateDir:         c.stateDir,
		CommitInterval:   time.Second,
	})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		app.Close()
		return err
	}
	slog.Info("counting per window", "input", c.input, "output", c.output, "window", c.size,
		"grace", c.grace, "final", c.final, "state.dir", c.stateDir)
	select {
	case <-ctx.Done():
	case <-app.Done():
	}
	err = app.Close()
	slog.Info("stopped", "records", app.Stats().RecordsProcessed, "dropped_late", app.Stats().DroppedRecords)
	return err
}

// buildTopology counts c.input's records per key and window, printing each count to out and
// writing it to c.output.
func buildTopology(c config, out io.Writer) (*streams.Topology, error) {
	b := streams.NewBuilder()
	views := streams.Stream(b, c.input, statestore.String{}, statestore.String{})
	windows := streams.TumblingWindows(c.size).Grace(c.grace)
	counts := streams.WindowedBy(views.GroupByKey(), windows).Count(streams.Materialized("counts"))
	if c.final {
		counts = counts.Suppress(streams.UntilWindowCloses(streams.Unbounded()), streams.Materialized("final-counts"))
	}
	updates := counts.ToStream()
	updates.ForEach(func(w streams.Windowed[string], n int64) {
		fmt.Fprintf(out, "%s  [%s, %s)  count=%d\n", w.Key, clock(w.Start), clock(w.End), n)
	})
	// The output is keyed by "key@start" (start in RFC 3339) so that `gregor consume
	// --print-key` prints it readably; a Java consumer could instead read the windowed key
	// bytes written by streams.TimeWindowedSerde.
	streams.Map(updates, func(w streams.Windowed[string], n int64) (string, string) {
		return w.Key + "@" + time.UnixMilli(w.Start).UTC().Format(time.RFC3339), strconv.FormatInt(n, 10)
	}, statestore.String{}, statestore.String{}).To(c.output, nil, nil)
	return b.Build()
}

// clock formats a window bound (ms since the epoch) as a UTC time of day.
func clock(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05") }

// createTopics creates the input and output topics if they do not exist yet.
//
// NB: every example repeats this helper and its flag and signal set-up on purpose: each example is
// one self-contained file that users copy as the start of their own program.
func createTopics(ctx context.Context, bootstrap []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
