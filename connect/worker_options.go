package connect

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options tune a worker.
type Options struct {
	// Registry defaults to DefaultRegistry.
	Registry *Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// WorkerID is reported in statuses; RunStandalone sets it to the REST listener's host:port.
	WorkerID string
	// Loggers holds the per-component levels /admin/loggers reads and sets. If nil, RunStandalone
	// creates one at INFO and wraps Logger's handler with it; if set, Logger should already be built
	// on Loggers.Handler (and its inner handler accept every level, so DEBUG can be turned on).
	Loggers *Loggers
	// Dialer, if set, opens every connection to Kafka of every client the worker makes (see
	// Dialer); nil dials directly.
	Dialer Dialer
	// RESTRequestTimeout bounds how long a REST request waits for a worker still starting (its
	// herder, and for a write its first group join); 0 means DefaultRESTRequestTimeout.
	RESTRequestTimeout time.Duration
	// Metrics is where the worker registers its Prometheus metrics; nil means a fresh registry,
	// which the runner exposes (Runner.MetricsRegistry) and the REST listener serves on /metrics.
	Metrics prometheus.Registerer
}

// withLoggers fills in Logger and Loggers.
func (o Options) withLoggers() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Loggers == nil {
		// NB: start at the most verbose level the given handler keeps, so wrapping it changes
		// nothing until /admin/loggers is used (a handler at DEBUG keeps showing DEBUG).
		root := slog.LevelInfo
		for _, l := range []slog.Level{slog.LevelDebug - 4, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
			if o.Logger.Handler().Enabled(context.Background(), l) {
				root = l
				break
			}
		}
		o.Loggers = NewLoggers(root)
		o.Logger = slog.New(o.Loggers.Handler(o.Logger.Handler()))
	}
	return o
}
