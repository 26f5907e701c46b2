package streamstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gregor-streams/gregor/internal/testbroker"
	"github.com/gregor-streams/gregor/internal/testutil"
	"github.com/gregor-streams/gregor/streams"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a Driver. The zero value is ready to use.
type Options struct {
	// Config is the base configuration of the App: New sets its ApplicationID (unless set),
	// BootstrapServers, StateDir, Clock and Logger, a CommitInterval of 20ms unless set, and
	// record caches off unless CacheMaxBytes is set (every update of an aggregation reaches
	// the outputs, as with Kafka's TopologyTestDriver). Set TimestampExtractor or
	// CacheMaxEntries here.
	Config streams.Config
	// Partitions is the partition count of the topics New creates (default 1).
	Partitions int32
	// Topics are topics to create besides the topology's source and sink topics.
	Topics []string
	// StartTime is the initial time of the wall clock (default: the Unix epoch).
	StartTime time.Time
	// Timeout bounds every wait of the driver (default 10s).
	Timeout time.Duration
	// Broker runs the App on an existing test broker instead of a new one. Give each Driver
	// sharing a broker its own topics and ApplicationID.
	Broker *testbroker.Broker
}

// Driver runs one topology on a real broker for one test. Make it with New; it stops when the
// test ends.
type Driver struct {
	t       testing.TB
	broker  *testbroker.Broker
	app     *streams.App
	cfg     streams.Config
	clock   *streams.ManualClock
	client  *kgo.Client
	adm     *kadm.Client
	timeout time.Duration
	// sources are the full names of every topic the App consumes, repartition topics included:
	// the App is idle when its group has committed the end of each.
	sources []string
}

// New creates the topology's source and sink topics (and Options.Topics) on a new in-process
// broker (or Options.Broker) and starts an App running topology on them. The App is closed,
// and the broker stopped, when the test ends; the test fails if the App stopped on an error.
func New(t testing.TB, topology *streams.Topology, opts Options) *Driver {
	t.Helper()
	d := &Driver{t: t, broker: opts.Broker, timeout: opts.Timeout}
	if d.timeout <= 0 {
		d.timeout = 10 * time.Second
	}
	if d.broker == nil {
		d.broker = testbroker.Start(t)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker.Addr()),
		// As the App's sinks: murmur2 of the key, so keyed input lands where Kafka puts it.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatalf("streamstest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	d.client, d.adm = cl, kadm.NewClient(cl)

	partitions := opts.Partitions
	if partitions <= 0 {
		partitions = 1
	}
	topics := append(append(topology.SourceTopics(), topology.SinkTopics()...), opts.Topics...)
	d.createTopics(partitions, topics)

	cfg := opts.Config
	if cfg.ApplicationID == "" {
		cfg.ApplicationID = applicationID(t.Name())
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 20 * time.Millisecond
	}
	// NB: as Kafka's TopologyTestDriver, which commits after every record, a test sees every
	// update of an aggregation unless it asks for a record cache.
	if cfg.CacheMaxBytes == 0 {
		cfg.CacheMaxBytes = -1
	}
	cfg.BootstrapServers = []string{d.broker.Addr()}
	cfg.StateDir = t.TempDir()
	d.clock = streams.NewManualClock(opts.StartTime)
	if opts.StartTime.IsZero() {
		d.clock = streams.NewManualClock(time.UnixMilli(0))
	}
	cfg.Clock = d.clock
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	if os.Getenv("GREGOR_TEST_LOG") != "" {
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.WithLogger(kgo.BasicLogger(testWriter{t}, kgo.LogLevelDebug, nil)))
	}
	d.cfg = cfg

	for _, sd := range topology.Description().Subtopologies {
		for _, n := range sd.Nodes {
			for _, topic := range n.Topics {
				if rest, ok := strings.CutPrefix(topic, streams.InternalTopicPrefix); ok {
					topic = cfg.ApplicationID + "-" + rest
				}
				if !slices.Contains(d.sources, topic) {
					d.sources = append(d.sources, topic)
				}
			}
		}
	}

	app, err := streams.New(topology, cfg)
	if err != nil {
		t.Fatalf("streamstest: %v", err)
	}
	d.app = app
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("streamstest: the App stopped on an error: %v", err)
		}
	})
	// NB: Start's context bounds the App's life, not only Start: Close stops it.
	if err := app.Start(context.Background()); err != nil {
		t.Fatalf("streamstest: start: %v", err)
	}
	return d
}

