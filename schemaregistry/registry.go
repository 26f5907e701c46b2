package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a registry instance. Names follow Confluent's properties where one exists
// (kafkastore.topic, schema.registry.group.id, listeners, host.name).
type Config struct {
	// BootstrapServers are the Kafka brokers (kafkastore.bootstrap.servers).
	BootstrapServers []string
	// Listen is the HTTP address (host:port) to serve on; ":0" picks a free port.
	Listen string
	// AdvertisedURL is the URL other instances forward writes to; default http://<listen address>.
	AdvertisedURL string
	// Topic is the schemas topic (kafkastore.topic); default "_schemas".
	Topic string
	// GroupID is the group the instances elect their primary in (schema.registry.group.id);
	// default "schema-registry".
	GroupID string
	// LeaderEligible says whether this instance may become primary (leader.eligibility); default true
	// unless NotLeaderEligible is set.
	NotLeaderEligible bool
	// MaxBodyBytes bounds a request body; default 16 MiB.
	MaxBodyBytes int64
	// InitTimeout bounds reading the topic at start (kafkastore.init.timeout.ms); default 60s.
	InitTimeout time.Duration
	// Logger receives the registry's logs; default slog.Default().
	Logger *slog.Logger
	// ClientOptions are extra franz-go options (TLS, SASL) for the registry's Kafka clients.
	ClientOptions []kgo.Opt
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = "_schemas"
	}
	if c.GroupID == "" {
		c.GroupID = "schema-registry"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Logger = c.Logger.With("component", "schema-registry")
}

// Server is a running registry instance: its HTTP listener, its reader of the schemas topic and its
// membership in the primary election.
type Server struct {
	cfg      Config
	state    *state
	store    *kafkaStore
	elector  *elector
	listener net.Listener
	http     *http.Server
	url      string
	// writeMu serialises the primary's writes: each decides from a caught-up state and waits until
	// its records are applied before the next one decides.
	writeMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
	serveDone chan struct{}
}

// Start starts an instance: it reads the schemas topic to its end, then serves HTTP and joins the
// election. Close stops it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if len(cfg.BootstrapServers) == 0 {
		return nil, errors.New("schema registry: no bootstrap servers")
	}
	st := newState()
	store, err := newKafkaStore(ctx, &cfg, st)
	if err != nil {
		return nil, err
	}
	initCtx, cancel := context.WithTimeout(ctx, cfg.InitTimeout)
	defer cancel()
	// NB: a topic just created may not be in every broker's metadata yet: retry until the timeout.
	for {
		err = store.catchUp(initCtx)
		if err == nil || initCtx.Err() != nil {
			break
		}
		select {
		case <-initCtx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		store.close()
		return nil, fmt.Errorf("schema registry: reading %s at start: %w", cfg.Topic, err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		store.close()
		return nil, fmt.Errorf("schema registry: listen %s: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, state: st, store: store, listener: ln, serveDone: make(chan struct{})}
	s.url = cfg.AdvertisedURL
	if s.url == "" {
		s.url = "http://" + ln.Addr().String()
	}
	s.elector, err = startElector(&cfg, s.url)
	if err != nil {
		ln.Close()
		store.close()
		return nil, err
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.serveDone)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("schema registry http server stopped", "err", err)
		}
	}()
	cfg.Logger.Info("schema registry serving", "url", s.url, "topic", cfg.Topic)
	return s, nil
}

// URL is the instance's advertised URL.
func (s *Server) URL() string { return s.url }

// Addr is the address the HTTP listener is bound to.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// IsPrimary says whether this instance is the elected primary now.
func (s *Server) IsPrimary() bool {
	_, self, ok := s.elector.primary()
	return ok && self
}

// Close stops serving, leaves the election and closes the Kafka clients. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.http.Shutdown(ctx)
		<-s.serveDone
		s.elector.close()
		s.store.close()
	})
	return s.closeErr
}
