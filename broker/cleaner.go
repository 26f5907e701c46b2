package broker

import (
	"errors"
	"sort"
	"time"

	"github.com/gregor-streams/gregor/broker/log"
)

// cleanerLoop is the broker's log cleaner (log.cleaner.enable): one goroutine that, every
// log.cleaner.backoff.ms, compacts the partitions whose cleanup.policy has compact, dirtiest
// first and one at a time. Each log decides whether it is due (min.cleanable.dirty.ratio,
// max.compaction.lag.ms, expired tombstones); see log.Log.Clean.
func (b *Broker) cleanerLoop() {
	defer b.wg.Done()
	if !b.cfg.LogCleanerEnable {
		return
	}
	every := time.Duration(max(b.cfg.LogCleanerBackoffMs, 1)) * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.cleanOnce()
	}
}

// cleanOnce runs one cleaner round over every compacted partition.
func (b *Broker) cleanOnce() {
	type candidate struct {
		p     *partition
		ratio float64
	}
	var cands []candidate
	for _, p := range b.servedPartitions() {
		if p.log.Config().Compact {
			cands = append(cands, candidate{p, p.log.DirtyRatio()})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].ratio > cands[j].ratio })
	for _, c := range cands {
		select {
		case <-b.stop:
			return
		default:
		}
		st, err := c.p.log.Clean(time.Now())
		switch {
		case errors.Is(err, log.ErrClosed):
		case err != nil:
			b.repeats.Warn("log cleaning failed", "topic", c.p.topic.name, "partition", c.p.index, "err", err)
		case st.Cleaned:
			b.logger.Info("cleaned log", "topic", c.p.topic.name, "partition", c.p.index,
				"segments_read", st.SegmentsRead, "segments_written", st.SegmentsWritten,
				"records_read", st.RecordsRead, "records_retained", st.RecordsRetained,
				"tombstones_dropped", st.TombstonesDropped, "bytes_read", st.BytesRead,
				"bytes_written", st.BytesWritten, "first_dirty_offset", st.EndOffset,
				"took", st.Duration.Round(time.Millisecond))
		}
	}
}
