package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/fetchsession"
	plog "github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/partition"
)

// Log is the follower's local log (*broker/log.Log implements it). All methods are safe for
// concurrent use; the fetcher is the only writer while the partition follows. Implementations
// are compared with == (use pointers).
type Log interface {
	LogStartOffset() int64
	LogEndOffset() int64
	HighWatermark() int64
	LatestEpoch() int32
	EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64)
	// AppendAsFollower appends the leader's batches with their offsets and epochs.
	AppendAsFollower(batches []byte) (plog.AppendResult, error)
	// TruncateTo removes every record at or after offset.
	TruncateTo(offset int64) error
	// TruncateFullyAndStartAt empties the log and starts it at offset.
	TruncateFullyAndStartAt(offset int64) error
	// DeleteRecordsBefore moves the log start offset up (following the leader's).
	DeleteRecordsBefore(offset int64) (int64, error)
}

// Partition is the replica state a fetcher reports to (*broker/partition.Partition implements
// it). Implementations are compared with == (use pointers).
type Partition interface {
	// Follow runs fn (an append or a truncation) only while the partition follows at leaderEpoch,
	// and takes the log end offset fn returns; otherwise it returns an error wrapping
	// partition.ErrNotFollowing, and the fetcher drops the partition.
	Follow(leaderEpoch int32, fn func() (logEndOffset int64, err error)) error
	// SetFollowerHighWatermark takes the leader's high watermark from a fetch at leaderEpoch.
	SetFollowerHighWatermark(leaderEpoch int32, highWatermark int64) error
}

// Client sends one request to the leader broker and returns its response. *kgo.Broker (from
// kgo.Client.Broker(id)) implements it; it must be safe for concurrent use.
type Client interface {
	Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// TopicPartition names a partition. TopicID is sent to leaders that take Fetch v13+.
type TopicPartition struct {
	Topic     string
	TopicID   [16]byte
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Config configures fetchers, with Kafka's broker settings.
type Config struct {
	ReplicaID int32 // node.id of this broker
	// BrokerEpoch returns this broker's registration epoch, sent in ReplicaState (KIP-903; -1
	// unknown). Called for every fetch, from the fetchers' goroutines; nil: always -1.
	BrokerEpoch       func() int64
	MaxWait           time.Duration // replica.fetch.wait.max.ms (500 ms)
	MinBytes          int32         // replica.fetch.min.bytes (1)
	MaxBytes          int32         // replica.fetch.response.max.bytes (10 MiB)
	PartitionMaxBytes int32         // replica.fetch.max.bytes (1 MiB)
	Backoff           time.Duration // replica.fetch.backoff.ms (1 s)
	// NumFetchers is num.replica.fetchers (1): fetchers per leader broker, each with its own
	// Fetch in flight, the leader's partitions spread over them by FetcherID. More fetchers let a
	// follower append one partition's batches while another's fetch is in flight.
	NumFetchers int
	// Logger for the fetchers, which add leader and fetcher; nil: slog.Default() with
	// component=replica-fetcher (a caller's logger is expected to carry its own component).
	Logger *slog.Logger
}

func (c Config) normalized() Config {
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.MinBytes <= 0 {
		c.MinBytes = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 10 << 20
	}
	if c.PartitionMaxBytes <= 0 {
		c.PartitionMaxBytes = 1 << 20
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default().With("component", "replica-fetcher")
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
	return c
}

// followed is one partition a fetcher replicates. Guarded by Fetcher.mu; replaced, never
// mutated in place by Follow, so the fetch loop can tell a re-followed partition from the one it
// asked about.
type followed struct {
	tp          TopicPartition
	leaderEpoch int32
	part        Partition
	log         Log
	truncating  bool // OffsetForLeaderEpoch before the next fetch
	fetchOffset int64
	delayUntil  time.Time
	// divergedAt is the fetch offset of the last DivergingEpoch answer (-1: none since the last
	// append), so a divergence that truncation did not resolve backs off instead of spinning.
	divergedAt int64
}

// Fetcher replicates every partition this broker follows on one leader broker: one goroutine, one
// Fetch in flight, as Kafka's ReplicaFetcherThread. Methods are safe for concurrent use.
type Fetcher struct {
	leaderID int32
	client   Client
	cfg      Config
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}
	// session is the KIP-227 fetch session with the leader; used only by the run goroutine.
	session *fetchsession.Builder

	mu struct {
		sync.Mutex
		parts map[TopicPartition]*followed
	}
}

// NewFetcher starts a fetcher from broker leaderID through client. Close stops it.
func NewFetcher(leaderID int32, client Client, cfg Config) *Fetcher {
	return newFetcher(leaderID, 0, client, cfg)
}

// newFetcher starts fetcher fetcherID (of Config.NumFetchers) from broker leaderID.
func newFetcher(leaderID int32, fetcherID int, client Client, cfg Config) *Fetcher {
	cfg = cfg.normalized()
	f := &Fetcher{leaderID: leaderID, client: client, cfg: cfg, done: make(chan struct{}), wake: make(chan struct{}, 1), session: fetchsession.NewBuilder()}
	f.log = cfg.Logger.With("leader", leaderID, "fetcher", fetcherID)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.mu.parts = map[TopicPartition]*followed{}
	go f.run()
	return f
}

// Add makes the fetcher replicate tp at leaderEpoch into log, reporting to part. It first
// truncates by leader epoch (OffsetForLeaderEpoch), then fetches from the log end. Adding a
// partition again at a new epoch restarts it with truncation; at the same epoch it changes
// nothing (a metadata image delivered twice).
func (f *Fetcher) Add(tp TopicPartition, leaderEpoch int32, part Partition, log Log) {
	f.mu.Lock()
	if cur := f.mu.parts[tp]; cur != nil && cur.leaderEpoch == leaderEpoch && cur.part == part && cur.log == log {
		f.mu.Unlock()
		return
	}
	f.mu.parts[tp] = &followed{tp: tp, leaderEpoch: leaderEpoch, part: part, log: log, truncating: true, divergedAt: -1}
	f.mu.Unlock()
	f.poke()
}

// Remove stops replicating tp. A fetch in flight may still append to it, but only while the
// partition follows at the epoch it was added with (Partition.Follow fences it).
func (f *Fetcher) Remove(tp TopicPartition) {
	f.mu.Lock()
	delete(f.mu.parts, tp)
	f.mu.Unlock()
}

// Len is the number of partitions the fetcher replicates.
func (f *Fetcher) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.parts)
}

