package statestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("statestore: store closed")

// NB: every LevelDB key carries a one-byte namespace so that store metadata (the changelog
// checkpoint) can live in the same database, and be written in the same leveldb.Batch as the
// data, without ever showing up in Get, Range or All.
const (
	nsData byte = 'd'
	nsMeta byte = 'm'
)

// metaCheckpoint holds the offset of the last changelog record reflected in the store, as 8
// big-endian bytes.
var metaCheckpoint = []byte{nsMeta, 'c', 'h', 'e', 'c', 'k', 'p', 'o', 'i', 'n', 't'}

// metaTopicID holds the 16-byte ID of the changelog topic the checkpoint refers to, so that a
// deleted and recreated changelog is detected even when it is longer than the checkpoint.
var metaTopicID = []byte{nsMeta, 't', 'o', 'p', 'i', 'c', '-', 'i', 'd'}

// Options configure a KeyValueStore.
type Options struct {
	// StateDir is the root state directory; the store lives in <StateDir>/<Name>/<Partition>/.
	StateDir string
	// Name is the store name; it is part of the directory and of the changelog topic name.
	Name string
	// Partition is the partition of the task that owns the store, and of its changelog.
	Partition int32

	// Changelog, if non-nil, turns on change logging and restoration: every write is also
	// produced to ChangelogTopic(ApplicationID, Name) at Partition, and Open restores the store
	// from that topic. The client is shared (one per application is enough) and must be
	// built with ProducerOptions (the manual partitioner in particular). The store does not
	// close it.
	Changelog *kgo.Client
	// ApplicationID names the changelog topic; required when Changelog is set.
	ApplicationID string
	// ChangelogPartitions, if > 0, makes Open create the changelog topic with that many
	// partitions (cleanup.policy=compact) when it does not exist, and fail with
	// ErrPartitionMismatch when it exists with another count. If 0, the topic must exist.
	ChangelogPartitions int32
	// RestoreOptions are extra kgo options for the short-lived restore consumer (TLS, SASL,
	// ...). Seed brokers default to those of Changelog.
	RestoreOptions []kgo.Opt
	// WriteCacheEntries, if > 0, turns on the write cache. On a key-value store it is a
	// write-back buffer: updates stay in memory (Get and iterators see them) and only the latest
	// update per key goes to the changelog and, once acknowledged, to LevelDB in one batch, at
	// Commit/Flush or when more than WriteCacheEntries keys are pending. This cuts changelog
	// traffic for hot keys (a count updated on every record) and LevelDB writes to one batch per
	// commit. On a window or session store the same holds with TrackPositions (writes reach
	// LevelDB and the time index at Commit; FetchAll and FindSessionsByEnd, which scan the time
	// index, see committed writes only); without it updates go to LevelDB at once and only the
	// changelog is deduped.
	WriteCacheEntries int
	// TrackPositions (with WriteCacheEntries > 0) makes the owner responsible for commits: a
	// full buffer does not flush itself, the owner checks NeedsCommit between records and calls
	// Commit with its position, which is written to the changelog as a marker after the commit's
	// updates. Restore then stops at the last marker (a commit cut short by a crash is ignored)
	// and RestoredPosition returns the marker's position, so the owner resumes its input exactly
	// where the restored state ends. Stream tasks use this.
	TrackPositions bool
	// RestoreBatchRecords is how many changelog records go into one LevelDB batch during
	// restore (default 10000).
	RestoreBatchRecords int
	// RestoreProgressInterval is how often restore progress is logged, with the store, the
	// percentage, the records and the ETA (default 5s).
	RestoreProgressInterval time.Duration
	// RestoreListener, if set, is called during a restore from the changelog after each fetch,
	// and once at its end, with the changelog offsets restored so far and in all (the restore
	// covers offsets up to the high watermark captured when it started). It runs on the
	// goroutine of Open and must be quick.
	RestoreListener func(restored, total int64)
	// RestoreIdleTimeout bounds how long restore waits without receiving any record before it
	// fails (default 30s).
	RestoreIdleTimeout time.Duration

	// Logger receives store logs; default slog.Default(). The store adds component=statestore.
	Logger *slog.Logger
}

// Stats are counters of one store.
type Stats struct {
	// RecordsRestored is the number of changelog records applied by the last restore.
	RecordsRestored int64
	// RestoreDuration is how long the last restore took.
	RestoreDuration time.Duration
	// RestoredFrom and RestoredTo are the changelog offsets the last restore started at and
	// stopped before (the high watermark captured at its start).
	RestoredFrom, RestoredTo int64
	// ChangelogRecords is the number of records sent to the changelog since Open.
	ChangelogRecords int64
	// Rebuilt is true when Open wiped the local state before restoring (no checkpoint, or a
	// checkpoint ahead of the changelog).
	Rebuilt bool
}

