package connect

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// RootLogger is the name of the root logger, as in Kafka's /admin/loggers.
const RootLogger = "root"

// Log levels by Kafka's (log4j's) names. TRACE is below slog's Debug, FATAL above Error.
var logLevelNames = []struct {
	name  string
	level slog.Level
}{
	{"OFF", slog.Level(math.MaxInt32)},
	{"FATAL", slog.LevelError + 4},
	{"ERROR", slog.LevelError},
	{"WARN", slog.LevelWarn},
	{"INFO", slog.LevelInfo},
	{"DEBUG", slog.LevelDebug},
	{"TRACE", slog.LevelDebug - 4},
	{"ALL", slog.Level(math.MinInt32)},
}

// ParseLogLevel parses a log4j level name (case-insensitive).
func ParseLogLevel(name string) (slog.Level, bool) {
	for _, l := range logLevelNames {
		if strings.EqualFold(strings.TrimSpace(name), l.name) {
			return l.level, true
		}
	}
	return 0, false
}

// LogLevelName returns the log4j name of a level (the nearest one at or below it).
func LogLevelName(level slog.Level) string {
	for _, l := range logLevelNames {
		if level >= l.level {
			return l.name
		}
	}
	return "ALL"
}

// LoggerLevel is one entry of GET /admin/loggers: the level and when it was last set through the
// API (Unix milliseconds; nil if never).
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// Loggers holds a level per named logger and filters slog records by them, which is what
// /admin/loggers reads and changes. A logger is a component: the "component" attribute of a
// slog.Logger (connect, connect.rest, ...); names are hierarchical on ".", as in log4j, so setting
// "connect" also sets "connect.rest". A logger first seen takes its nearest ancestor's level (root's
// if none). Levels are not persisted across restarts, as in Kafka. Loggers is goroutine-safe.
type Loggers struct {
	now func() time.Time
	mu  struct {
		sync.Mutex
		byName map[string]*loggerEntry
	}
}

type loggerEntry struct {
	level        slog.LevelVar // read without Loggers.mu on every log call
	lastModified *int64        // guarded by Loggers.mu
}

// NewLoggers returns loggers whose root level is root.
func NewLoggers(root slog.Level) *Loggers {
	l := &Loggers{now: time.Now}
	l.mu.byName = map[string]*loggerEntry{}
	e := &loggerEntry{}
	e.level.Set(root)
	l.mu.byName[RootLogger] = e
	return l
}

// entry returns the named logger, creating it with its nearest ancestor's level.
func (l *Loggers) entry(name string) *loggerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entryLocked(name)
}

func (l *Loggers) entryLocked(name string) *loggerEntry {
	if e, ok := l.mu.byName[name]; ok {
		return e
	}
	e := &loggerEntry{}
	e.level.Set(l.mu.byName[l.ancestorLocked(name)].level.Level())
	l.mu.byName[name] = e
	return e
}

// ancestorLocked returns the nearest existing ancestor of name (root if none).
func (l *Loggers) ancestorLocked(name string) string {
	for {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			return RootLogger
		}
		name = name[:i]
		if _, ok := l.mu.byName[name]; ok {
			return name
		}
	}
}

// Level returns the named logger's level (its nearest ancestor's if it was never seen).
func (l *Loggers) Level(name string) slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.mu.byName[name]; ok {
		return e.level.Level()
	}
	return l.mu.byName[l.ancestorLocked(name)].level.Level()
}

// All returns every known logger (root included) with its level.
func (l *Loggers) All() map[string]LoggerLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]LoggerLevel, len(l.mu.byName))
	for n, e := range l.mu.byName {
		out[n] = LoggerLevel{Level: LogLevelName(e.level.Level()), LastModified: e.lastModified}
	}
	return out
}

// Get returns one known logger's level.
func (l *Loggers) Get(name string) (LoggerLevel, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.mu.byName[name]
	if !ok {
		return LoggerLevel{}, false
	}
	return LoggerLevel{Level: LogLevelName(e.level.Level()), LastModified: e.lastModified}, true
}

// Set sets the level of the named logger and of every logger below it (every logger, for root),
// creating the named one if needed, and returns the names of the loggers it changed, sorted.
func (l *Loggers) Set(name string, level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entryLocked(name)
	now := l.now().UnixMilli()
	var affected []string
	for n, e := range l.mu.byName {
		if name == RootLogger || n == name || strings.HasPrefix(n, name+".") {
			e.level.Set(level)
			e.lastModified = &now
			affected = append(affected, n)
		}
	}
	sort.Strings(affected)
	return affected
}

// Handler wraps inner so that records are kept only at or above their component's level. inner
// should accept every level the loggers may be set to (e.g. its own level at TRACE).
func (l *Loggers) Handler(inner slog.Handler) slog.Handler {
	return &levelHandler{inner: inner, loggers: l, entry: l.entry(RootLogger)}
}

// levelHandler filters by the level of the component its attributes name.
type levelHandler struct {
	inner   slog.Handler
	loggers *Loggers
	entry   *loggerEntry
}

func (h *levelHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.entry.level.Level()
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := &levelHandler{inner: h.inner.WithAttrs(attrs), loggers: h.loggers, entry: h.entry}
	for _, a := range attrs {
		if a.Key == "component" {
			out.entry = h.loggers.entry(a.Value.String())
		}
	}
	return out
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{inner: h.inner.WithGroup(name), loggers: h.loggers, entry: h.entry}
}