// notInTopicName matches what Kafka does not allow in topic names.
var notInTopicName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// applicationID makes a valid application id (a topic name prefix) from a test name.
func applicationID(testName string) string {
	id := notInTopicName.ReplaceAllString(testName, "-")
	if len(id) > 100 {
		id = id[:100]
	}
	return id
}

func (d *Driver) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.timeout)
}

func (d *Driver) createTopics(partitions int32, topics []string) {
	d.t.Helper()
	var unique []string
	for _, topic := range topics {
		if !slices.Contains(unique, topic) {
			unique = append(unique, topic)
		}
	}
	if len(unique) == 0 {
		return
	}
	ctx, cancel := d.ctx()
	defer cancel()
	resp, err := d.adm.CreateTopics(ctx, partitions, 1, nil, unique...)
	if err != nil {
		d.t.Fatalf("streamstest: create topics %v: %v", unique, err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			d.t.Fatalf("streamstest: create topic %s: %v", r.Topic, r.Err)
		}
	}
}

// App is the running App.
func (d *Driver) App() *streams.App { return d.app }

// Addr is the broker's bootstrap address, for clients of the test's own.
func (d *Driver) Addr() string { return d.broker.Addr() }

// ApplicationID is the App's application id.
func (d *Driver) ApplicationID() string { return d.cfg.ApplicationID }

// WallClock is the App's wall-clock time.
func (d *Driver) WallClock() time.Time { return d.clock.Now() }

// AdvanceWallClock moves the App's wall clock forward by dur and returns when the App has
// fired the wall-clock punctuations due at the new time and their output is in its topics.
func (d *Driver) AdvanceWallClock(dur time.Duration) {
	d.t.Helper()
	ctx, cancel := d.ctx()
	defer cancel()
	if err := d.clock.Advance(ctx, dur); err != nil {
		d.t.Fatalf("streamstest: advance the wall clock by %v: %v (App error: %v)", dur, err, d.app.Err())
	}
	d.checkApp()
}

func (d *Driver) checkApp() {
	d.t.Helper()
	if err := d.app.Err(); err != nil {
		d.t.Fatalf("streamstest: the App stopped: %v", err)
	}
}

// WaitProcessed waits until the App has processed every record in its source topics (the
// inputs piped so far and what it wrote to its repartition topics) and committed it, which
// also means that the outputs of those records are in the output topics and the stores hold
// their updates. It fails the test after Options.Timeout, or if the App stops on an error.
func (d *Driver) WaitProcessed() {
	d.t.Helper()
	testutil.CheckFor(d.t, d.timeout, 10*time.Millisecond, func() error {
		d.checkApp()
		if done, why := d.processed(); !done {
			return fmt.Errorf("streamstest: the App has not processed its input: %s", why)
		}
		return nil
	})
}

// processed reports whether the App's group has committed the end offset of every partition
// of its source topics, with end offsets read before and after the committed offsets so that
// a record written to a repartition topic meanwhile is not missed: the App produces a
// repartition record (and waits for its ack) before it commits the input that caused it.
func (d *Driver) processed() (bool, string) {
	ctx, cancel := d.ctx()
	defer cancel()
	before, err := d.adm.ListEndOffsets(ctx, d.sources...)
	if err == nil {
		err = before.Error()
	}
	if err != nil {
		return false, fmt.Sprintf("list end offsets: %v", err)
	}
	committed, err := d.adm.FetchOffsets(ctx, d.cfg.ApplicationID)
	if err != nil {
		return false, fmt.Sprintf("fetch committed offsets: %v", err)
	}
	after, err := d.adm.ListEndOffsets(ctx, d.sources...)
	if err == nil {
		err = after.Error()
	}
	if err != nil {
		return false, fmt.Sprintf("list end offsets: %v", err)
	}
	why := ""
	after.Each(func(end kadm.ListedOffset) {
		if why != "" {
			return
		}
		if b, ok := before.Lookup(end.Topic, end.Partition); !ok || b.Offset != end.Offset {
			why = fmt.Sprintf("%s/%d is still growing", end.Topic, end.Partition)
			return
		}
		if end.Offset == 0 {
			return
		}
		c, ok := committed.Lookup(end.Topic, end.Partition)
		if !ok || c.At < end.Offset {
			at := int64(-1)
			if ok {
				at = c.At
			}
			why = fmt.Sprintf("%s/%d: committed %d of %d", end.Topic, end.Partition, at, end.Offset)
		}
	})
	return why == "", why
}