// KeyValueStore is a byte key-value store on LevelDB, optionally backed by a changelog topic.
//
// All methods are safe for concurrent use. Writes are ordered per goroutine; a store is
// normally written by the one task that owns it. Byte slices passed to Put are not retained;
// slices returned by Get are owned by the caller.
type KeyValueStore struct {
	opts      Options
	dir       string
	topic     string
	partition int32
	db        *leveldb.DB
	client    *kgo.Client
	log       *slog.Logger

	inflight inflight
	closed   atomic.Bool
	// changelogRecords counts records produced to the changelog.
	changelogRecords atomic.Int64
	cache            writeCache
	// buffered is true for a key-value store with a write cache: see writeBuffer.
	buffered bool
	buf      writeBuffer
	// index, if set, adds secondary entries (outside the data namespace) to the batch of
	// every write and every restored record; the window store keeps its time index this way.
	index func(b *leveldb.Batch, key []byte, tombstone bool)

	mu struct {
		sync.Mutex
		// lastAcked is the highest changelog offset acknowledged for this store's writes,
		// -1 if none since open.
		lastAcked int64
		// checkpointed is the offset last written to metaCheckpoint, -1 if none.
		checkpointed int64
		// produceErr is the first changelog produce error; it is sticky.
		produceErr error
		stats      Stats
	}
}

// Open opens (creating if needed) the store in <StateDir>/<Name>/<Partition>/ and, when change
// logging is on, restores it from its changelog up to the high watermark before returning.
func Open(ctx context.Context, opts Options) (*KeyValueStore, error) {
	return open(ctx, opts, ChangelogTopicSpec, nil)
}

func open(ctx context.Context, opts Options, spec func(topic string, partitions int32) InternalTopic,
	index func(b *leveldb.Batch, key []byte, tombstone bool)) (*KeyValueStore, error) {
	if opts.StateDir == "" || opts.Name == "" {
		return nil, errors.New("statestore: Options.StateDir and Options.Name are required")
	}
	if opts.Changelog != nil && opts.ApplicationID == "" {
		return nil, errors.New("statestore: Options.ApplicationID is required with a changelog")
	}
	if opts.RestoreBatchRecords <= 0 {
		opts.RestoreBatchRecords = 10000
	}
	if opts.RestoreProgressInterval <= 0 {
		opts.RestoreProgressInterval = 5 * time.Second
	}
	if opts.RestoreIdleTimeout <= 0 {
		opts.RestoreIdleTimeout = 30 * time.Second
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &KeyValueStore{
		opts:      opts,
		dir:       StoreDir(opts.StateDir, opts.Name, opts.Partition),
		partition: opts.Partition,
		client:    opts.Changelog,
		log: logger.With("component", "statestore", "store", opts.Name,
			"partition", opts.Partition),
	}
	s.mu.lastAcked = -1
	s.mu.checkpointed = -1
	s.cache.max = opts.WriteCacheEntries
	s.index = index
	// NB: a window or session store (index != nil) buffers only with position tracking: its
	// writes then reach LevelDB, with their time index, at Commit, and restores are exact.
	s.buffered = opts.WriteCacheEntries > 0 && (index == nil || opts.TrackPositions)
	if opts.Changelog != nil {
		s.topic = ChangelogTopic(opts.ApplicationID, opts.Name)
		if opts.ChangelogPartitions > 0 {
			if err := EnsureTopics(ctx, opts.Changelog, spec(s.topic, opts.ChangelogPartitions)); err != nil {
				return nil, err
			}
		}
	}
	if err := s.openDB(); err != nil {
		return nil, err
	}
	if s.client != nil {
		if err := s.restore(ctx); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("statestore %s/%d: restore from %s: %w", opts.Name, opts.Partition, s.topic, err)
		}
	}
	return s, nil
}

// StoreDir is the directory of one store partition: <stateDir>/<store>/<partition>.
func StoreDir(stateDir, store string, partition int32) string {
	return filepath.Join(stateDir, store, strconv.Itoa(int(partition)))
}

