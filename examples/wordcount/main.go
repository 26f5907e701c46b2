// Command wordcount is the classic first stream-processing program: it reads lines of text
// from a topic, splits them into words and keeps a running count per word, writing every new
// count to an output topic. The counts live in a LevelDB store backed by the changelog topic
// wordcount-counts-changelog, so stopping and restarting the program carries on counting.
//
// Its topics default to wordcount-lines and wordcount-counts (-input, -output), so they never
// meet the README's other examples. Try it against a local Gregor:
//
//	./gregor dev                                       # in one terminal: a broker on 127.0.0.1:9092
//	go run ./examples/wordcount                        # in a second terminal
//	printf 'the quick brown fox\nthe lazy dog\n' | ./gregor produce --topic wordcount-lines
//	./gregor consume --topic wordcount-counts --from-beginning --print-key --timeout-ms 5000
//
// The consumer prints key then count ("the 2"). As in Kafka Streams, the count's record cache
// sends each word's latest count once per commit (every second here), not every intermediate
// update; streams.Config.CacheMaxBytes: -1 would send them all. Stop the program with Ctrl-C:
// it commits what it processed and leaves the group cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "comma-separated bootstrap servers")
	appID := flag.String("app-id", "wordcount", "application id (consumer group and internal topic prefix)")
	input := flag.String("input", "wordcount-lines", "input topic of text lines")
	output := flag.String("output", "wordcount-counts", "output topic: word → count (as decimal text)")
	partitions := flag.Int("partitions", 3, "partitions of the input and output topics when this program creates them")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "gregor-wordcount"), "local state directory")
	flag.Parse()
	if err := run(strings.Split(*bootstrap, ","), *appID, *input, *output, int32(*partitions), *stateDir); err != nil {
		slog.Error("wordcount", "err", err)
		os.Exit(1)
	}
}

func run(bootstrap []string, appID, input, output string, partitions int32, stateDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := createTopics(ctx, bootstrap, partitions, input, output); err != nil {
		return err
	}

	topology, err := buildTopology(input, output)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, topology.Describe())

	app, err := streams.New(topology, streams.Config{
		ApplicationID:    appID,
		BootstrapServers: bootstrap,
		StateDir:         stateDir,
		CommitInterval:   time.Second,
	})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		app.Close()
		return err
	}
	slog.Info("counting words", "input", input, "output", output, "state.dir", stateDir)
	select {
	case <-ctx.Done():
	case <-app.Done():
	}
	return app.Close()
}

// buildTopology is the word count: lines of input are split into lowercase words, which are
// counted in the store "counts" (after a repartition by word), and the new counts are written
// to output as decimal text (the latest per word at each commit, through the record cache).
func buildTopology(input, output string) (*streams.Topology, error) {
	b := streams.NewBuilder()
	lines := streams.Stream(b, input, statestore.String{}, statestore.String{})
	words := streams.FlatMapValues(lines, func(_, line string) []string {
		return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}, statestore.String{})
	counts := streams.GroupBy(words, func(_, word string) string { return word }, statestore.String{}, streams.Named("words")).
		Count(streams.Materialized("counts"))
	// Counts are written as decimal text so that `gregor consume` prints them readably.
	streams.MapValues(counts.ToStream(), func(_ string, n int64) string { return strconv.FormatInt(n, 10) }, statestore.String{}).
		To(output, nil, nil)
	return b.Build()
}

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
