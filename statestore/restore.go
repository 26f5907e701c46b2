package statestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gregor-streams/gregor/internal/progress"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restore brings the local store up to the changelog's high watermark, captured when restore
// starts. Records produced after that are the store's own writes, which follow.
func (s *KeyValueStore) restore(ctx context.Context) error {
	start := time.Now()
	adm := kadm.NewClient(s.client)
	ends, err := adm.ListEndOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	end, ok := ends.Lookup(s.topic, s.partition)
	if !ok {
		return fmt.Errorf("partition %d not found (does the topic exist with enough partitions?)", s.partition)
	}
	if end.Err != nil {
		return fmt.Errorf("list end offsets: %w", end.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	logStart, _ := starts.Lookup(s.topic, s.partition)
	if logStart.Err != nil {
		return fmt.Errorf("list start offsets: %w", logStart.Err)
	}
	highWatermark := end.Offset
	details, err := adm.ListTopics(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("describe topic: %w", err)
	}
	topicID := details[s.topic].ID
	storedID, hasStoredID, err := s.readTopicID()
	if err != nil {
		return err
	}

	checkpoint, hasCheckpoint := s.Checkpoint()
	rebuilt := false
	switch {
	case hasCheckpoint && hasStoredID && topicID != (kadm.TopicID{}) && storedID != topicID:
		// NB: the topic ID catches a recreated changelog even when the new topic has already
		// grown past the old checkpoint, which the offset comparison below cannot see.
		s.log.Warn("changelog topic was recreated (its topic ID changed); wiping the store and rebuilding it",
			"topic", s.topic, "stored_topic_id", storedID, "topic_id", topicID)
		if err := s.wipe(); err != nil {
			return err
		}
		hasCheckpoint, rebuilt = false, true
	case hasCheckpoint && checkpoint >= highWatermark:
		// The changelog is shorter than what the store has seen: the topic was deleted and
		// recreated, or truncated. Local state cannot be trusted.
		s.log.Warn("changelog checkpoint is ahead of the changelog; wiping the store and rebuilding it",
			"topic", s.topic, "checkpoint", checkpoint, "high_watermark", highWatermark)
		if err := s.wipe(); err != nil {
			return err
		}
		hasCheckpoint, rebuilt = false, true
	case !hasCheckpoint:
		// NB: data without a checkpoint was written before its changelog records were acked
		// (a crash before the first Flush); only the changelog is authoritative.
		it := s.All()
		nonEmpty := it.Next()
		if err := it.Close(); err != nil {
			return err
		}
		if nonEmpty {
			s.log.Warn("store has data but no changelog checkpoint; wiping it and rebuilding it",
				"topic", s.topic)
			if err := s.wipe(); err != nil {
				return err
			}
			rebuilt = true
		}
	}

	from := int64(0)
	if hasCheckpoint {
		from = checkpoint + 1
	}
	// NB: with cleanup.policy=compact,delete the head of the log may be gone; those records
	// were expired windows, so the restore starts at the log start offset.
	if from < logStart.Offset {
		from = logStart.Offset
	}
	stats := Stats{RestoredFrom: from, RestoredTo: highWatermark, Rebuilt: rebuilt}
	if topicID != (kadm.TopicID{}) && (!hasStoredID || rebuilt || storedID != topicID) {
		if err := s.db.Put(metaTopicID, topicID[:], nil); err != nil {
			return fmt.Errorf("write topic id: %w", err)
		}
	}
	// With position tracking, restore stops at the last position marker: records after it are a
	// commit that a crash cut short, and are superseded by the next Commit.
	bound := highWatermark
	var tail map[string]bool
	var position []byte
	if s.opts.TrackPositions && from < highWatermark {
		off, pos, t, found, err := s.findLastMarker(ctx, from, highWatermark)
		if err != nil {
			return fmt.Errorf("find last position marker: %w", err)
		}
		tail = t
		if found {
			bound, position = off+1, pos
		} else {
			bound = from
		}
		if len(tail) > 0 {
			s.log.Info("changelog ends with a commit cut short; ignoring it", "topic", s.topic,
				"keys", len(tail), "last_marker", off)
		}
	}
	if from >= bound {
		stats.RestoreDuration = time.Since(start)
		s.setStats(stats)
		if s.opts.TrackPositions {
			return s.supersedeTail(tail)
		}
		if highWatermark > 0 && checkpoint != highWatermark-1 {
			if err := s.writeCheckpoint(highWatermark - 1); err != nil {
				return err
			}
		}
		stats.RestoreDuration = time.Since(start)
		s.setStats(stats)
		return nil
	}

	n, err := s.consumeChangelog(ctx, from, bound)
	stats.RecordsRestored = n
	stats.RestoreDuration = time.Since(start)
	s.setStats(stats)
	if err != nil {
		return err
	}
	if s.opts.RestoreListener != nil {
		s.opts.RestoreListener(bound-from, bound-from)
	}
	// NB: offsets between the last record and the bound may hold no record (compaction,
	// control batches); the store now reflects everything before it.
	if err := s.writeCheckpoint(bound - 1); err != nil {
		return err
	}
	if position != nil {
		s.buf.lastPosition = append([]byte(nil), position...)
		var b leveldb.Batch
		b.Put(metaPosition, position)
		b.Put(metaUsesMarkers, []byte{1})
		if err := s.db.Write(&b, nil); err != nil {
			return fmt.Errorf("write position: %w", err)
		}
	}
	if err := s.supersedeTail(tail); err != nil {
		return err
	}
	s.log.Info("restored store from changelog", "topic", s.topic, "records", n,
		"from", from, "to", highWatermark, "took", stats.RestoreDuration.Round(time.Millisecond),
		"rate_per_sec", int64(rate(n, stats.RestoreDuration)), "rebuilt", rebuilt)
	return nil
}

// readTopicID returns the ID of the changelog topic the checkpoint refers to.
func (s *KeyValueStore) readTopicID() (kadm.TopicID, bool, error) {
	var id kadm.TopicID
	v, err := s.db.Get(metaTopicID, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("read topic id: %w", err)
	}
	if len(v) != len(id) {
		return id, false, fmt.Errorf("corrupt topic id in %s: %d bytes", s.dir, len(v))
	}
	copy(id[:], v)
	return id, true, nil
}

func (s *KeyValueStore) setStats(st Stats) {
	s.mu.Lock()
	s.mu.stats = st
	s.mu.Unlock()
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// consumeChangelog applies changelog records at offsets [from, highWatermark) to LevelDB in
// batches, each written together with the checkpoint of its last record, and returns how many
// records it applied. Position markers are read past, not applied.
func (s *KeyValueStore) consumeChangelog(ctx context.Context, from, highWatermark int64) (int64, error) {
	var (
		applied    int64
		batch      leveldb.Batch
		lastOffset = from - 1
	)
	// NB: progress counts changelog offsets, not records applied: markers, compacted gaps and
	// control batches take offsets too, and the total is only known in offsets.
	tracker := progress.NewTracker(highWatermark-from, s.opts.RestoreProgressInterval, func(p progress.Progress) {
		s.log.Info("restoring store from changelog", append([]any{"store", s.opts.Name, "partition", s.partition,
			"topic", s.topic, "records", applied, "offset", lastOffset, "high_watermark", highWatermark}, p.Attrs()...)...)
	})
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		putCheckpoint(&batch, lastOffset)
		if err := s.db.Write(&batch, nil); err != nil {
			return fmt.Errorf("write restored batch: %w", err)
		}
		batch.Reset()
		return nil
	}
	apply := func(r *kgo.Record) {
		lastOffset = r.Offset
		if isMarker(r) {
			return
		}
		if r.Value == nil {
			batch.Delete(dataKey(r.Key))
		} else {
			batch.Put(dataKey(r.Key), r.Value)
		}
		if s.index != nil {
			s.index(&batch, r.Key, r.Value == nil)
		}
		applied++
	}
	afterPoll := func() error {
		if batch.Len() >= s.opts.RestoreBatchRecords {
			if err := flush(); err != nil {
				return err
			}
		}
		done := lastOffset + 1 - from
		if s.opts.RestoreListener != nil {
			s.opts.RestoreListener(done, highWatermark-from)
		}
		tracker.Update(done)
		return nil
	}
	err := s.scanChangelog(ctx, from, highWatermark, 500*time.Millisecond, apply, afterPoll)
	if ferr := flush(); err == nil {
		err = ferr
	}
	return applied, err
}

// scanChangelog calls fn for each changelog record at offsets [from, to), in order.
// After each poll it calls afterPoll, if set; an error from it stops the scan. It fails when no
// record arrives for RestoreIdleTimeout.
func (s *KeyValueStore) scanChangelog(ctx context.Context, from, to int64, fetchMaxWait time.Duration,
	fn func(*kgo.Record), afterPoll func() error) error {
	if from >= to {
		return nil
	}
	opts := []kgo.Opt{}
	if seeds, ok := s.client.OptValue(kgo.SeedBrokers).([]string); ok {
		opts = append(opts, kgo.SeedBrokers(seeds...))
	}
	opts = append(opts, s.opts.RestoreOptions...)
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			s.topic: {s.partition: kgo.NewOffset().At(from)},
		}),
		kgo.FetchMaxWait(fetchMaxWait),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("changelog consumer: %w", err)
	}
	defer cl.Close()
	next := from
	lastRecord := time.Now()
	for next < to {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("fetch: %w", ferr)
		}
		got := false
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset < next || r.Offset >= to {
				return
			}
			got = true
			next = r.Offset + 1
			fn(r)
		})
		if afterPoll != nil {
			if err := afterPoll(); err != nil {
				return err
			}
		}
		if got {
			lastRecord = time.Now()
		} else if time.Since(lastRecord) > s.opts.RestoreIdleTimeout {
			return fmt.Errorf("no changelog record for %s at offset %d of high watermark %d", s.opts.RestoreIdleTimeout, next, to)
		}
	}
	return nil
}