// Close stops the fetcher and waits for its goroutine. It is idempotent.
func (f *Fetcher) Close() {
	f.cancel()
	<-f.done
}

func (f *Fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Fetcher) run() {
	defer close(f.done)
	for f.ctx.Err() == nil {
		truncating, fetching, wait := f.ready(time.Now())
		if len(truncating) == 0 && len(fetching) == 0 {
			t := time.NewTimer(wait)
			select {
			case <-f.ctx.Done():
			case <-f.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if len(truncating) > 0 {
			f.truncate(truncating)
		}
		if len(fetching) > 0 {
			f.fetch(fetching)
		}
	}
}

// ready returns copies of the partitions due for truncation and for fetching, and how long until
// the next delayed one is due.
func (f *Fetcher) ready(now time.Time) (truncating, fetching []followed, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	wait = time.Minute
	for _, p := range f.mu.parts {
		if d := p.delayUntil.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if p.truncating {
			truncating = append(truncating, *p)
		} else {
			fetching = append(fetching, *p)
		}
	}
	return truncating, fetching, wait
}

// update applies fn to tp's state if it is still the one the loop worked on (same epoch).
func (f *Fetcher) update(p followed, fn func(cur *followed)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur := f.mu.parts[p.tp]; cur != nil && cur.leaderEpoch == p.leaderEpoch {
		fn(cur)
	}
}

func (f *Fetcher) backoff(p followed, err error) {
	f.log.Debug("partition backing off", "partition", p.tp.String(), "epoch", p.leaderEpoch, "err", err)
	f.update(p, func(cur *followed) { cur.delayUntil = time.Now().Add(f.cfg.Backoff) })
}

// drop removes a partition that no longer follows at its epoch (the broker re-adds it when the
// metadata image says whom to follow).
func (f *Fetcher) drop(p followed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur := f.mu.parts[p.tp]; cur != nil && cur.leaderEpoch == p.leaderEpoch {
		delete(f.mu.parts, p.tp)
	}
}

func (f *Fetcher) backoffAll(ps []followed, err error) {
	f.log.Warn("request to leader failed", "partitions", len(ps), "err", err)
	for _, p := range ps {
		f.backoff(p, err)
	}
	// NB: a failed request wakes nobody; wait out the backoff unless closed.
	t := time.NewTimer(f.cfg.Backoff)
	defer t.Stop()
	select {
	case <-f.ctx.Done():
	case <-t.C:
	}
}

// errorCode maps a partition error code to the fetcher's reaction.
func (f *Fetcher) partitionError(p followed, code int16) {
	err := kerr.ErrorForCode(code)
	switch {
	case errors.Is(err, kerr.FencedLeaderEpoch):
		// Our epoch is older than the leader's: wait for the metadata image to re-add us.
		f.log.Info("fenced by a newer leader epoch", "partition", p.tp.String(), "epoch", p.leaderEpoch)
		f.backoff(p, err)
	default:
		// UNKNOWN_LEADER_EPOCH (the leader has not seen our epoch yet), NOT_LEADER_OR_FOLLOWER,
		// UNKNOWN_TOPIC_OR_PARTITION and the rest: retry after the backoff.
		f.backoff(p, err)
	}
}

// truncate runs one OffsetForLeaderEpoch round for ps and truncates each log accordingly.
func (f *Fetcher) truncate(ps []followed) {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = f.cfg.ReplicaID
	byTopic := map[string]int{}
	var asked []followed
	for _, p := range ps {
		epoch := p.log.LatestEpoch()
		if epoch < 0 {
			// No epochs (an empty log): nothing can diverge; fetch from the log end.
			f.truncated(p, p.log.LogEndOffset())
			continue
		}
		i, ok := byTopic[p.tp.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.tp.Topic] = i
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = p.tp.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = p.tp.Partition, p.leaderEpoch, epoch
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		asked = append(asked, p)
	}
	if len(asked) == 0 {
		return
	}
	kresp, err := f.client.Request(f.ctx, req)
	if err != nil {
		f.backoffAll(asked, err)
		return
	}
	resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
	answers := map[TopicPartition]kmsg.OffsetForLeaderEpochResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			answers[TopicPartition{Topic: t.Topic, Partition: rp.Partition}] = rp
		}
	}
	for _, p := range asked {
		rp, ok := answers[TopicPartition{Topic: p.tp.Topic, Partition: p.tp.Partition}]
		if !ok {
			f.backoff(p, errors.New("partition missing from OffsetForLeaderEpoch response"))
			continue
		}
		if rp.ErrorCode != 0 {
			f.partitionError(p, rp.ErrorCode)
			continue
		}
		offset, done := truncation(rp.LeaderEpoch, rp.EndOffset, p.log.LogEndOffset(), p.log.HighWatermark(), p.log.EndOffsetForEpoch)
		if f.write(p, func() error { return p.log.TruncateTo(offset) }) && done {
			f.log.Info("truncated by leader epoch", "partition", p.tp.String(), "epoch", p.leaderEpoch,
				"leaderEpoch", rp.LeaderEpoch, "leaderEndOffset", rp.EndOffset, "logEndOffset", p.log.LogEndOffset())
			f.truncated(p, p.log.LogEndOffset())
		}
		// Not done: the partition stays truncating and asks again with its new latest epoch.
	}
}

