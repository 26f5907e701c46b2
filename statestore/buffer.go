package statestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PositionKey is the changelog key of position markers (see Commit). It is reserved: a store
// key equal to it would share its compaction fate with the markers.
const PositionKey = "__gregor.position"

// positionHeader marks a changelog record as a position marker; restore recognises markers by
// it (not by the key alone), so a user key that happens to equal PositionKey is never taken for
// one.
const positionHeader = "gregor.position"

// metaPosition holds the position (the caller's opaque bytes) of the last Commit reflected in
// the local data; metaUsesMarkers records that the changelog carries markers.
var (
	metaPosition    = []byte{nsMeta, 'p', 'o', 's', 'i', 't', 'i', 'o', 'n'}
	metaUsesMarkers = []byte{nsMeta, 'm', 'a', 'r', 'k', 'e', 'r', 's'}
)

// writeBuffer holds the updates of a buffered store (Options.WriteCacheEntries > 0 on a plain
// key-value store) between commits. A nil value is a tombstone. committing holds the updates
// of a Commit in progress, still visible to reads until they are in LevelDB.
type writeBuffer struct {
	dirty      map[string][]byte
	committing map[string][]byte
	// lastPosition is the position of the last Commit (or of the restore).
	lastPosition []byte
}

func (s *KeyValueStore) bufferedGet(key []byte) ([]byte, bool, bool) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	v, ok := s.buf.dirty[string(key)]
	if !ok {
		v, ok = s.buf.committing[string(key)]
	}
	if !ok {
		return nil, false, false
	}
	if v == nil {
		return nil, false, true
	}
	return append([]byte(nil), v...), true, true
}

func (s *KeyValueStore) bufferedWrite(key, value []byte, tombstone bool) error {
	var v []byte
	if !tombstone {
		v = append(make([]byte, 0, len(value)), value...)
	}
	s.cache.mu.Lock()
	if s.buf.dirty == nil {
		s.buf.dirty = make(map[string][]byte)
	}
	s.buf.dirty[string(key)] = v
	full := len(s.buf.dirty) > s.cache.max
	s.cache.mu.Unlock()
	if full && !s.opts.TrackPositions {
		return s.Commit(context.Background(), nil)
	}
	return nil
}

