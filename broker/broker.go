package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/fetchsession"
	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/metrics"
	"github.com/gregor-streams/gregor/broker/server"
	"github.com/gregor-streams/gregor/internal/dirlock"
)

var uuidEncoding = base64.RawURLEncoding

// Options are a Broker's non-config dependencies.
type Options struct {
	Logger *slog.Logger
	FS     log.FS // nil: the OS filesystem
	// DisableMetrics turns off request instrumentation (MetricsRegistry is then empty).
	DisableMetrics bool
}

// Broker is one Gregor broker node.
type Broker struct {
	cfg    *config.Broker
	logger *slog.Logger
	fs     log.FS
	// repeats logs failures that can repeat per request or per partition pass (rate-limited).
	repeats *repeatLog

	clusterID string
	srv       *server.Server
	addrs     []net.Addr
	advHost   string
	advPort   int32

	// mu guards the topic registry (the applied image's topics, registry_kraft.go) and this
	// broker's block of producer IDs (produceridblocks.go).
	mu              sync.RWMutex
	topics          map[string]*topic
	byID            map[[16]byte]*topic
	nextProducerID  int64
	producerIDLimit int64 // the end of the block the controller handed out

	// partitionLogger is the logger partitions derive theirs from (they name their own component).
	partitionLogger *slog.Logger

	// hwCheckpoints holds each log dir's replication-offset-checkpoint as last written.
	hwCheckpoints map[string][]byte

	// fetchWakeups counts long-polling fetches woken by a partition they read (for tests).
	fetchWakeups atomic.Int64

	groups *groupDriver
	// fetchSessions is the KIP-227 fetch session cache (fetch.go).
	fetchSessions *fetchsession.Cache
	// replicaWaits wakes replicas' fetches when this broker begins to lead a partition (replicawake.go).
	replicaWaits replicaWaits

	// metrics are this broker's Prometheus metrics (nil: off); metricsListener serves them.
	metrics         *metrics.Broker
	metricsListener *metrics.Listener

	// kraft is the node's cluster side (controller, metadata follower, lifecycle, applier); set by
	// Start, read-only after.
	kraft *kraftNode

	// legacyRegistry is a previous release's gregor-topics.json, to import on Start (nil: none).
	legacyRegistry *metaFile

	// dirLocks hold every log dir (Kafka's .lock) from New to Close: one process per directory.
	dirLocks []*dirlock.Lock

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens the broker's log dirs and partitions; Start begins serving.
func New(cfg *config.Broker, opts Options) (*Broker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FS == nil {
		opts.FS = log.OSFS()
	}
	logger := opts.Logger.With("component", "broker", "node_id", cfg.NodeID)
	b := &Broker{
		cfg:     cfg,
		logger:  logger,
		repeats: newRepeatLog(logger, repeatLogEvery, time.Now),
		fs:      opts.FS,
		topics:  map[string]*topic{},
		byID:    map[[16]byte]*topic{},
		stop:    make(chan struct{}),

		hwCheckpoints:   map[string][]byte{},
		partitionLogger: opts.Logger.With("node_id", cfg.NodeID),
	}
	b.fetchSessions = fetchsession.NewCache(fetchsession.Config{MaxSlots: cfg.MaxIncrementalFetchSessionCacheSlots,
		MinEviction: time.Duration(cfg.MinIncrementalFetchSessionEvictionMs) * time.Millisecond})
	if !opts.DisableMetrics {
		b.metrics = metrics.NewBroker(metricsSource{b})
		b.fs = b.metrics.TimeFsyncs(b.fs)
		b.metrics.Registry().MustRegister(b.fetchSessions.Collector())
	}
	// NB: the locks come first, before any file of a log dir is read or written: a second broker
	// on the same directories must fail here, not after it has opened (and recovered) the logs.
	for _, d := range cfg.LogDirs {
		l, err := dirlock.Acquire(d)
		if err != nil {
			b.releaseDirs()
			return nil, fmt.Errorf("log.dirs: %w", err)
		}
		b.dirLocks = append(b.dirLocks, l)
	}
	// NB: a KRaft node's identity comes from meta.properties (`gregor storage format`); a multi-node
	// config on an unformatted dir is refused here, before any log is opened.
	formattedID, err := cfg.CheckFormatted()
	if err != nil {
		b.releaseDirs()
		return nil, err
	}
	m, err := b.loadMeta()
	if err != nil {
		b.releaseDirs()
		return nil, err
	}
	// NB: a corrupt high-watermark checkpoint refuses the start (Kafka takes the log dir offline)
	// before any log is opened; the image applier reads it again as it opens the partitions.
	if _, err := b.readHighWatermarks(); err != nil {
		b.releaseDirs()
		return nil, err
	}
	if b.clusterID, err = b.formatSingleNode(formattedID, m.ClusterID); err != nil {
		b.releaseDirs()
		return nil, err
	}
	// NB: a previous release's registry is imported into the metadata log by Start
	// (importLegacyRegistry); its partitions are opened by the image applier like any other.
	if len(m.Topics) > 0 {
		b.legacyRegistry = m
	}
	if err := b.openGroupCoordinator(); err != nil {
		b.releaseDirs()
		return nil, err
	}
	return b, nil
}

// formatSingleNode returns the cluster ID of the node. A single combined node (the implicit one of a
// config without process.roles included) formats its storage dirs that have no meta.properties yet,
// keeping the cluster ID of formattedID, else of cluster.id, else of a previous release's registry
// (legacyID), else a new random one.
func (b *Broker) formatSingleNode(formattedID, legacyID string) (string, error) {
	if b.cfg.KRaft.MultiNode() {
		return formattedID, nil // NB: CheckFormatted refused an unformatted dir already
	}
	id := formattedID
	for _, c := range []string{b.cfg.ClusterID, legacyID} {
		if id == "" {
			id = c
		}
	}
	if id == "" {
		id = config.RandomClusterID()
	}
	dirs, err := b.cfg.FormatMissing(id)
	if err != nil {
		return "", fmt.Errorf("format the single node's storage: %w", err)
	}
	if len(dirs) > 0 {
		b.logger.Info("formatted storage for a single-node cluster", "cluster_id", id, "dirs", dirs)
	}
	return id, nil
}

// Start listens on every configured listener and starts the background loops.
func (b *Broker) Start(ctx context.Context) error {
	b.srv = server.New(server.Config{MaxRequestBytes: b.cfg.SocketRequestMaxBytes, Logger: b.logger,
		ConnectionsMaxIdle: time.Duration(b.cfg.ConnectionsMaxIdleMs) * time.Millisecond, RequestArrivalTimeout: time.Duration(b.cfg.RequestArrivalTimeoutMs) * time.Millisecond,
		MaxConnections: b.cfg.MaxConnections, MaxConnectionsPerIP: b.cfg.MaxConnectionsPerIP, MaxConnectionsPerIPOverrides: b.cfg.MaxConnectionsPerIPOverrides,
		Observer: b.requestObserver()}, b)
	// Bind every listener before serving any: the advertised address (which may use a bound port
	// 0) must be fixed before the first Metadata request can read it.
	var lns []net.Listener
	var lc net.ListenConfig
	listeners := b.clientListeners()
	for _, l := range listeners {
		ln, err := lc.Listen(ctx, "tcp", l.Addr())
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return fmt.Errorf("listeners %s: %w", l, err)
		}
		lns = append(lns, ln)
		b.addrs = append(b.addrs, ln.Addr())
	}
	b.advHost, b.advPort = b.advertised()
	if err := b.startMetricsListener(ctx); err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	// NB: the cluster side starts before the first request is served: handlers read b.kraft
	// without a lock. Clients that connect meanwhile wait in the listeners' backlog.
	if b.cfg.KRaft.Enabled() {
		if err := b.startKRaft(ctx, b.advertisedEndPoints()); err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			if b.metricsListener != nil {
				b.metricsListener.Close()
			}
			b.srv.Close()
			return err
		}
	}
	b.wg.Add(5)
	go b.highWatermarkCheckpointLoop()
	go b.groups.run()
	go b.retentionLoop()
	go b.flushLoop()
	go b.cleanerLoop()
	if !b.cfg.KRaft.MultiNode() {
		// NB: a single node serves groups from its first request, as before it was a quorum
		// (a node of several creates __consumer_offsets on the first FindCoordinator, as Kafka).
		if err := b.prepareGroupCoordinators(ctx); err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return err // NB: the caller's Close stops the loops and the cluster side
		}
	}
	for i, ln := range lns {
		b.srv.Serve(ln)
		b.logger.Info("listening", "listener", listeners[i].Name, "addr", ln.Addr().String(), "advertised", net.JoinHostPort(b.advHost, strconv.Itoa(int(b.advPort))))
	}
	return nil
}