func (f *Fetcher) truncated(p followed, fetchOffset int64) {
	f.update(p, func(cur *followed) { cur.truncating, cur.fetchOffset = false, fetchOffset })
}

// batchesFrom returns the whole batches of records that end at or after offset: a leader may cut
// the last batch short at the response size limit, and a batch may start before offset.
func batchesFrom(records []byte, offset int64) []byte {
	const headerSize = 61 // a v2 RecordBatch header
	start, end := -1, 0
	for pos := 0; pos+headerSize <= len(records); {
		base := int64(binary.BigEndian.Uint64(records[pos:]))
		size := int64(binary.BigEndian.Uint32(records[pos+8:])) + 12
		if size < headerSize || int64(pos)+size > int64(len(records)) {
			break
		}
		lastDelta := int64(int32(binary.BigEndian.Uint32(records[pos+23:])))
		if start < 0 && base+lastDelta >= offset {
			start = pos
		}
		pos += int(size)
		end = pos
	}
	if start < 0 {
		return nil
	}
	return records[start:end]
}

func isNotFollowing(err error) bool { return errors.Is(err, partition.ErrNotFollowing) }

// write runs a log write for p through Partition.Follow. It reports success; otherwise it has
// dropped p (no longer following at its epoch) or backed it off.
func (f *Fetcher) write(p followed, fn func() error) bool {
	err := p.part.Follow(p.leaderEpoch, func() (int64, error) {
		err := fn()
		return p.log.LogEndOffset(), err
	})
	switch {
	case err != nil && isNotFollowing(err):
		f.drop(p)
		return false
	case err != nil:
		f.backoff(p, err)
		return false
	}
	return true
}
