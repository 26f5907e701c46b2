package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// repeatLogEvery is how often a failure that keeps repeating is logged.
const repeatLogEvery = 10 * time.Second

// repeatLog rate-limits log lines that a failure repeats (a full disk failing every request, a
// partition failing every retention pass): the first line of a kind is written at once, later
// ones at most once per interval, carrying how many were left out since ("repeated"). A kind is
// the line's message, so messages must be constants. Safe for concurrent use.
type repeatLog struct {
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time
	mu     struct {
		sync.Mutex
		kinds map[string]*repeatKind
	}
}

type repeatKind struct {
	next    time.Time // when the next line of this kind may be written
	skipped int       // lines left out since the last one written
}

func newRepeatLog(logger *slog.Logger, every time.Duration, now func() time.Time) *repeatLog {
	r := &repeatLog{logger: logger, every: every, now: now}
	r.mu.kinds = map[string]*repeatKind{}
	return r
}

// Error logs msg at error level, unless a line of the same msg was written within the interval.
func (r *repeatLog) Error(msg string, args ...any) { r.write(slog.LevelError, msg, args) }

// Warn logs msg at warning level, unless a line of the same msg was written within the interval.
func (r *repeatLog) Warn(msg string, args ...any) { r.write(slog.LevelWarn, msg, args) }

func (r *repeatLog) write(level slog.Level, msg string, args []any) {
	now := r.now()
	r.mu.Lock()
	k := r.mu.kinds[msg]
	if k == nil {
		k = &repeatKind{}
		r.mu.kinds[msg] = k
	}
	if now.Before(k.next) {
		k.skipped++
		r.mu.Unlock()
		return
	}
	skipped := k.skipped
	k.skipped, k.next = 0, now.Add(r.every)
	r.mu.Unlock()
	if skipped > 0 {
		args = append(args, "repeated", skipped)
	}
	r.logger.Log(context.Background(), level, msg, args...)
}
