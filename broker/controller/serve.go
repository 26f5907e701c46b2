package controller

import (
	"errors"
	"log/slog"
	"net"

	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/broker/server"
)

// ServerConfig configures a controller: its quorum voter, its decision logic and its listener.
type ServerConfig struct {
	// Listener is the bound controller listener (controller.listener.names); the Server owns it.
	Listener net.Listener
	// ListenerName is the controller listener's name (default "CONTROLLER").
	ListenerName string
	// Quorum configures the voter; its Listener field is ignored (the Server's mux provides it) and its
	// Logger defaults to Logger.
	Quorum quorum.Config
	// Node configures the runtime; its Quorum field is ignored.
	Node NodeConfig
	// MaxRequestBytes is socket.request.max.bytes on the controller listener (broker/server's default
	// if zero).
	MaxRequestBytes int
	// Logger (slog.Default if nil).
	Logger *slog.Logger
}

// Server is a running controller: the quorum voter, the controller runtime on it, and the controller
// listener serving both the quorum's peers and the Kafka-protocol controller APIs.
type Server struct {
	mux    *Mux
	quorum *quorum.Node
	node   *Node
	kafka  *server.Server
}

// StartServer starts a controller. On error everything started is stopped and the listener closed.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.Listener == nil {
		return nil, errors.New("controller: ServerConfig.Listener is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{mux: NewMux(cfg.Listener)}
	qc := cfg.Quorum
	qc.Listener = s.mux.Quorum()
	if qc.Logger == nil {
		qc.Logger = cfg.Logger
	}
	q, err := quorum.Start(qc)
	if err != nil {
		s.mux.Close()
		return nil, err
	}
	s.quorum = q
	nc := cfg.Node
	nc.Quorum = q
	if nc.Logger == nil {
		nc.Logger = cfg.Logger
	}
	if s.node, err = StartNode(nc); err != nil {
		q.Close()
		s.mux.Close()
		return nil, err
	}
	h := NewHandler(s.node, HandlerConfig{ListenerName: cfg.ListenerName, Voters: qc.Voters, Logger: cfg.Logger})
	s.kafka = server.New(server.Config{MaxRequestBytes: cfg.MaxRequestBytes, Logger: cfg.Logger}, h)
	s.kafka.Serve(s.mux.Kafka())
	return s, nil
}

// Node is the controller runtime.
func (s *Server) Node() *Node { return s.node }

// Quorum is the quorum voter (a combined node's metadata follower reads it).
func (s *Server) Quorum() *quorum.Node { return s.quorum }

// Addr is the controller listener's address.
func (s *Server) Addr() net.Addr { return s.mux.Addr() }

// Close stops the runtime first (requests waiting for a commit are answered NOT_CONTROLLER), then the
// controller listener's connections, the quorum voter and the listener. Idempotent.
func (s *Server) Close() error {
	err := errors.Join(s.node.Close(), s.kafka.Close(), s.quorum.Close())
	return errors.Join(err, s.mux.Close())
}