// dropBufferedBefore forgets the pending updates of keys whose time (timeOf) is before cutoff:
// a window or session store's retention expires them, as it expires committed ones, without
// changelog tombstones.
func (s *KeyValueStore) dropBufferedBefore(cutoff int64, timeOf func(key []byte) (int64, bool)) {
	if !s.buffered {
		return
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	for k := range s.buf.dirty {
		if ts, ok := timeOf([]byte(k)); ok && ts < cutoff {
			delete(s.buf.dirty, k)
		}
	}
}

// NeedsCommit reports whether a buffered store holds more than Options.WriteCacheEntries
// pending updates. An owner that set Options.TrackPositions checks it between records and
// calls Commit with its position.
func (s *KeyValueStore) NeedsCommit() bool {
	if !s.buffered {
		return false
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.buf.dirty) > s.cache.max
}

// Commit makes every write so far durable: for a buffered store, the pending updates (the
// latest per key) go to the changelog, followed, when position is non-nil, by a position marker
// holding it; once all of them are acknowledged they are written to LevelDB in one batch
// together with the checkpoint and the position. Without change logging the batch is written
// at once. For an unbuffered store Commit is Flush.
//
// The position is the caller's record of what the writes reflect (a stream task's input
// offsets). Because LevelDB and the changelog only ever hold complete commits up to a marker,
// a new owner restores exactly the state of the last marker and reads its position with
// RestoredPosition; updates after the last marker (a commit cut short by a crash) are ignored
// by restore and superseded by the next Commit.
func (s *KeyValueStore) Commit(ctx context.Context, position []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if !s.buffered {
		return s.Flush(ctx)
	}
	if err := s.produceErr(); err != nil {
		return err
	}
	s.cache.mu.Lock()
	pending := s.buf.dirty
	s.buf.dirty = nil
	s.buf.committing = pending
	s.cache.mu.Unlock()
	// NB: an idle store whose position has not moved needs no new marker.
	if len(pending) == 0 && (position == nil || bytes.Equal(position, s.buf.lastPosition)) {
		s.cache.mu.Lock()
		s.buf.committing = nil
		s.cache.mu.Unlock()
		return nil
	}
	// NB: sorted, so that a commit's changelog records and LevelDB batch are deterministic.
	keys := make([]string, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if s.client != nil {
		for _, k := range keys {
			s.produce([]byte(k), pending[k])
		}
		if position != nil {
			s.inflight.add()
			s.changelogRecords.Add(1)
			s.client.Produce(context.Background(), &kgo.Record{
				Topic: s.topic, Partition: s.partition, Key: []byte(PositionKey),
				Value:   append([]byte(nil), position...),
				Headers: []kgo.RecordHeader{{Key: positionHeader, Value: []byte{1}}},
			}, s.acked)
		}
		if err := s.client.Flush(ctx); err != nil {
			return s.restoreCommittingOnError(pending, fmt.Errorf("statestore %s: flush changelog: %w", s.opts.Name, err))
		}
		if err := s.inflight.wait(ctx); err != nil {
			return s.restoreCommittingOnError(pending, fmt.Errorf("statestore %s: flush changelog: %w", s.opts.Name, err))
		}
		if err := s.produceErr(); err != nil {
			return s.restoreCommittingOnError(pending, err)
		}
	}
	var b leveldb.Batch
	for _, k := range keys {
		if v := pending[k]; v == nil {
			b.Delete(dataKey([]byte(k)))
		} else {
			b.Put(dataKey([]byte(k)), v)
		}
		if s.index != nil {
			s.index(&b, []byte(k), pending[k] == nil)
		}
	}
	s.mu.Lock()
	acked, cp := s.mu.lastAcked, s.mu.checkpointed
	s.mu.Unlock()
	if acked > cp {
		putCheckpoint(&b, acked)
	}
	if position != nil {
		b.Put(metaPosition, position)
		b.Put(metaUsesMarkers, []byte{1})
	}
	if err := s.db.Write(&b, nil); err != nil {
		return s.restoreCommittingOnError(pending, fmt.Errorf("statestore %s: write: %w", s.opts.Name, err))
	}
	s.mu.Lock()
	if acked > s.mu.checkpointed {
		s.mu.checkpointed = acked
	}
	s.mu.Unlock()
	s.cache.mu.Lock()
	s.buf.committing = nil
	if position != nil {
		s.buf.lastPosition = append(s.buf.lastPosition[:0], position...)
	}
	s.cache.mu.Unlock()
	return nil
}

// restoreCommittingOnError puts the updates of a failed Commit back under newer ones, so reads
// keep seeing them; the store's sticky produce error (if any) makes the owner reopen it.
func (s *KeyValueStore) restoreCommittingOnError(pending map[string][]byte, err error) error {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.buf.dirty == nil {
		s.buf.dirty = pending
	} else {
		for k, v := range pending {
			if _, newer := s.buf.dirty[k]; !newer {
				s.buf.dirty[k] = v
			}
		}
	}
	s.buf.committing = nil
	return err
}

// RestoredPosition returns the position of the last Commit reflected in the store (after Open,
// the position of the last complete commit in the changelog), or nil if none.
func (s *KeyValueStore) RestoredPosition() []byte {
	v, err := s.db.Get(metaPosition, nil)
	if err != nil {
		return nil
	}
	return v
}

// bufferedIter merges the pending updates within r with LevelDB's data.
func (s *KeyValueStore) bufferedIter(r *util.Range) Iterator {
	type kv struct {
		k string
		v []byte
	}
	var mem []kv
	s.cache.mu.Lock()
	for _, m := range []map[string][]byte{s.buf.committing, s.buf.dirty} {
		for k, v := range m {
			dk := dataKey([]byte(k))
			if bytes.Compare(dk, r.Start) < 0 || (r.Limit != nil && bytes.Compare(dk, r.Limit) >= 0) {
				continue
			}
			mem = append(mem, kv{k, v})
		}
	}
	s.cache.mu.Unlock()
	if len(mem) == 0 {
		return &dbIterator{it: s.db.NewIterator(r, nil)}
	}
	// dirty entries override committing ones: keep the last of equal keys (stable sort).
	sort.SliceStable(mem, func(i, j int) bool { return mem[i].k < mem[j].k })
	dedup := mem[:0]
	for i, e := range mem {
		if i+1 < len(mem) && mem[i+1].k == e.k {
			continue
		}
		dedup = append(dedup, e)
	}
	keys := make([][]byte, len(dedup))
	vals := make([][]byte, len(dedup))
	for i, e := range dedup {
		keys[i], vals[i] = []byte(e.k), e.v
	}
	return &mergeIterator{db: &dbIterator{it: s.db.NewIterator(r, nil)}, keys: keys, vals: vals, mi: -1}
}

// mergeIterator walks LevelDB's entries and the buffer's (sorted; nil value = tombstone) in key
// order, the buffer winning on equal keys.
type mergeIterator struct {
	db         *dbIterator
	dbOK       bool
	dbStarted  bool
	keys, vals [][]byte
	mi         int // next buffer entry is keys[mi+1]
	key, value []byte
}

func (m *mergeIterator) Next() bool {
	if !m.dbStarted {
		m.dbStarted = true
		m.dbOK = m.db.Next()
	}
	for {
		haveMem := m.mi+1 < len(m.keys)
		switch {
		case !haveMem && !m.dbOK:
			return false
		case haveMem && (!m.dbOK || bytes.Compare(m.keys[m.mi+1], m.db.Key()) <= 0):
			m.mi++
			if m.dbOK && bytes.Equal(m.keys[m.mi], m.db.Key()) {
				m.dbOK = m.db.Next()
			}
			if m.vals[m.mi] == nil {
				continue // tombstone hides the stored key
			}
			m.key, m.value = m.keys[m.mi], m.vals[m.mi]
			return true
		default:
			// NB: LevelDB's iterator reuses its buffers on Next; keep our own copy.
			m.key = append(m.key[:0:0], m.db.Key()...)
			m.value = append(m.value[:0:0], m.db.Value()...)
			m.dbOK = m.db.Next()
			return true
		}
	}
}

func (m *mergeIterator) Key() []byte   { return m.key }
func (m *mergeIterator) Value() []byte { return m.value }
func (m *mergeIterator) Err() error    { return m.db.Err() }
func (m *mergeIterator) Close() error  { return m.db.Close() }

// isMarker reports whether a changelog record is a position marker.
func isMarker(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == positionHeader {
			return true
		}
	}
	return false
}

// findLastMarker scans the changelog backwards from highWatermark, in growing windows, for the
// last position marker at or after from. It returns its offset and position, and the keys of
// the records after it (a commit cut short, to be superseded). When there is no marker in
// [from, highWatermark) every record there is after the last marker.
func (s *KeyValueStore) findLastMarker(ctx context.Context, from, highWatermark int64) (offset int64, position []byte, tail map[string]bool, found bool, err error) {
	tail = map[string]bool{}
	hi, window := highWatermark, int64(4096)
	for {
		lo := max(from, hi-window)
		last := int64(-1)
		var lastPos []byte
		after := map[string]bool{}
		err := s.scanChangelog(ctx, lo, hi, 100*time.Millisecond, func(r *kgo.Record) {
			if isMarker(r) {
				last, lastPos = r.Offset, r.Value
				clear(after)
				return
			}
			after[string(r.Key)] = true
		}, nil)
		if err != nil {
			return 0, nil, nil, false, err
		}
		for k := range after {
			tail[k] = true
		}
		if last >= 0 {
			return last, lastPos, tail, true, nil
		}
		if lo == from {
			return -1, nil, tail, false, nil
		}
		hi, window = lo, window*8
	}
}

// supersedeTail queues the current value (or a tombstone) of every key written after the last
// marker, so that the next Commit writes them after a new marker: the cut-short commit then
// never shows through on a later restore.
func (s *KeyValueStore) supersedeTail(tail map[string]bool) error {
	if len(tail) == 0 {
		return nil
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.buf.dirty == nil {
		s.buf.dirty = make(map[string][]byte, len(tail))
	}
	for k := range tail {
		v, err := s.db.Get(dataKey([]byte(k)), nil)
		switch {
		case errors.Is(err, leveldb.ErrNotFound):
			s.buf.dirty[k] = nil
		case err != nil:
			return fmt.Errorf("read %q: %w", k, err)
		default:
			s.buf.dirty[k] = v
		}
	}
	return nil
}
