// Package progress reports the progress of long work with a known (or estimated) total: how much
// is done, the percentage, the rate and the estimated time left, at most once per interval. It
// is the one helper behind the progress lines of offset resets, store restores and snapshots.
package progress

import (
	"fmt"
	"time"
)

// Progress is a snapshot of work in progress.
type Progress struct {
	// Done and Total are units of work (records, rows, partitions). Total is an estimate
	// when the work's size is not known exactly; 0 means unknown.
	Done, Total int64
	// Elapsed is the time since the work started.
	Elapsed time.Duration
}

// Compute returns the progress of done out of total units after elapsed.
func Compute(done, total int64, elapsed time.Duration) Progress {
	return Progress{Done: done, Total: total, Elapsed: elapsed}
}

// Percent is Done as a percentage of Total, capped at 100 (an estimated total can be
// exceeded); 0 when Total is unknown.
func (p Progress) Percent() float64 {
	if p.Total <= 0 {
		return 0
	}
	return min(100, 100*float64(p.Done)/float64(p.Total))
}

// Rate is the units done per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA is the estimated time left at the rate so far, rounded to a second when it is more
// than one; ok is false when it cannot be estimated (nothing done yet, or no total).
func (p Progress) ETA() (eta time.Duration, ok bool) {
	r := p.Rate()
	if p.Total <= 0 || r <= 0 {
		return 0, false
	}
	left := max(0, p.Total-p.Done)
	eta = time.Duration(float64(left) / r * float64(time.Second))
	if eta > time.Second {
		eta = eta.Round(time.Second)
	}
	return eta, true
}

// String is a human line: "1200/5000 (24.0%), 400/s, ETA 9s"; without a total, "1200, 400/s".
func (p Progress) String() string { return p.Format("") }

// Format is String with the unit of work after the counts: Format("rows") is
// "1200/5000 rows (24.0%), 400/s, ETA 9s".
func (p Progress) Format(unit string) string {
	if unit != "" {
		unit = " " + unit
	}
	if p.Total <= 0 {
		return fmt.Sprintf("%d%s, %.0f/s", p.Done, unit, p.Rate())
	}
	s := fmt.Sprintf("%d/%d%s (%.1f%%), %.0f/s", p.Done, p.Total, unit, p.Percent(), p.Rate())
	if eta, ok := p.ETA(); ok {
		s += ", ETA " + eta.String()
	}
	return s
}

// Attrs are slog key-value pairs: done, total, percent, rate_per_sec and eta (when known), for
// logger.Info(msg, append(attrs, p.Attrs()...)...).
func (p Progress) Attrs() []any {
	attrs := []any{"done", p.Done, "total", p.Total,
		"percent", float64(int(p.Percent()*10)) / 10, "rate_per_sec", int64(p.Rate())}
	if eta, ok := p.ETA(); ok {
		attrs = append(attrs, "eta", eta.String())
	}
	return attrs
}

// Tracker calls a report function with the work's progress at most once per interval. It is
// used by one goroutine (the one doing the work); Update is cheap enough to call per unit
// (a clock read), but callers on a per-record hot path call it per batch.
type Tracker struct {
	total    int64
	interval time.Duration
	report   func(Progress)
	now      func() time.Time
	start    time.Time
	last     time.Time
}

// NewTracker starts tracking work of total units (0 if unknown), reporting through report at
// most once per interval, the first time one interval after the start. An interval <= 0
// reports on every Update (tests use it to get progress lines deterministically).
func NewTracker(total int64, interval time.Duration, report func(Progress)) *Tracker {
	return newTracker(total, interval, report, time.Now)
}

func newTracker(total int64, interval time.Duration, report func(Progress), now func() time.Time) *Tracker {
	start := now()
	return &Tracker{total: total, interval: interval, report: report, now: now, start: start, last: start}
}

// SetTotal changes the total (an estimate revised as the work goes).
func (t *Tracker) SetTotal(total int64) { t.total = total }

// Update records that done units are done and reports the progress when an interval has
// passed since the last report; it returns whether it reported.
func (t *Tracker) Update(done int64) bool {
	now := t.now()
	if t.interval > 0 && now.Sub(t.last) < t.interval {
		return false
	}
	t.last = now
	t.report(Compute(done, t.total, now.Sub(t.start)))
	return true
}

// Progress returns the progress at done units now, without reporting.
func (t *Tracker) Progress(done int64) Progress {
	return Compute(done, t.total, t.now().Sub(t.start))
}
