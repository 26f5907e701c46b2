package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const perfUsage = `Usage: gregor perf <subcommand> [flags]

Subcommands:
  produce  --topic T --num-records N --record-size S [--throughput R] [--acks all|1] [--partitions P] [--compression c] [--linger-ms L] [--batch-size B] [--output-json]
  consume  --topic T --messages N [--group G] [--fetch-max-bytes B] [--output-json]
  e2e      --topic T --num-records N --throughput R --record-size S [--acks all|1] [--output-json]

All take --bootstrap-server (-b). Run 'gregor perf <subcommand> -h' for details.
`

// bytesPerMB is the MB of Kafka's perf tools' MB/sec: 1024*1024 bytes.
const bytesPerMB = 1024 * 1024

// runPerf is `gregor perf <subcommand>`, the Kafka performance tools.
func runPerf(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "perf", perfUsage, map[string]subcommand{
		"produce": runPerfProduce,
		"consume": runPerfConsume,
		"e2e":     runPerfE2E,
	}, args, stdout, stderr)
}

// producerFlags are the producer settings shared by perf produce and e2e.
type producerFlags struct {
	acks        *string
	compression *string
	lingerMs    *int
	batchSize   *int
}

func addProducerFlags(fs *flagSet) producerFlags {
	return producerFlags{
		acks:        fs.String("acks", "all", "acknowledgements to wait for: all (-1), 1 or 0"),
		compression: fs.String("compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd"),
		lingerMs:    fs.Int("linger-ms", -1, "how long to wait for a batch to fill, in milliseconds; -1 keeps the client default"),
		batchSize:   fs.Int("batch-size", 0, "largest record batch in bytes; 0 keeps the client default"),
	}
}

func (p producerFlags) opts() ([]kgo.Opt, error) {
	opts, err := producerAckOpts(*p.acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(*p.compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if *p.lingerMs >= 0 {
		opts = append(opts, kgo.ProducerLinger(time.Duration(*p.lingerMs)*time.Millisecond))
	}
	if *p.batchSize < 0 || *p.batchSize > 1<<30 {
		return nil, usageErrorf("--batch-size must be between 0 and 1 GiB")
	}
	if *p.batchSize > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(*p.batchSize)))
	}
	return opts, nil
}

// ensureTopic creates topic with the given partitions unless it exists.
func ensureTopic(ctx context.Context, bootstrap *brokerFlags, topic string, partitions, replicationFactor int) error {
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer closeAdmin()
	resp, err := adm.CreateTopic(ctx, int32(partitions), int16(replicationFactor), nil, topic)
	if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return explainTopicError(topic, err, resp.ErrMessage)
}

// throttleDelay is how long a sender that has sent `sent` records after
// `elapsed` must wait to stay at perSecond records a second; 0 when it is
// behind or unthrottled (perSecond ≤ 0).
func throttleDelay(sent int64, perSecond float64, elapsed time.Duration) time.Duration {
	if perSecond <= 0 {
		return 0
	}
	due := time.Duration(float64(sent) / perSecond * float64(time.Second))
	return max(due-elapsed, 0)
}

// throttle sleeps for throttleDelay, but only once the delay reaches a
// millisecond so that high rates are not paced by timer granularity.
func throttle(ctx context.Context, sent int64, perSecond float64, start time.Time) {
	d := throttleDelay(sent, perSecond, time.Since(start))
	if d < time.Millisecond {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// randomPayload returns size random upper-case letters, like
// kafka-producer-perf-test's payload.
func randomPayload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return b
}

// rate returns n per second over elapsed.
func rate(n float64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return n / elapsed.Seconds()
}

// produceWindow accumulates acknowledged records between progress lines.
type produceWindow struct {
	start   time.Time
	records int64
	bytes   int64
	latency time.Duration // sum
	maxLat  time.Duration
}

// formatProduceProgress renders a kafka-producer-perf-test progress line.
func formatProduceProgress(w produceWindow, now time.Time) string {
	elapsed := now.Sub(w.start)
	avg := 0.0
	if w.records > 0 {
		avg = float64(w.latency) / float64(w.records) / float64(time.Millisecond)
	}
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
		w.records, rate(float64(w.records), elapsed), rate(float64(w.bytes)/bytesPerMB, elapsed),
		avg, float64(w.maxLat)/float64(time.Millisecond))
}