// advertised picks the host:port clients are told to use: advertised.listeners, else the first
// listener with its bound port (so port 0 works), with a wildcard host replaced by the hostname.
func (b *Broker) advertised() (string, int32) {
	if len(b.cfg.AdvertisedListeners) > 0 {
		l := b.cfg.AdvertisedListeners[0]
		return l.Host, int32(l.Port)
	}
	host := b.clientListeners()[0].Host
	port := 0
	if ta, ok := b.addrs[0].(*net.TCPAddr); ok {
		port = ta.Port
	}
	return advertisedHost(host), int32(port)
}

// advertisedHost replaces a wildcard listener host with the machine's hostname (127.0.0.1 if it has
// none), for what the broker tells clients and the controller.
func advertisedHost(host string) string {
	if host != "" && host != "0.0.0.0" && host != "::" {
		return host
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "127.0.0.1"
}

// Addr returns the first listener's bound address (host:port).
func (b *Broker) Addr() string {
	if len(b.addrs) == 0 {
		return ""
	}
	return b.addrs[0].String()
}

// ClusterID returns the cluster's ID.
func (b *Broker) ClusterID() string { return b.clusterID }

// Close stops serving, then flushes and closes every log. Idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		// NB: leadership moves away while this broker still serves: its followers catch up first. A
		// single node has no other replica to move it to: it stops its controller with it, and
		// marking every partition leaderless first would only cost time (seconds for thousands).
		if b.cfg.KRaft.MultiNode() {
			if err := b.kraft.controlledShutdown(time.Duration(b.cfg.KRaft.BrokerSessionTimeoutMs) * time.Millisecond); err != nil {
				b.logger.Warn("controlled shutdown did not complete; stopping anyway", "err", err)
			}
		}
		close(b.stop)
		if b.srv != nil {
			b.srv.Close()
		}
		b.metricsListener.Close()
		b.wg.Wait()
		// NB: after the server and the loops stopped, so the high watermarks are final.
		if err := b.checkpointHighWatermarks(); err != nil && b.closeErr == nil {
			b.closeErr = err
		}
		if err := b.kraft.close(); err != nil && b.closeErr == nil {
			b.closeErr = err
		}
		if b.closeErr == nil {
			b.closeErr = b.writeCleanShutdown()
		}
		b.releaseDirs()
		b.logger.Info("broker stopped")
	})
	return b.closeErr
}

