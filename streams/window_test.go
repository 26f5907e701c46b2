package streams_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/statestore"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// at is a record of topic with key, value and timestamp (ms).
func at(topic, key, value string, ts int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: time.UnixMilli(ts)}
}

// quietPeriod is how long readExactly keeps reading after the expected records, to catch
// extra ones.
const quietPeriod = time.Second

// readExactly reads topic from the start until it has n records, keeps reading for
// quietPeriod, and fails if more arrive. It returns them formatted by format, in offset order
// (the topic has one partition).
func readExactly(t *testing.T, app *streams.App, addr, topic string, n int, format func(*kgo.Record) string) []string {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	deadline := time.Now().Add(waitTimeout)
	var quietUntil time.Time
	for {
		now := time.Now()
		if len(got) >= n && quietUntil.IsZero() {
			quietUntil = now.Add(quietPeriod)
		}
		if !quietUntil.IsZero() && now.After(quietUntil) {
			break
		}
		if now.After(deadline) {
			t.Fatalf("%s: got %d records, want %d:\n%v", topic, len(got), n, got)
		}
		if app != nil && app.Err() != nil {
			t.Fatalf("app failed: %v", app.Err())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, format(r)) })
	}
	if len(got) != n {
		t.Fatalf("%s: got %d records, want exactly %d:\n%v", topic, len(got), n, got)
	}
	return got
}

// formatWindowed formats a record keyed by a windowed string key with an int64 value (or a
// tombstone) as key@start/end=value.
func formatWindowed(keys statestore.Serde[streams.Windowed[string]]) func(*kgo.Record) string {
	return func(r *kgo.Record) string {
		w, err := keys.Deserialize(r.Key)
		if err != nil {
			return fmt.Sprintf("bad key %x: %v", r.Key, err)
		}
		if r.Value == nil {
			return fmt.Sprintf("%s@%d/%d=<tombstone>", w.Key, w.Start, w.End)
		}
		v, err := statestore.Int64{}.Deserialize(r.Value)
		if err != nil {
			return fmt.Sprintf("%s@%d/%d=bad value %x", w.Key, w.Start, w.End, r.Value)
		}
		return fmt.Sprintf("%s@%d/%d=%d", w.Key, w.Start, w.End, v)
	}
}

// topicConfigs returns the configs of topic by name.
func topicConfigs(t *testing.T, addr, topic string) map[string]string {
	t.Helper()
	cfgs, err := kadm.NewClient(client(t, addr)).DescribeTopicConfigs(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out
}

func TestTumblingWindowCountDropsRecordsLaterThanGraceAndCountsThem(t *testing.T) {
	t.Parallel()
	tb := testbroker.Start(t)
	createTopic(t, tb.Addr(), "clicks", 1)
	createTopic(t, tb.Addr(), "clicks-per-window", 1)
	b := streams.NewBuilder()
	grouped := streams.Stream(b, "clicks", statestore.String{}, statestore.String{}).GroupByKey()
	streams.WindowedBy(grouped, streams.TumblingWindows(10*time.Second).Grace(5*time.Second)).
		Count(streams.Materialized("clicks-windows")).
		ToStream().To("clicks-per-window", nil, nil)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	produce(t, tb.Addr(),
		at("clicks", "a", "x", 1_000),
		at("clicks", "a", "x", 2_000),
		at("clicks", "b", "x", 3_000),
		at("clicks", "a", "x", 12_000), // stream time 12000: window [0, 10000) closes at 15000
		at("clicks", "a", "x", 9_000),  // late, within grace: counted
		at("clicks", "a", "x", 16_000), // stream time 16000: window [0, 10000) is closed
		at("clicks", "a", "x", 5_000),  // beyond grace: dropped
		at("clicks", "b", "x", 4_000),  // beyond grace: dropped
	)
	app := startApp(t, topo, streams.Config{
		ApplicationID: "tumbling", BootstrapServers: []string{tb.Addr()}, StateDir: t.TempDir(),
	})
	keys := streams.TimeWindowedSerde[string]{Key: statestore.String{}, WindowSize: 10 * time.Second}
	got := readExactly(t, app, tb.Addr(), "clicks-per-window", 6, formatWindowed(keys))
	want := []string{
		"a@0/10000=1",
		"a@0/10000=2",
		"b@0/10000=1",
		"a@10000/20000=1",
		"a@0/10000=3",
		"a@10000/20000=2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("windowed counts\n got %v\nwant %v", got, want)
	}
	if n := app.Stats().DroppedRecords; n != 2 {
		t.Fatalf("Stats().DroppedRecords = %d, want 2", n)
	}
	// Kafka's rule for windowed changelogs: compact,delete, retention = size + grace + 1 day.
	cfg := topicConfigs(t, tb.Addr(), "tumbling-clicks-windows-changelog")
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != strconv.Itoa(15_000+86_400_000) {
		t.Fatalf("window store changelog: cleanup.policy=%q retention.ms=%q, want compact,delete and %d",
			cfg["cleanup.policy"], cfg["retention.ms"], 15_000+86_400_000)
	}
}