// produceResult is the final figures of perf produce, also its JSON line.
type produceResult struct {
	Type          string  `json:"type"`
	Records       int64   `json:"records"`
	Errors        int64   `json:"errors"`
	ElapsedMs     float64 `json:"elapsed_ms"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	latencySummary
}

// formatProduceResult renders kafka-producer-perf-test's final line.
func formatProduceResult(r produceResult) string {
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.\n",
		r.Records, r.RecordsPerSec, r.MBPerSec, r.AvgMs, r.MaxMs, r.P50Ms, r.P95Ms, r.P99Ms, r.P999Ms)
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// produceStats is shared between the send loop, the promises (run on the
// client's goroutines) and the progress printer.
type produceStats struct {
	mu struct {
		sync.Mutex
		window   produceWindow
		hist     latencyHistogram
		records  int64
		bytes    int64
		errors   int64
		firstErr error
	}
}

func (s *produceStats) complete(latency time.Duration, size int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.mu.errors == 0 {
			s.mu.firstErr = err
		}
		s.mu.errors++
		return
	}
	s.mu.hist.record(latency)
	s.mu.records++
	s.mu.bytes += int64(size)
	w := &s.mu.window
	w.records++
	w.bytes += int64(size)
	w.latency += latency
	w.maxLat = max(w.maxLat, latency)
}

// takeWindow returns the window so far and starts a new one at now.
func (s *produceStats) takeWindow(now time.Time) produceWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.mu.window
	s.mu.window = produceWindow{start: now}
	return w
}

// startProgress prints a line from report every interval until the returned
// stop func is called; stop waits for the printer goroutine to exit.
func startProgress(interval time.Duration, w io.Writer, report func(now time.Time) string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-ticker.C:
				fmt.Fprint(w, report(now))
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

func runPerfProduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("perf produce", "gregor perf produce --topic T --num-records N --record-size S [--throughput R] [--acks all|1] [--partitions P] [--compression c] [--linger-ms L] [--batch-size B] [--output-json]")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to produce to")
	numRecords := fs.Int64("num-records", 0, "number of records to send")
	recordSize := fs.Int("record-size", 100, "bytes per record value")
	throughput := fs.Float64("throughput", -1, "records per second to aim for; -1 for no limit")
	partitions := fs.Int("partitions", 0, "create the topic with this many partitions if it does not exist; 0 does not create it")
	replicationFactor := fs.Int("replication-factor", -1, "replication factor when creating the topic; -1 for the broker default")
	reportMs := fs.Int("reporting-interval-ms", 5000, "milliseconds between progress lines")
	outputJSON := fs.Bool("output-json", false, "also print the final figures as one JSON line")
	pf := addProducerFlags(fs)
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	if *numRecords <= 0 || *recordSize <= 0 || *reportMs <= 0 {
		return usageErrorf("--num-records, --record-size and --reporting-interval-ms must be positive")
	}
	opts, err := pf.opts()
	if err != nil {
		return err
	}
	if *partitions > 0 {
		if err := ensureTopic(ctx, bootstrap, *topic, *partitions, *replicationFactor); err != nil {
			return err
		}
	}
	cl, err := newClient(ctx, bootstrap, append(opts, kgo.DefaultProduceTopic(*topic), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkProduceTopic(ctx, cl, *topic, bootstrap.timeout); err != nil {
		return err
	}

	payload := randomPayload(*recordSize) // NB: shared by every record; kgo never modifies a value.
	var stats produceStats
	start := time.Now()
	stats.mu.window.start = start
	stopProgress := startProgress(time.Duration(*reportMs)*time.Millisecond, stdout, func(now time.Time) string {
		return formatProduceProgress(stats.takeWindow(now), now)
	})
	defer stopProgress()

	var sent int64
	for ; sent < *numRecords && ctx.Err() == nil; sent++ {
		throttle(ctx, sent, *throughput, start)
		sendAt := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
			stats.complete(time.Since(sendAt), len(r.Value), err)
		})
	}
	flushErr := cl.Flush(ctx)
	elapsed := time.Since(start)
	stopProgress()

	stats.mu.Lock()
	defer stats.mu.Unlock()
	result := produceResult{
		Type:           "produce",
		Records:        stats.mu.records,
		Errors:         stats.mu.errors,
		ElapsedMs:      float64(elapsed) / float64(time.Millisecond),
		RecordsPerSec:  rate(float64(stats.mu.records), elapsed),
		MBPerSec:       rate(float64(stats.mu.bytes)/bytesPerMB, elapsed),
		latencySummary: stats.mu.hist.summary(),
	}
	fmt.Fprint(stdout, formatProduceResult(result))
	if *outputJSON {
		if err := writeJSONLine(stdout, result); err != nil {
			return err
		}
	}
	switch {
	case stats.mu.errors > 0:
		fmt.Fprintf(stderr, "%d of %d records failed\n", stats.mu.errors, sent)
		return explainTopicError(*topic, stats.mu.firstErr, "")
	case ctx.Err() != nil:
		return nil // interrupted: the figures so far are the result
	case flushErr != nil:
		return fmt.Errorf("waiting for acknowledgements: %w", flushErr)
	}
	return nil
}

// consumeResult is the figures of perf consume, also its JSON line.
type consumeResult struct {
	Type           string    `json:"type"`
	Start          time.Time `json:"start_time"`
	End            time.Time `json:"end_time"`
	MB             float64   `json:"mb"`
	MBPerSec       float64   `json:"mb_per_sec"`
	Records        int64     `json:"records"`
	RecordsPerSec  float64   `json:"records_per_sec"`
	RebalanceMs    float64   `json:"rebalance_time_ms"`
	FetchMs        float64   `json:"fetch_time_ms"`
	FetchMBPerSec  float64   `json:"fetch_mb_per_sec"`
	FetchRecPerSec float64   `json:"fetch_records_per_sec"`
}

const consumeResultHeader = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"

// formatPerfTime renders t as kafka-consumer-perf-test does,
// "yyyy-MM-dd HH:mm:ss:SSS". NB: Go layouts only know '.' or ',' before
// fractional seconds, so the milliseconds are appended by hand.
func formatPerfTime(t time.Time) string {
	return fmt.Sprintf("%s:%03d", t.Format(time.DateTime), t.Nanosecond()/int(time.Millisecond))
}

func newConsumeResult(start, end time.Time, bytes, records int64, rebalance time.Duration) consumeResult {
	elapsed := end.Sub(start)
	fetch := max(elapsed-rebalance, 0)
	mb := float64(bytes) / bytesPerMB
	return consumeResult{
		Type:           "consume",
		Start:          start,
		End:            end,
		MB:             mb,
		MBPerSec:       rate(mb, elapsed),
		Records:        records,
		RecordsPerSec:  rate(float64(records), elapsed),
		RebalanceMs:    float64(rebalance.Milliseconds()),
		FetchMs:        float64(fetch.Milliseconds()),
		FetchMBPerSec:  rate(mb, fetch),
		FetchRecPerSec: rate(float64(records), fetch),
	}
}

// formatConsumeResult renders kafka-consumer-perf-test's result line.
func formatConsumeResult(r consumeResult) string {
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %.0f, %.0f, %.4f, %.4f\n",
		formatPerfTime(r.Start), formatPerfTime(r.End), r.MB, r.MBPerSec,
		r.Records, r.RecordsPerSec, r.RebalanceMs, r.FetchMs, r.FetchMBPerSec, r.FetchRecPerSec)
}

func runPerfConsume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("perf consume", "gregor perf consume --topic T --messages N [--group G] [--fetch-max-bytes B] [--output-json]")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to consume")
	messages := fs.Int64("messages", 0, "number of records to consume")
	group := fs.String("group", "", "consume as a member of this group (committed offsets win over the earliest offset)")
	fetchMaxBytes := fs.Int("fetch-max-bytes", 50<<20, "most bytes to ask for in one fetch")
	fetchSize := fs.Int("fetch-size", 1<<20, "most bytes to ask for per partition in one fetch")
	timeoutMs := fs.Int("timeout-ms", 10000, "give up after this many milliseconds without a record")
	hideHeader := fs.Bool("hide-header", false, "do not print the column header line")
	outputJSON := fs.Bool("output-json", false, "also print the figures as one JSON line")
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	if *messages <= 0 || *fetchMaxBytes <= 0 || *fetchSize <= 0 || *timeoutMs <= 0 {
		return usageErrorf("--messages, --fetch-max-bytes, --fetch-size and --timeout-ms must be positive")
	}

	start := time.Now()
	var assignedAt atomic.Int64 // ns after start when the group first assigned partitions
	opts := []kgo.Opt{
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(int32(*fetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(*fetchSize)),
	}
	if *group != "" {
		opts = append(opts, kgo.ConsumerGroup(*group),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				assignedAt.CompareAndSwap(0, int64(time.Since(start)))
			}))
	}
	cl, err := newClient(ctx, bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	var records, bytes int64
	last := start
	timedOut := false
	for records < *messages {
		pollCtx, cancel := context.WithTimeout(ctx, time.Duration(*timeoutMs)*time.Millisecond)
		fetches := cl.PollRecords(pollCtx, int(min(*messages-records, 1<<20)))
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		if err := fetchError(fetches); err != nil {
			return explainTopicError(*topic, err, "")
		}
		if fetches.NumRecords() == 0 {
			if pollCtx.Err() != nil {
				timedOut = true
				break
			}
			continue
		}
		fetches.EachRecord(func(r *kgo.Record) {
			records++
			bytes += int64(len(r.Key) + len(r.Value))
		})
		last = time.Now()
	}
	if timedOut {
		fmt.Fprintf(stderr, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded.\n", *timeoutMs)
	}
	result := newConsumeResult(start, last, bytes, records, time.Duration(assignedAt.Load()))
	if !*hideHeader {
		fmt.Fprint(stdout, consumeResultHeader)
	}
	fmt.Fprint(stdout, formatConsumeResult(result))
	if *outputJSON {
		return writeJSONLine(stdout, result)
	}
	return nil
}

// e2eValueHeader is the prefix of every perf e2e record value: the run's ID
// and the record's sequence number, so the consumer finds the send time and
// ignores records from other runs.
const e2eValueHeader = 16

func encodeE2EValue(payload []byte, runID, seq uint64) []byte {
	v := make([]byte, len(payload))
	copy(v, payload)
	binary.BigEndian.PutUint64(v[0:8], runID)
	binary.BigEndian.PutUint64(v[8:16], seq)
	return v
}

func decodeE2EValue(v []byte) (runID, seq uint64, ok bool) {
	if len(v) < e2eValueHeader {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(v[0:8]), binary.BigEndian.Uint64(v[8:16]), true
}

// e2eResult is the figures of perf e2e, also its JSON line. NB: it has produceResult's shape on
// purpose (one JSON line type per test, the fields of Kafka's own tool); what they share is
// latencySummary, embedded in both.
type e2eResult struct {
	Type           string  `json:"type"`
	Records        int64   `json:"records"`
	Consumed       int64   `json:"consumed"`
	ProduceErrors  int64   `json:"produce_errors"`
	TargetRate     float64 `json:"target_records_per_sec"`
	ProducedPerSec float64 `json:"produced_records_per_sec"`
	latencySummary
}

func formatE2EResult(r e2eResult) string {
	return fmt.Sprintf("%d records produced at %.1f records/sec, %d consumed; end-to-end latency %.2f ms avg, %.2f ms max, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.\n",
		r.Records, r.ProducedPerSec, r.Consumed, r.AvgMs, r.MaxMs, r.P50Ms, r.P95Ms, r.P99Ms, r.P999Ms)
}

func runPerfE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("perf e2e", "gregor perf e2e --topic T --num-records N --throughput R --record-size S [--acks all|1] [--output-json]")
	bootstrap := addBootstrapFlag(fs)
	topic := fs.String("topic", "", "topic to produce to and consume from")
	numRecords := fs.Int64("num-records", 0, "number of records to send")
	throughput := fs.Float64("throughput", 1000, "records per second to produce at")
	recordSize := fs.Int("record-size", 100, fmt.Sprintf("bytes per record value (at least %d)", e2eValueHeader))
	partitions := fs.Int("partitions", 1, "create the topic with this many partitions if it does not exist")
	timeoutMs := fs.Int("timeout-ms", 30000, "after the last send, wait this long for outstanding records")
	outputJSON := fs.Bool("output-json", false, "also print the figures as one JSON line")
	pf := addProducerFlags(fs)
	if err := parseTopicFlags(fs, args, stdout, stderr, topic); err != nil {
		return err
	}
	if *numRecords <= 0 || *throughput <= 0 || *partitions <= 0 || *timeoutMs <= 0 {
		return usageErrorf("--num-records, --throughput, --partitions and --timeout-ms must be positive")
	}
	if *recordSize < e2eValueHeader {
		return usageErrorf("--record-size must be at least %d", e2eValueHeader)
	}
	producerOpts, err := pf.opts()
	if err != nil {
		return err
	}
	if err := ensureTopic(ctx, bootstrap, *topic, *partitions, -1); err != nil {
		return err
	}

	// NB: the consumer starts at the current end offsets, listed before the
	// first send, so it neither misses a record nor replays old ones.
	startOffsets, err := endOffsets(ctx, bootstrap, *topic)
	if err != nil {
		return err
	}
	consumer, err := newClient(ctx, bootstrap, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: startOffsets}))
	if err != nil {
		return err
	}
	defer consumer.Close()
	producer, err := newClient(ctx, bootstrap, append(producerOpts, kgo.DefaultProduceTopic(*topic))...)
	if err != nil {
		return err
	}
	defer producer.Close()

	n := *numRecords
	runID := rand.Uint64()
	base := time.Now()
	sendTimes := make([]atomic.Int64, n) // ns after base, by sequence number; 0 = not sent
	var (
		hist     latencyHistogram // owned by the consumer goroutine until it is done
		consumed int64
		consErr  error
	)
	consumerCtx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		seen := make([]bool, n)
		for consumed < n {
			fetches := consumer.PollFetches(consumerCtx)
			now := time.Since(base)
			if fetches.IsClientClosed() || consumerCtx.Err() != nil {
				return
			}
			if err := fetchError(fetches); err != nil {
				consErr = explainTopicError(*topic, err, "")
				return
			}
			fetches.EachRecord(func(r *kgo.Record) {
				id, seq, ok := decodeE2EValue(r.Value)
				if !ok || id != runID || seq >= uint64(n) || seen[seq] {
					return
				}
				sentAt := sendTimes[seq].Load()
				if sentAt == 0 {
					return
				}
				seen[seq] = true
				hist.record(now - time.Duration(sentAt))
				consumed++
			})
		}
	}()

	var (
		produceErrs atomic.Int64
		firstErr    atomic.Pointer[error]
	)
	payload := randomPayload(*recordSize)
	start := time.Now()
	var sent int64
	for ; sent < n && ctx.Err() == nil; sent++ {
		throttle(ctx, sent, *throughput, start)
		value := encodeE2EValue(payload, runID, uint64(sent))
		sendTimes[sent].Store(max(int64(time.Since(base)), 1))
		producer.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				produceErrs.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		})
	}
	sendElapsed := time.Since(start)
	flushErr := producer.Flush(ctx)

	select {
	case <-consumerDone:
	case <-time.After(time.Duration(*timeoutMs) * time.Millisecond):
		fmt.Fprintf(stderr, "WARNING: timed out after %d ms waiting for records to be consumed\n", *timeoutMs)
	case <-ctx.Done():
	}
	stopConsumer()
	<-consumerDone

	result := e2eResult{
		Type:           "e2e",
		Records:        sent,
		Consumed:       consumed,
		ProduceErrors:  produceErrs.Load(),
		TargetRate:     *throughput,
		ProducedPerSec: rate(float64(sent), sendElapsed),
		latencySummary: hist.summary(),
	}
	fmt.Fprint(stdout, formatE2EResult(result))
	if *outputJSON {
		if err := writeJSONLine(stdout, result); err != nil {
			return err
		}
	}
	switch {
	case result.ProduceErrors > 0:
		return explainTopicError(*topic, *firstErr.Load(), "")
	case consErr != nil:
		return consErr
	case ctx.Err() != nil:
		return nil
	case flushErr != nil:
		return fmt.Errorf("waiting for acknowledgements: %w", flushErr)
	case consumed < sent:
		return fmt.Errorf("only %d of %d records were consumed", consumed, sent)
	}
	return nil
}

// endOffsets returns the current end offset of every partition of topic.
func endOffsets(ctx context.Context, bootstrap *brokerFlags, topic string) (map[int32]kgo.Offset, error) {
	adm, closeAdmin, err := newAdmin(ctx, bootstrap)
	if err != nil {
		return nil, err
	}
	defer closeAdmin()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, explainTopicError(topic, err, "")
	}
	if err := listed.Error(); err != nil {
		return nil, explainTopicError(topic, err, "")
	}
	offsets := make(map[int32]kgo.Offset)
	listed.Each(func(o kadm.ListedOffset) {
		offsets[o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	if len(offsets) == 0 {
		return nil, explainTopicError(topic, kerr.UnknownTopicOrPartition, "")
	}
	return offsets, nil
}