// closeParallelism bounds the partitions closed at once. Closing a partition may fsync its
// segment, producer snapshot and epoch checkpoint; the disk absorbs many at once faster than one
// after another (2,000 partitions once took 16 s serially; see TestCleanStopWith5000Partitions...).
const closeParallelism = 64

// closePartitions closes the logs of parts, up to closeParallelism at a time.
func closePartitions(parts []*partition) error {
	work := make(chan *partition)
	errs := make([]error, closeParallelism)
	var wg sync.WaitGroup
	for w := range min(closeParallelism, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := p.log.Close(); err != nil {
					errs[w] = errors.Join(errs[w], fmt.Errorf("close %s-%d: %w", p.topic.name, p.index, err))
				}
			}
		}()
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// releaseDirs gives up the log dirs' locks, last of all: after every log file is closed.
func (b *Broker) releaseDirs() {
	for _, l := range b.dirLocks {
		if err := l.Release(); err != nil {
			b.logger.Warn("releasing log dir lock failed", "dir", l.Dir(), "err", err)
		}
	}
	b.dirLocks = nil
}

func (b *Broker) retentionLoop() {
	defer b.wg.Done()
	every := time.Duration(b.cfg.LogRetentionCheckInterval) * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		for _, p := range b.servedPartitions() {
			n, err := p.log.EnforceRetention()
			if err != nil && !errors.Is(err, log.ErrClosed) {
				b.repeats.Warn("retention failed", "topic", p.topic.name, "partition", p.index, "err", err)
			} else if n > 0 {
				b.logger.Info("retention deleted segments", "topic", p.topic.name, "partition", p.index, "segments", n, "log_start_offset", p.log.LogStartOffset())
			}
		}
	}
}

// flushLoop fsyncs partitions whose flush.ms is finite, once per flush.ms.
func (b *Broker) flushLoop() {
	defer b.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := map[*log.Log]time.Time{}
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			for _, p := range b.servedPartitions() {
				ms := p.log.Config().FlushMs
				if ms <= 0 || ms == math.MaxInt64 {
					continue
				}
				if now.Sub(last[p.log]) >= time.Duration(ms)*time.Millisecond {
					last[p.log] = now
					if err := p.log.Flush(); err != nil && !errors.Is(err, log.ErrClosed) {
						b.repeats.Warn("flush failed", "topic", p.topic.name, "partition", p.index, "err", err)
					}
				}
			}
		}
	}
}

// lookup finds a partition by topic name.
func (b *Broker) lookup(name string, p int32) (*topic, *partition) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[name]
	if t == nil {
		return nil, nil
	}
	if p < 0 || int(p) >= len(t.partitions) {
		return t, nil
	}
	return t, t.partitions[p]
}

// topicByNameOrID finds a topic by ID (requests at versions that carry topic IDs) or by name.
func (b *Broker) topicByNameOrID(byID bool, name string, id [16]byte) *topic {
	if byID {
		return b.topicByID(id)
	}
	t, _ := b.lookup(name, 0)
	return t
}

func (b *Broker) topicByID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byID[id]
}

func (b *Broker) sortedTopicNames() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	names := make([]string, 0, len(b.topics))
	for n := range b.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (b *Broker) nodeIDString() string { return strconv.Itoa(int(b.cfg.NodeID)) }
