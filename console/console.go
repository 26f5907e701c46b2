package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed assets
var assetsFS embed.FS

// Options configure a console Server.
type Options struct {
	// BootstrapServers are the Kafka bootstrap addresses (host:port). Required.
	BootstrapServers []string
	// ConnectURL is Kafka Connect's REST base URL (http://host:port); empty means no Connect, and
	// the connectors section says so.
	ConnectURL string
	// Metrics, if set, serves /metrics on the console's mux (a Prometheus handler).
	Metrics http.Handler
	// SampleInterval is how often end offsets and group lag are sampled for the sparklines and
	// lag charts; 0 means 5s.
	SampleInterval time.Duration
	// SampleCount is how many samples each ring buffer keeps; 0 means 120.
	SampleCount int
	// RequestTimeout bounds each Kafka or Connect call an API request makes; 0 means 10s.
	RequestTimeout time.Duration
	// Logger receives the console's log lines; nil means slog.Default().
	Logger *slog.Logger
	// ClientOpts are extra kgo options (TLS, SASL) for every Kafka client the console creates.
	ClientOpts []kgo.Opt
}

// Server is a running console: its Kafka client, sampler and streams-apps reader. Handler serves
// it; Close stops it. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	client  *kgo.Client
	adm     *kadm.Client
	http    *http.Client
	sampler *sampler
	apps    *appsReader
	mux     *http.ServeMux

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	srv    *http.Server
}

// New creates a console against opts.BootstrapServers and starts its background sampling. It does
// not wait for the cluster to answer: the API reports an unreachable cluster per request.
func New(opts Options) (*Server, error) {
	if len(opts.BootstrapServers) == 0 {
		return nil, errors.New("console: no bootstrap servers")
	}
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = 5 * time.Second
	}
	if opts.SampleCount <= 0 {
		opts.SampleCount = 120
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.ConnectURL = strings.TrimRight(opts.ConnectURL, "/")
	client, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(opts.BootstrapServers...),
		kgo.ClientID("gregor-console"),
		// NB: short metadata age so a restarted or reshaped cluster is seen within seconds.
		kgo.MetadataMaxAge(10 * time.Second),
		// NB: kgo answers metadata requests from a cache younger than MetadataMinAge (5s by
		// default): a topic created a moment ago would be missing from the topics page.
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryTimeout(opts.RequestTimeout),
		kgo.RecordPartitioner(partitioner()),
	}, opts.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("console: kafka client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("component", "console"),
		client:  client,
		adm:     kadm.NewClient(client),
		http:    &http.Client{Timeout: opts.RequestTimeout},
		sampler: newSampler(opts.SampleCount),
		cancel:  cancel,
	}
	s.apps = newAppsReader(s)
	s.mux = s.routes()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.sampleLoop(ctx) }()
	go func() { defer s.wg.Done(); s.apps.run(ctx) }()
	return s, nil
}

// Handler is the console's HTTP handler: the UI at /, the JSON API under /api/, /metrics if
// Options.Metrics is set.
func (s *Server) Handler() http.Handler { return s.mux }

// Start listens on addr (host:port) and serves in the background; it returns the bound address.
func (s *Server) Start(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("console: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("console server stopped", "err", err)
		}
	}()
	return l.Addr().String(), nil
}

// Close stops serving, sampling and reading, and closes the Kafka client. Idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.srv.Shutdown(ctx)
			cancel()
		}
		s.cancel()
		s.wg.Wait()
		s.client.Close()
	})
	return nil
}

// routes builds the mux: assets, the API, /metrics.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(assetsFS, "assets") // NB: cannot fail, "assets" is embedded above.
	mux.Handle("/", http.FileServerFS(sub))
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}
	mux.HandleFunc("GET /api/overview", s.api(s.overview))
	mux.HandleFunc("GET /api/brokers", s.api(s.brokers))
	mux.HandleFunc("GET /api/topics", s.api(s.listTopics))
	mux.HandleFunc("POST /api/topics", s.api(s.createTopic))
	mux.HandleFunc("GET /api/topics/{topic}", s.api(s.describeTopic))
	mux.HandleFunc("DELETE /api/topics/{topic}", s.api(s.deleteTopic))
	mux.HandleFunc("PUT /api/topics/{topic}/configs", s.api(s.alterTopicConfigs))
	mux.HandleFunc("GET /api/topics/{topic}/messages", s.api(s.browseMessages))
	mux.HandleFunc("POST /api/topics/{topic}/messages", s.api(s.produceMessage))
	mux.HandleFunc("GET /api/groups", s.api(s.listGroups))
	mux.HandleFunc("GET /api/groups/{group}", s.api(s.describeGroup))
	mux.HandleFunc("POST /api/groups/{group}/reset-offsets", s.api(s.resetOffsets))
	mux.HandleFunc("GET /api/connectors", s.api(s.listConnectors))
	mux.HandleFunc("POST /api/connectors", s.api(s.createConnector))
	mux.HandleFunc("GET /api/connectors/{name}", s.api(s.describeConnector))
	mux.HandleFunc("DELETE /api/connectors/{name}", s.api(s.deleteConnector))
	mux.HandleFunc("PUT /api/connectors/{name}/config", s.api(s.putConnectorConfig))
	mux.HandleFunc("POST /api/connectors/{name}/{action}", s.api(s.connectorAction))
	mux.HandleFunc("GET /api/streams", s.api(s.listStreamsApps))
	mux.HandleFunc("GET /api/streams/{app}", s.api(s.describeStreamsApp))
	mux.HandleFunc("/api/", s.api(func(*http.Request) (any, error) {
		return nil, errNotFound("no such API endpoint")
	}))
	return mux
}
