package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer safe for the app's goroutine and the test's.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestFinalCountsArePrintedAndWrittenOncePerClosedWindow(t *testing.T) {
	tb := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := config{bootstrap: []string{tb.Addr()}, appID: "wc-test", input: "page-views", output: "per-minute",
		partitions: 1, size: time.Minute, grace: 10 * time.Second, final: true, stateDir: t.TempDir()}
	if err := createTopics(ctx, c.bootstrap, c.partitions, c.input, c.output); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	view := func(key string, ts time.Duration) *kgo.Record {
		return &kgo.Record{Topic: c.input, Key: []byte(key), Value: []byte("x"), Timestamp: time.UnixMilli(ts.Milliseconds())}
	}
	err = cl.ProduceSync(ctx,
		view("home", 10*time.Second), view("home", 20*time.Second), view("cart", 30*time.Second),
		view("home", 65*time.Second),
		view("other", 75*time.Second), // stream time passes 60s + 10s grace: the first window closes
	).FirstErr()
	if err != nil {
		t.Fatal(err)
	}

	var out syncBuffer
	topology, err := buildTopology(c, &out)
	if err != nil {
		t.Fatal(err)
	}
	app, err := streams.New(topology, streams.Config{ApplicationID: c.appID, BootstrapServers: c.bootstrap,
		StateDir: c.stateDir, CommitInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want := "cart  [00:00:00, 00:01:00)  count=1\nhome  [00:00:00, 00:01:00)  count=2\n"
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if err := app.Err(); err != nil {
			t.Fatalf("app failed: %v", err)
		}
		if got := out.String(); got != want {
			return fmt.Errorf("printed %q, want %q", got, want)
		}
		return nil
	})

	consumer, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics(c.output),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	testutil.CheckFor(t, 30*time.Second, time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		consumer.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)+"="+string(r.Value)) })
		if len(got) < 2 {
			return fmt.Errorf("output topic %s: %d records, want 2: %v", c.output, len(got), got)
		}
		return nil
	})
	if strings.Join(got, " ") != "cart@1970-01-01T00:00:00Z=1 home@1970-01-01T00:00:00Z=2" {
		t.Fatalf("output topic %s = %v", c.output, got)
	}
}
