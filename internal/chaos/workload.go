//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testutil"
)

// Workload describes the writes and reads of a run. Zero fields take the defaults in brackets.
type Workload struct {
	// Bootstrap lists the cluster's client addresses.
	Bootstrap []string
	// Topic is created with Partitions [6] and ReplicationFactor [1], plus TopicConfigs.
	Topic             string
	Partitions        int32
	ReplicationFactor int16
	TopicConfigs      map[string]string
	// Producers [2] idempotent acks=all producers write Rate [1000] records/s between them, each
	// round-robin over the partitions with its own rising sequence, at most MaxBuffered [500]
	// records unacknowledged per producer.
	Producers   int
	Rate        int
	MaxBuffered int
	// ReaderRestart, if set, restarts the reader's client that often; the new client resumes
	// after the last record polled.
	ReaderRestart time.Duration
	// CreateTopic, if set, creates the topic instead of a CreateTopics to a broker (a KRaft
	// cluster creates topics through its controller). It must treat an existing topic as created.
	CreateTopic func(ctx context.Context, w Workload) error
	// CatchUp [30s] bounds the wait for the reader to reach the end after the writes stop;
	// FinalRead [60s] bounds the final full read.
	CatchUp, FinalRead time.Duration
}

func (w *Workload) defaults() {
	if w.Topic == "" {
		w.Topic = "chaos"
	}
	if w.Partitions == 0 {
		w.Partitions = 6
	}
	if w.ReplicationFactor == 0 {
		w.ReplicationFactor = 1
	}
	if w.Producers == 0 {
		w.Producers = 2
	}
	if w.Rate == 0 {
		w.Rate = 1000
	}
	if w.MaxBuffered == 0 {
		w.MaxBuffered = 500
	}
	if w.CatchUp == 0 {
		w.CatchUp = 30 * time.Second
	}
	if w.FinalRead == 0 {
		w.FinalRead = 60 * time.Second
	}
}

// Run is a workload in progress. Its methods are safe for concurrent use.
type Run struct {
	w             Workload
	stopProducing context.CancelFunc // ends the producers' loops
	failPending   context.CancelFunc // fails records still unacknowledged (after a flush timed out)
	wg            sync.WaitGroup     // producers
	reader        *reader

	acked, failed atomic.Int64
	mu            struct {
		sync.Mutex
		acks     []Ack
		failures []Failure
	}
}

// Start creates the topic and starts the producers and the reader.
func Start(ctx context.Context, w Workload) (*Run, error) {
	w.defaults()
	create := createTopic
	if w.CreateTopic != nil {
		create = w.CreateTopic
	}
	if err := create(ctx, w); err != nil {
		return nil, fmt.Errorf("chaos: create topic %s: %w", w.Topic, err)
	}
	r := &Run{w: w}
	rd, err := startReader(w)
	if err != nil {
		return nil, err
	}
	r.reader = rd
	loopCtx, stopProducing := context.WithCancel(context.Background())
	recordCtx, failPending := context.WithCancel(context.Background())
	r.stopProducing, r.failPending = stopProducing, failPending
	for p := range w.Producers {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(w.Bootstrap...),
			kgo.DefaultProduceTopic(w.Topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()), // the default, stated: acks=all with idempotence
			kgo.MaxBufferedRecords(w.MaxBuffered),
		)
		if err != nil {
			stopProducing()
			failPending()
			r.wg.Wait()
			r.reader.stop()
			return nil, fmt.Errorf("chaos: producer %d: %w", p, err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer cl.Close()
			r.produce(loopCtx, recordCtx, cl, p)
			cl.Flush(recordCtx) // until acknowledged or failPending
		}()
	}
	return r, nil
}

func createTopic(ctx context.Context, w Workload) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.Bootstrap...))
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	configs := map[string]*string{}
	for k, v := range w.TopicConfigs {
		configs[k] = &v
	}
	err = testutil.Poll(30*time.Second, 200*time.Millisecond, func() error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := adm.CreateTopic(cctx, w.Partitions, w.ReplicationFactor, configs, w.Topic)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("chaos: create topic %s: %w", w.Topic, err)
	}
	return nil
}

// produce writes producer's values until ctx is done, at its share of the rate. Records are
// produced with recordCtx, so stopping the loop does not fail the records in flight.
func (r *Run) produce(ctx, recordCtx context.Context, cl *kgo.Client, producer int) {
	const tick = 10 * time.Millisecond
	perTick := float64(r.w.Rate) / float64(r.w.Producers) * tick.Seconds()
	t := time.NewTicker(tick)
	defer t.Stop()
	var seq int64
	var owed float64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for owed += perTick; owed >= 1; owed-- {
			v := Value{Producer: producer, Seq: seq}
			partition := int32(seq % int64(r.w.Partitions))
			seq++
			rec := &kgo.Record{Partition: partition, Value: []byte(v.String())}
			// NB: Produce blocks while MaxBuffered records are unacknowledged, which is the
			// backpressure; a record failed by failPending may never have been sent, but is
			// recorded as a failure like any other (failures are only ever indeterminate).
			cl.Produce(recordCtx, rec, func(rec *kgo.Record, err error) { r.record(v, rec, err) })
			if ctx.Err() != nil {
				return
			}
		}
	}
}