func (s *KeyValueStore) openDB() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("statestore: %w", err)
	}
	db, err := leveldb.OpenFile(s.dir, &opt.Options{})
	if err != nil {
		return fmt.Errorf("statestore: open %s: %w", s.dir, err)
	}
	s.db = db
	cp, ok, err := s.readCheckpoint()
	if err != nil {
		db.Close()
		return err
	}
	if ok {
		s.mu.checkpointed = cp
	}
	return nil
}

// wipe deletes the local database and opens an empty one.
func (s *KeyValueStore) wipe() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("statestore: close %s: %w", s.dir, err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("statestore: wipe %s: %w", s.dir, err)
	}
	s.mu.checkpointed = -1
	return s.openDB()
}

// Name is the store name.
func (s *KeyValueStore) Name() string { return s.opts.Name }

// Partition is the store's partition.
func (s *KeyValueStore) Partition() int32 { return s.partition }

// ChangelogTopic is the store's changelog topic, "" when change logging is off.
func (s *KeyValueStore) ChangelogTopic() string { return s.topic }

// Stats returns the store's counters.
func (s *KeyValueStore) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mu.stats
	st.ChangelogRecords = s.changelogRecords.Load()
	return st
}

// Checkpoint is the changelog offset last recorded as reflected in the local store, and
// whether there is one.
func (s *KeyValueStore) Checkpoint() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.checkpointed, s.mu.checkpointed >= 0
}

func dataKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = nsData
	copy(k[1:], key)
	return k
}

// Get returns a copy of the value stored under key, and whether there is one.
func (s *KeyValueStore) Get(key []byte) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	if s.buffered {
		if v, ok, hit := s.bufferedGet(key); hit {
			return v, ok, nil
		}
	}
	v, err := s.db.Get(dataKey(key), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("statestore %s: get: %w", s.opts.Name, err)
	}
	return v, true, nil
}

// Put stores value under key and, with change logging on, sends the update to the changelog.
// A nil value is stored as an empty value (deletion is Delete). It returns the first changelog
// produce error seen so far, if any, so a failing changelog stops the writer early.
func (s *KeyValueStore) Put(key, value []byte) error {
	return s.write(key, value, false)
}

// Delete removes key and, with change logging on, sends a tombstone to the changelog.
func (s *KeyValueStore) Delete(key []byte) error {
	return s.write(key, nil, true)
}

func (s *KeyValueStore) write(key, value []byte, tombstone bool) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.produceErr(); err != nil {
		return err
	}
	if s.buffered {
		return s.bufferedWrite(key, value, tombstone)
	}
	dk := dataKey(key)
	var err error
	switch {
	case s.index != nil:
		var b leveldb.Batch
		if tombstone {
			b.Delete(dk)
		} else {
			b.Put(dk, value)
		}
		s.index(&b, key, tombstone)
		err = s.db.Write(&b, nil)
	case tombstone:
		err = s.db.Delete(dk, nil)
	default:
		err = s.db.Put(dk, value, nil)
	}
	if err != nil {
		return fmt.Errorf("statestore %s: write: %w", s.opts.Name, err)
	}
	if s.client != nil {
		// NB: kgo keeps Key and Value until the record is acked, and the caller may reuse its
		// slices, so they are copied; a non-nil empty Value is not a tombstone.
		if !tombstone {
			value = append(make([]byte, 0, len(value)), value...)
		}
		s.logChange(dk[1:], value)
	}
	return nil
}

// Iterator walks keys in byte order. It is not safe for concurrent use. Key and Value are
// valid only until the next call to Next; copy them to keep them. The caller must Close it.
type Iterator interface {
	// Next moves to the next entry and reports whether there is one.
	Next() bool
	// Key is the current key.
	Key() []byte
	// Value is the current value.
	Value() []byte
	// Err is the error that stopped the iteration, if any.
	Err() error
	// Close releases the iterator; it returns Err. Idempotent.
	Close() error
}

// Range iterates over keys in [from, to). A nil from starts at the first key; a nil to runs to
// the last.
func (s *KeyValueStore) Range(from, to []byte) Iterator {
	r := &util.Range{Start: dataKey(from)}
	if to != nil {
		r.Limit = dataKey(to)
	} else {
		r.Limit = []byte{nsData + 1}
	}
	return s.iter(r)
}

// PrefixScan iterates over keys that start with prefix.
func (s *KeyValueStore) PrefixScan(prefix []byte) Iterator {
	return s.iter(util.BytesPrefix(dataKey(prefix)))
}

// All iterates over every key.
func (s *KeyValueStore) All() Iterator { return s.Range(nil, nil) }

