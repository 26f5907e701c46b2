package connect

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Runner is a running standalone worker: herder plus REST server.
type Runner struct {
	Herder *Standalone
	Server *Server
	// Addr is the REST listener's bound host:port (also the worker ID).
	Addr string

	metrics prometheus.Registerer // Options.Metrics, or the registry made for the worker
}

// RunStandalone starts a standalone worker from worker properties: it checks that Kafka is reachable
// (reading the cluster ID for GET /), binds listeners, and serves. Connectors are then created through
// the herder or REST. Close stops it.
func RunStandalone(ctx context.Context, props map[string]string, opts Options) (*Runner, error) {
	cfg, err := ParseWorkerConfig(props)
	if err != nil {
		return nil, err
	}
	srv, addr, opts, err := startServer(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if opts.WorkerID == "" {
		opts.WorkerID = addr
	}
	h, err := NewStandalone(cfg, opts)
	if err != nil {
		srv.Close()
		return nil, err
	}
	srv.setHerder(h)
	registerStatus(opts.Metrics, h)
	return &Runner{Herder: h, Server: srv, Addr: addr, metrics: opts.Metrics}, nil
}

// Close stops the REST server, then every connector. Idempotent.
func (r *Runner) Close() error {
	err := r.Server.Close()
	if herr := r.Herder.Close(); err == nil {
		err = herr
	}
	return err
}

// startServer starts the REST server of a worker before its herder exists (it answers 503 until
// the herder is set): it reads the cluster ID for GET / and binds listeners. NB: the server comes
// first because the worker ID is the REST address. It returns opts with Logger and Loggers filled
// in, the server using them.
func startServer(ctx context.Context, cfg WorkerConfig, opts Options) (*Server, string, Options, error) {
	clusterID, err := fetchClusterID(ctx, cfg.BootstrapServers, opts.Dialer)
	if err != nil {
		return nil, "", opts, err
	}
	opts = opts.withLoggers().withMetrics()
	srv := newServer(nil, clusterID, opts.Logger, opts.Loggers)
	srv.metrics = metricsHandler(opts.Metrics)
	if opts.RESTRequestTimeout > 0 {
		srv.requestTimeout = opts.RESTRequestTimeout
	}
	addr, err := srv.Listen(cfg.Listeners)
	if err != nil {
		return nil, "", opts, err
	}
	return srv, addr, opts, nil
}

func fetchClusterID(ctx context.Context, seeds []string, dial Dialer) (string, error) {
	cl, err := kgo.NewClient(clientOpts(seeds, dial)...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("connect: reaching Kafka at %v: %w", seeds, err)
	}
	return md.Cluster, nil
}

// DistributedRunner is a running distributed worker: herder plus REST server.
type DistributedRunner struct {
	Herder *Distributed
	Server *Server
	// Addr is the REST listener's bound host:port; WorkerID is the advertised one.
	Addr, WorkerID string

	metrics prometheus.Registerer // Options.Metrics, or the registry made for the worker
}

// RunDistributed starts a distributed worker from worker properties (connect-distributed.sh): it
// binds listeners, creates the internal topics if missing, reads the config topic and joins the
// group.id group. Close stops it.
func RunDistributed(ctx context.Context, props map[string]string, opts Options) (*DistributedRunner, error) {
	cfg, err := ParseDistributedConfig(props)
	if err != nil {
		return nil, err
	}
	srv, addr, opts, err := startServer(ctx, cfg.WorkerConfig, opts)
	if err != nil {
		return nil, err
	}
	workerID := opts.WorkerID
	if workerID == "" {
		workerID = cfg.advertisedAddr(addr)
	}
	h, err := NewDistributed(ctx, cfg, workerID, opts)
	if err != nil {
		srv.Close()
		return nil, err
	}
	srv.setHerder(h)
	registerStatus(opts.Metrics, h)
	return &DistributedRunner{Herder: h, Server: srv, Addr: addr, WorkerID: workerID, metrics: opts.Metrics}, nil
}

// Close stops the REST server, then the herder (which leaves the group). Idempotent.
func (r *DistributedRunner) Close() error {
	err := r.Server.Close()
	if herr := r.Herder.Close(); err == nil {
		err = herr
	}
	return err
}

// Halt stops the worker as a crash would: REST goes away, the tasks flush and commit nothing more,
// every Kafka connection drops at once and the group is not told (see Distributed.Halt). A later
// Close does nothing more.
func (r *DistributedRunner) Halt() {
	r.Server.Close()
	r.Herder.Halt()
}
