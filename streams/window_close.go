package streams

// windowRule is the one answer, per window spec, to "when does this window close": the
// windowed aggregations drop a record for a window closed at the task's stream time, Suppress
// emits a window's final result when it closes, stream-stream joins emit a record without
// partner when its join window closes, and the spec's store keeps a window at least until
// then. Every one of them asks the spec through windowClosed; none computes it. The property test
// in window_close_test.go checks on random timelines that they agree.
type windowRule interface {
	// closeTime is the stream time from which the window ending at end (Windowed.End; for a
	// join, the record's timestamp + the window's look-ahead) is closed.
	closeTime(end int64) int64
	// retention is how long the spec's store keeps a window, in ms behind the latest time it
	// has seen (window start for window stores, session end for session stores).
	// NB: it must cover every window that is still open: TestWindowRetentionNeverDropsAnOpenWindow.
	retention() int64
}

// windowClosed reports whether the window ending at end is closed at streamTime. Before the first
// record (streamTime < 0) nothing is closed.
func windowClosed(r windowRule, end, streamTime int64) bool {
	return streamTime >= 0 && streamTime >= r.closeTime(end)
}

// A time window [start, end) closes when stream time reaches end + grace (Kafka's
// TimeWindows); its store keeps size + grace, Kafka's default.
func (w TimeWindows) closeTime(end int64) int64 { return end + w.grace }
func (w TimeWindows) retention() int64          { return w.size + w.grace }

// A sliding window [start, end] (end inclusive) closes when stream time passes end + grace.
// NB: its store keeps 3 time differences + grace: a record looks back at windows starting up
// to 2 differences before it, and a record within grace is up to grace + 1 difference behind
// stream time (Kafka keeps 2 differences + grace, in coarse segments).
func (w SlidingWindowSpec) closeTime(end int64) int64 { return end + w.grace + 1 }
func (w SlidingWindowSpec) retention() int64          { return 3*w.diff + w.grace + 1 }

// A session [start, end] closes when stream time passes end + gap + grace (Kafka 3.x): until
// then a record may extend it. Its store keeps gap + grace behind the latest session end.
func (w SessionWindowSpec) closeTime(end int64) int64 { return end + w.gap + w.grace + 1 }
func (w SessionWindowSpec) retention() int64          { return w.gap + w.grace }

// A record's join window [ts - before, ts + after] (for a right record: [ts - after,
// ts + before]) closes when stream time passes its end + grace: no partner can arrive any
// more. Each side's store keeps before + after + grace.
func (j JoinWindowSpec) closeTime(end int64) int64 { return end + j.grace + 1 }
func (j JoinWindowSpec) retention() int64          { return j.before + j.after + j.grace }