func (r *Run) record(v Value, rec *kgo.Record, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed.Add(1)
		r.mu.failures = append(r.mu.failures, Failure{Value: v, Partition: rec.Partition, Err: err.Error()})
		return
	}
	r.acked.Add(1)
	r.mu.acks = append(r.mu.acks, Ack{Value: v, Partition: rec.Partition, Offset: rec.Offset})
}

// Stats is a snapshot of a run's counters.
type Stats struct {
	Acked, Failed, Polled int64
	// ReaderErrors counts fetch errors the reader's client reported (it retries them);
	// ReaderRestarts counts the reader's client restarts.
	ReaderErrors, ReaderRestarts int64
}

func (s Stats) String() string {
	return fmt.Sprintf("acked %d, failed %d, polled %d (reader restarts %d, fetch errors %d)", s.Acked, s.Failed, s.Polled, s.ReaderRestarts, s.ReaderErrors)
}

// Stats returns the run's counters so far.
func (r *Run) Stats() Stats {
	return Stats{
		Acked: r.acked.Load(), Failed: r.failed.Load(), Polled: r.reader.polled.Load(),
		ReaderErrors: r.reader.errors.Load(), ReaderRestarts: r.reader.restarts.Load(),
	}
}

// Stop stops the writes (waiting up to a minute for outstanding acknowledgements; what is still
// unacknowledged then is recorded as failed), lets the reader catch up with the end of every
// partition, stops it, reads every partition in full and returns the history. The error says
// what could not be completed; the history is returned even then, for inspection, but a history
// whose final read is incomplete reports false lost writes.
func (r *Run) Stop() (History, error) {
	r.stopProducing()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var errs []error
	select {
	case <-done:
	case <-time.After(time.Minute):
		errs = append(errs, errors.New("chaos: writes still unacknowledged 1m after the workload stopped; failed them"))
		r.failPending()
		<-done // Produce and Flush return once their context is canceled
	}
	r.failPending()

	ends, err := endOffsets(r.w)
	if err != nil {
		errs = append(errs, err)
	} else if err := r.reader.waitFor(ends, r.w.CatchUp); err != nil {
		errs = append(errs, err)
	}
	polls := r.reader.stop()

	var final []Read
	if err == nil {
		if final, err = finalRead(r.w, ends); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := History{Acks: r.mu.acks, Failures: r.mu.failures, Polls: polls, Final: final}
	return h, errors.Join(errs...)
}

// endOffsets lists every partition's end offset, retrying for up to 30s.
func endOffsets(w Workload) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.Bootstrap...))
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends := map[int32]int64{}
	err = testutil.Poll(30*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		listed, err := adm.ListEndOffsets(ctx, w.Topic)
		if err != nil {
			return err
		}
		if err := listed.Error(); err != nil {
			return err
		}
		listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
		if len(ends) != int(w.Partitions) {
			return fmt.Errorf("end offsets of %d partitions, want %d", len(ends), w.Partitions)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: list end offsets of %s: %w", w.Topic, err)
	}
	return ends, nil
}

// finalRead reads every partition from the start up to ends, within w.FinalRead.
func finalRead(w Workload, ends map[int32]int64) ([]Read, error) {
	cl, err := kgo.NewClient(readerOpts(w, nil)...)
	if err != nil {
		return nil, fmt.Errorf("chaos: final read: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), w.FinalRead)
	defer cancel()
	next := map[int32]int64{}
	var reads []Read
	for !reached(next, ends) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return reads, fmt.Errorf("chaos: final read incomplete after %v: at %v, end offsets %v", w.FinalRead, next, ends)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			next[rec.Partition] = rec.Offset + 1
			if v, err := ParseValue(rec.Value); err == nil {
				reads = append(reads, Read{Partition: rec.Partition, Offset: rec.Offset, Value: v})
			}
		})
	}
	return reads, nil
}

func reached(next, ends map[int32]int64) bool {
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// Describe names the workload's shape for progress lines.
func (w Workload) Describe() string {
	w.defaults()
	return "topic " + w.Topic + ", " + strconv.Itoa(int(w.Partitions)) + " partitions, RF " + strconv.Itoa(int(w.ReplicationFactor)) +
		", " + strconv.Itoa(w.Producers) + " idempotent acks=all producers at " + strconv.Itoa(w.Rate) + " records/s"
}
