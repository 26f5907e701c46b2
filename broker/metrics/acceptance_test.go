package metrics_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
)

func startWithMetrics(t *testing.T) (*testbroker.Broker, string) {
	t.Helper()
	tb := testbroker.Start(t, testbroker.Set("metrics.listener", "127.0.0.1:0"))
	addr := tb.Broker().MetricsAddr()
	if addr == "" {
		t.Fatal("metrics.listener set but MetricsAddr is empty")
	}
	return tb, "http://" + addr + "/metrics"
}

func produce(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte("order-" + strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestMetricsListenerShowsClientWorkAndGroupLagMatchesOffsets is issue 12's acceptance test: a
// franz-go producer, a consumer group and an admin client work against the broker while
// /metrics on metrics.listener is scraped. Counters move with the work, and gregor_group_lag
// equals the lag kadm computes (ListEndOffsets minus the committed offsets) for a group left
// with a known backlog.
func TestMetricsListenerShowsClientWorkAndGroupLagMatchesOffsets(t *testing.T) {
	tb, url := startWithMetrics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	before := mustScrape(t, url)
	produce(t, cl, "orders", 300)

	// A consumer group reads all 300 records and commits, then leaves.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumerGroup("billing"),
		kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for i := 0; got < 300 && i < 200; i++ {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got += fs.NumRecords()
	}
	if got != 300 {
		t.Fatalf("consumed %d of 300 records", got)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	consumer.Close()

	// The known backlog: 30 more records the group has not read (10 per partition).
	produce(t, cl, "orders", 30)
	// An error the broker answers: creating a topic that exists.
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err == nil {
		t.Fatal("creating an existing topic succeeded")
	}

	var after scrape
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		s, err := scrapeURL(url)
		if err != nil {
			return err
		}
		after = s
		// The group left: it is Empty, with its offsets committed.
		if n, _ := s.Value("gregor_groups", "state=Empty"); n < 1 {
			return fmt.Errorf("gregor_groups{state=Empty} = %v, want >= 1", n)
		}
		return nil
	})

	moved := func(name string, want float64, labels ...string) {
		t.Helper()
		b, _ := before.Value(name, labels...)
		a, ok := after.Value(name, labels...)
		if !ok || a-b < want {
			t.Errorf("%s%v moved by %v (from %v to %v), want at least %v", name, labels, a-b, b, a, want)
		}
	}
	moved("gregor_broker_requests_total", 1, "api=Produce")
	moved("gregor_broker_requests_total", 1, "api=Fetch")
	moved("gregor_broker_requests_total", 1, "api=JoinGroup")
	moved("gregor_broker_requests_total", 1, "api=SyncGroup")
	moved("gregor_broker_requests_total", 1, "api=OffsetCommit")
	moved("gregor_broker_request_duration_seconds", 1, "api=Produce", "phase=total")
	moved("gregor_broker_request_duration_seconds", 1, "api=Fetch", "phase=handle")
	moved("gregor_broker_request_errors_total", 1, "api=CreateTopics", "error=TOPIC_ALREADY_EXISTS")
	moved("gregor_broker_topic_records_in_total", 330, "topic=orders")
	moved("gregor_broker_topic_bytes_in_total", float64(330*len("order-0")), "topic=orders")
	moved("gregor_broker_topic_bytes_out_total", float64(300*len("order-0")), "topic=orders")
	if n, _ := after.Value("gregor_broker_topic_records_in_total", "topic=orders"); n != 330 {
		t.Errorf("records in = %v, want exactly 330", n)
	}
	if n, _ := after.Value("gregor_broker_log_end_offset", "topic=orders"); n != 330 {
		t.Errorf("sum of orders' log end offsets = %v, want 330", n)
	}
	if n, _ := after.Value("gregor_broker_high_watermark", "topic=orders"); n != 330 {
		t.Errorf("sum of orders' high watermarks = %v, want 330", n)
	}
	if n, _ := after.Value("gregor_broker_log_segments", "topic=orders", "partition=0"); n != 1 {
		t.Errorf("orders-0 segments = %v, want 1", n)
	}
	if n, _ := after.Value("gregor_broker_log_size_bytes", "topic=orders"); n < 330*float64(len("order-0")) {
		t.Errorf("orders' log size = %v bytes, want at least the values' bytes", n)
	}
	if n, _ := after.Value("gregor_broker_connections", "listener=PLAINTEXT"); n < 1 {
		t.Errorf("gregor_broker_connections{listener=PLAINTEXT} = %v, want >= 1 (the admin client is connected)", n)
	}
	if _, ok := after.Value("go_goroutines"); !ok {
		t.Error("no Go runtime metrics in the scrape")
	}

	// gregor_group_lag against the client's own view: end offsets minus committed offsets.
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for p := int32(0); p < 3; p++ {
		end, _ := ends.Lookup("orders", p)
		c, ok := committed.Lookup("orders", p)
		if !ok {
			t.Fatalf("billing has no commit for orders-%d", p)
		}
		want := float64(end.Offset - c.At)
		gotLag, found := after.Value("gregor_group_lag", "group=billing", "topic=orders", "partition="+strconv.Itoa(int(p)))
		if !found || gotLag != want {
			t.Errorf("gregor_group_lag{billing,orders,%d} = %v (found %v), kadm says %d - %d = %v", p, gotLag, found, end.Offset, c.At, want)
		}
		total += want
	}
	if total != 30 {
		t.Errorf("kadm's total lag is %v, want the 30-record backlog", total)
	}
}

// TestBrokersInOneProcessKeepSeparateRegistries: two brokers in one process each count only their
// own requests (registering into a shared registry would panic or mix them).
func TestBrokersInOneProcessKeepSeparateRegistries(t *testing.T) {
	a, urlA := startWithMetrics(t)
	_, urlB := startWithMetrics(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).ListTopics(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := mustScrape(t, urlA).Value("gregor_broker_requests_total", "api=Metadata"); n < 1 {
		t.Errorf("broker A counted %v Metadata requests, want >= 1", n)
	}
	if n, _ := mustScrape(t, urlB).Value("gregor_broker_requests_total", "api=Metadata"); n != 0 {
		t.Errorf("broker B counted %v Metadata requests, want 0: it received none", n)
	}
}

// TestFetchWaitersCountsLongPollsAndFsyncsAreTimed: a consumer long-polling an empty topic shows in
// gregor_broker_fetch_waiters while it waits, and the broker's file writes are in the fsync
// histogram.
func TestFetchWaitersCountsLongPollsAndFsyncsAreTimed(t *testing.T) {
	tb, url := startWithMetrics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.Addr()), kgo.ConsumeTopics("quiet"), kgo.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "quiet"); err != nil {
		t.Fatal(err)
	}
	go cl.PollFetches(ctx) // returns when the client closes
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		s, err := scrapeURL(url)
		if err != nil {
			return err
		}
		if n, _ := s.Value("gregor_broker_fetch_waiters"); n != 1 {
			return fmt.Errorf("gregor_broker_fetch_waiters = %v, want 1 (the consumer's long poll)", n)
		}
		if n, _ := s.Value("gregor_broker_log_flush_duration_seconds"); n < 1 {
			return fmt.Errorf("no fsync observed (creating a topic writes and syncs files)")
		}
		return nil
	})
	cl.Close()
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		s, err := scrapeURL(url)
		if err != nil {
			return err
		}
		if n, _ := s.Value("gregor_broker_fetch_waiters"); n != 0 {
			return fmt.Errorf("gregor_broker_fetch_waiters = %v after the consumer left, want 0", n)
		}
		return nil
	})
}