func (s *KeyValueStore) iter(r *util.Range) Iterator {
	if s.closed.Load() {
		return &errIterator{err: ErrClosed}
	}
	if s.buffered {
		return s.bufferedIter(r)
	}
	return &dbIterator{it: s.db.NewIterator(r, nil)}
}

// ApproximateSizeBytes returns the approximate size of the store's data on disk (LevelDB's
// estimate over its tables; updates still in the memtable or the write cache are not counted).
// It is cheap enough to call at every metrics scrape.
func (s *KeyValueStore) ApproximateSizeBytes() (int64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	sizes, err := s.db.SizeOf([]util.Range{{Start: []byte{nsData}, Limit: []byte{nsData + 1}}})
	if err != nil {
		return 0, err
	}
	return sizes.Sum(), nil
}

// ApproximateCount returns the number of keys.
//
// NB: LevelDB has no cheap key-count estimate (RocksDB's estimate-num-keys has no equivalent),
// so this counts by iterating over the keys: exact, but O(n).
func (s *KeyValueStore) ApproximateCount() (int64, error) {
	it := s.All()
	var n int64
	for it.Next() {
		n++
	}
	return n, it.Close()
}

type dbIterator struct {
	it     iterator.Iterator
	closed bool
}

func (i *dbIterator) Next() bool    { return !i.closed && i.it.Next() }
func (i *dbIterator) Key() []byte   { return i.it.Key()[1:] }
func (i *dbIterator) Value() []byte { return i.it.Value() }
func (i *dbIterator) Err() error    { return i.it.Error() }
func (i *dbIterator) Close() error {
	if i.closed {
		return nil
	}
	i.closed = true
	err := i.it.Error()
	i.it.Release()
	return err
}

type errIterator struct{ err error }

func (i *errIterator) Next() bool    { return false }
func (i *errIterator) Key() []byte   { return nil }
func (i *errIterator) Value() []byte { return nil }
func (i *errIterator) Err() error    { return i.err }
func (i *errIterator) Close() error  { return i.err }

// Flush waits until every changelog record of this store's writes so far is acknowledged, then
// records the last acknowledged offset as the store's checkpoint. It returns the first produce
// error, if any. Without change logging it does nothing.
//
// NB: the checkpoint cannot be written atomically with the data here, because the data went
// into LevelDB before its changelog record was acked. This is at-least-once and safe: after a
// crash the store restores from an older checkpoint and re-applies records it already holds,
// which is idempotent because every changelog record is a full key→value put or a tombstone,
// applied in offset order.
func (s *KeyValueStore) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.buffered {
		return s.Commit(ctx, nil)
	}
	if s.client == nil {
		return nil
	}
	s.flushCache()
	// NB: kgo.Client.Flush flushes every record of the shared client, not only ours; that is
	// what a commit needs anyway, and it stops lingering so our records go out now.
	if err := s.client.Flush(ctx); err != nil {
		return fmt.Errorf("statestore %s: flush changelog: %w", s.opts.Name, err)
	}
	if err := s.inflight.wait(ctx); err != nil {
		return fmt.Errorf("statestore %s: flush changelog: %w", s.opts.Name, err)
	}
	if err := s.produceErr(); err != nil {
		return err
	}
	s.mu.Lock()
	acked, cp := s.mu.lastAcked, s.mu.checkpointed
	s.mu.Unlock()
	if acked > cp {
		if err := s.writeCheckpoint(acked); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database. It does not flush the changelog: call Flush first. Idempotent.
func (s *KeyValueStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("statestore %s: close: %w", s.opts.Name, err)
	}
	return nil
}

func (s *KeyValueStore) readCheckpoint() (int64, bool, error) {
	v, err := s.db.Get(metaCheckpoint, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, fmt.Errorf("statestore: read checkpoint in %s: %w", s.dir, err)
	}
	if len(v) != 8 {
		return -1, false, fmt.Errorf("statestore: corrupt checkpoint in %s: %d bytes", s.dir, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func putCheckpoint(b *leveldb.Batch, offset int64) {
	b.Put(metaCheckpoint, binary.BigEndian.AppendUint64(nil, uint64(offset)))
}

func (s *KeyValueStore) writeCheckpoint(offset int64) error {
	var b leveldb.Batch
	putCheckpoint(&b, offset)
	if err := s.db.Write(&b, nil); err != nil {
		return fmt.Errorf("statestore %s: write checkpoint: %w", s.opts.Name, err)
	}
	s.mu.Lock()
	if offset > s.mu.checkpointed {
		s.mu.checkpointed = offset
	}
	s.mu.Unlock()
	return nil
}