// Store returns the contents of the App's local partitions of the key-value store name, keys
// as strings of their bytes, once the App has processed its input (WaitProcessed).
func (d *Driver) Store(name string) map[string][]byte {
	d.t.Helper()
	d.WaitProcessed()
	s, err := d.app.Store(name)
	if err != nil {
		d.t.Fatalf("streamstest: %v", err)
	}
	out := map[string][]byte{}
	if err := s.All(func(k, v []byte) bool {
		out[string(k)] = slices.Clone(v)
		return true
	}); err != nil {
		d.t.Fatalf("streamstest: read store %s: %v", name, err)
	}
	return out
}

// ReadStore is Store with keys and values decoded by the given serdes.
func ReadStore[K comparable, V any](d *Driver, name string, keySerde streams.Serde[K], valueSerde streams.Serde[V]) map[K]V {
	d.t.Helper()
	out := map[K]V{}
	for k, v := range d.Store(name) {
		key, err := keySerde.Deserialize([]byte(k))
		if err != nil {
			d.t.Fatalf("streamstest: store %s: key %q: %v", name, k, err)
		}
		value, err := valueSerde.Deserialize(v)
		if err != nil {
			d.t.Fatalf("streamstest: store %s: value of %q: %v", name, k, err)
		}
		out[key] = value
	}
	return out
}

// InputTopic writes records to one of the App's input topics.
type InputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   streams.Serde[K]
	valueSerde streams.Serde[V]
}

// Input returns a writer of topic with the given serdes.
func Input[K, V any](d *Driver, topic string, keySerde streams.Serde[K], valueSerde streams.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// Pipe writes one record with the given timestamp (ms since the Unix epoch), partitioned by
// its key, and returns once the broker has it.
func (in *InputTopic[K, V]) Pipe(key K, value V, timestampMs int64) {
	in.d.t.Helper()
	in.PipeRecords(streams.Record[K, V]{Key: key, Value: value, Timestamp: timestampMs})
}

// PipeValue writes one record with a null key.
func (in *InputTopic[K, V]) PipeValue(value V, timestampMs int64) {
	in.d.t.Helper()
	v, err := in.valueSerde.Serialize(value)
	if err != nil {
		in.d.t.Fatalf("streamstest: %s: serialize value: %v", in.topic, err)
	}
	in.produce(&kgo.Record{Topic: in.topic, Value: v, Timestamp: time.UnixMilli(timestampMs)})
}

// PipeRecords writes records in order, with their keys, values, timestamps and headers.
func (in *InputTopic[K, V]) PipeRecords(recs ...streams.Record[K, V]) {
	in.d.t.Helper()
	krs := make([]*kgo.Record, 0, len(recs))
	for _, r := range recs {
		k, err := in.keySerde.Serialize(r.Key)
		if err != nil {
			in.d.t.Fatalf("streamstest: %s: serialize key: %v", in.topic, err)
		}
		v, err := in.valueSerde.Serialize(r.Value)
		if err != nil {
			in.d.t.Fatalf("streamstest: %s: serialize value: %v", in.topic, err)
		}
		kr := &kgo.Record{Topic: in.topic, Key: k, Value: v, Timestamp: time.UnixMilli(r.Timestamp)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		krs = append(krs, kr)
	}
	in.produce(krs...)
}

func (in *InputTopic[K, V]) produce(krs ...*kgo.Record) {
	in.d.t.Helper()
	ctx, cancel := in.d.ctx()
	defer cancel()
	if err := in.d.client.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		in.d.t.Fatalf("streamstest: produce to %s: %v", in.topic, err)
	}
}

// OutputTopic reads one of the App's output topics from its start. Each record is returned by
// one read (ReadUntil, ReadAll) only; Latest looks at every record read so far.
type OutputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   streams.Serde[K]
	valueSerde streams.Serde[V]
	consumer   *kgo.Client
	// next is the next offset to read per partition; unread holds records fetched but not
	// returned yet; latest the latest record per serialised key, in order of first appearance.
	next       map[int32]int64
	unread     []streams.Record[K, V]
	latestKeys []string
	latest     map[string]streams.Record[K, V]
}

// Output returns a reader of topic with the given serdes.
func Output[K, V any](d *Driver, topic string, keySerde streams.Serde[K], valueSerde streams.Serde[V]) *OutputTopic[K, V] {
	d.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker.Addr()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		d.t.Fatalf("streamstest: consumer of %s: %v", topic, err)
	}
	d.t.Cleanup(cl.Close)
	return &OutputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde, consumer: cl,
		next: map[int32]int64{}, latest: map[string]streams.Record[K, V]{}}
}

// poll fetches what is available within wait and decodes it into unread.
func (o *OutputTopic[K, V]) poll(wait time.Duration) {
	o.d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	fetches := o.consumer.PollFetches(ctx)
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			o.d.t.Fatalf("streamstest: read %s/%d: %v", topic, p, err)
		}
	})
	fetches.EachRecord(func(kr *kgo.Record) {
		r := streams.Record[K, V]{Timestamp: kr.Timestamp.UnixMilli()}
		var err error
		if kr.Key != nil {
			if r.Key, err = o.keySerde.Deserialize(kr.Key); err != nil {
				o.d.t.Fatalf("streamstest: %s/%d@%d: deserialize key: %v", kr.Topic, kr.Partition, kr.Offset, err)
			}
		}
		if kr.Value != nil {
			if r.Value, err = o.valueSerde.Deserialize(kr.Value); err != nil {
				o.d.t.Fatalf("streamstest: %s/%d@%d: deserialize value: %v", kr.Topic, kr.Partition, kr.Offset, err)
			}
		}
		for _, h := range kr.Headers {
			r.Headers = append(r.Headers, streams.Header{Key: h.Key, Value: h.Value})
		}
		o.next[kr.Partition] = kr.Offset + 1
		o.unread = append(o.unread, r)
		k := string(kr.Key)
		if _, seen := o.latest[k]; !seen {
			o.latestKeys = append(o.latestKeys, k)
		}
		o.latest[k] = r
	})
}

// ReadUntil waits until n records not read before are available and returns the first n. It
// fails the test after Options.Timeout. It does not wait for more: use ReadAll after it to
// check that nothing else came.
func (o *OutputTopic[K, V]) ReadUntil(n int) []streams.Record[K, V] {
	o.d.t.Helper()
	testutil.CheckFor(o.d.t, o.d.timeout, time.Millisecond, func() error {
		o.d.checkApp()
		if len(o.unread) >= n {
			return nil
		}
		o.poll(100 * time.Millisecond)
		if len(o.unread) < n {
			return fmt.Errorf("streamstest: %s: %d records, want %d: %v", o.topic, len(o.unread), n, o.unread)
		}
		return nil
	})
	out := o.unread[:n:n]
	o.unread = slices.Clone(o.unread[n:])
	return out
}

// ReadAll waits until the App has processed its input (WaitProcessed), then returns every
// record of the topic not read before.
func (o *OutputTopic[K, V]) ReadAll() []streams.Record[K, V] {
	o.d.t.Helper()
	o.d.WaitProcessed()
	o.readToEnd()
	out := o.unread
	o.unread = nil
	return out
}

// Latest waits until the App has processed its input, reads the topic to its end and returns
// the latest record of each key among all the records read so far (by this and earlier
// reads), in the order the keys first appeared: what a table's changelog converges to.
func (o *OutputTopic[K, V]) Latest() []streams.Record[K, V] {
	o.d.t.Helper()
	o.d.WaitProcessed()
	o.readToEnd()
	o.unread = nil
	out := make([]streams.Record[K, V], len(o.latestKeys))
	for i, k := range o.latestKeys {
		out[i] = o.latest[k]
	}
	return out
}

// readToEnd fetches until every partition is read up to its current end offset.
func (o *OutputTopic[K, V]) readToEnd() {
	o.d.t.Helper()
	ctx, cancel := o.d.ctx()
	defer cancel()
	ends, err := o.d.adm.ListEndOffsets(ctx, o.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		o.d.t.Fatalf("streamstest: end offsets of %s: %v", o.topic, err)
	}
	testutil.CheckFor(o.d.t, o.d.timeout, time.Millisecond, func() error {
		var behind error
		ends.Each(func(end kadm.ListedOffset) {
			if behind == nil && o.next[end.Partition] < end.Offset {
				behind = fmt.Errorf("streamstest: %s/%d read up to %d of %d", end.Topic, end.Partition, o.next[end.Partition], end.Offset)
			}
		})
		if behind != nil {
			o.poll(100 * time.Millisecond)
		}
		return behind
	})
}

// ToMap turns records into a map of the value per key, later records winning.
func ToMap[K comparable, V any](recs []streams.Record[K, V]) map[K]V {
	m := make(map[K]V, len(recs))
	for _, r := range recs {
		m[r.Key] = r.Value
	}
	return m
}

// testWriter sends the App's logs to the test log (shown for failing tests, or with -v).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended must not panic
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
