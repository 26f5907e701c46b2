package controller

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/quorum"
	"github.com/gregor-streams/gregor/broker/server"
)

// MetadataTopic is the metadata partition's topic, __cluster_metadata (partition 0).
const MetadataTopic = "__cluster_metadata"

// DefaultRequestTimeout bounds how long the controller listener waits for a request's records to
// commit before answering REQUEST_TIMED_OUT.
const DefaultRequestTimeout = 30 * time.Second

// apiRange is one advertised API: the versions the handler implements.
type apiRange struct{ key, min, max int16 }

// served is exactly what the controller listener implements, advertised by ApiVersions.
var served = []apiRange{
	{key: 1, min: 12, max: 17}, // Fetch (__cluster_metadata-0, for broker-only nodes)
	{key: 18, min: 0, max: 4},  // ApiVersions
	{key: 19, min: 2, max: 7},  // CreateTopics
	{key: 20, min: 1, max: 6},  // DeleteTopics
	{key: 33, min: 0, max: 2},  // AlterConfigs
	{key: 37, min: 0, max: 3},  // CreatePartitions
	{key: 43, min: 0, max: 2},  // ElectLeaders
	{key: 44, min: 0, max: 1},  // IncrementalAlterConfigs
	{key: 45, min: 0, max: 1},  // AlterPartitionReassignments
	{key: 46, min: 0, max: 0},  // ListPartitionReassignments
	{key: 55, min: 0, max: 2},  // DescribeQuorum
	{key: 56, min: 0, max: 3},  // AlterPartition
	{key: 59, min: 0, max: 1},  // FetchSnapshot (__cluster_metadata-0)
	{key: 62, min: 0, max: 4},  // BrokerRegistration
	{key: 63, min: 0, max: 1},  // BrokerHeartbeat
	{key: 67, min: 0, max: 0},  // AllocateProducerIds
}

// HandlerConfig configures the controller listener's handler.
type HandlerConfig struct {
	// ListenerName is the controller listener's name (first of controller.listener.names), used in
	// DescribeQuorum's node endpoints. Default "CONTROLLER".
	ListenerName string
	// Voters are the quorum's voters (controller.quorum.voters), for DescribeQuorum's node endpoints.
	Voters []quorum.Voter
	// RequestTimeout bounds the wait for a commit (DefaultRequestTimeout if zero).
	RequestTimeout time.Duration
	// Logger (slog.Default if nil).
	Logger *slog.Logger
}

// Handler serves the Kafka-protocol APIs of a controller (a broker/server Handler): it translates
// requests to Node.Handle and Node.Status and back. It keeps nothing between requests.
type Handler struct {
	node   *Node
	cfg    HandlerConfig
	logger *slog.Logger

	mu struct {
		sync.Mutex
		// observers are the brokers fetching the metadata log from this node (DescribeQuorum's
		// Observers), by node.id.
		observers map[int32]observer
	}
}

// observer is a broker-only node following the metadata log: its fetch position (its log end
// offset, as Kafka reports an observer's) and when it last fetched.
type observer struct {
	logEndOffset int64
	lastFetch    time.Time
}

// observerTimeout forgets an observer that stopped fetching (Kafka's 5-minute observer session).
const observerTimeout = 5 * time.Minute

// NewHandler returns the controller listener's handler for node.
func NewHandler(node *Node, cfg HandlerConfig) *Handler {
	if cfg.ListenerName == "" {
		cfg.ListenerName = "CONTROLLER"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{node: node, cfg: cfg, logger: cfg.Logger.With("component", "controller-listener", "node", node.ID())}
	h.mu.observers = map[int32]observer{}
	return h
}

// Supported reports whether the controller listener implements key at version.
func (h *Handler) Supported(key, version int16) bool {
	for _, r := range served {
		if r.key == key {
			return version >= r.min && version <= r.max
		}
	}
	return false
}

// Handle answers one request.
func (h *Handler) Handle(c *server.Conn, req kmsg.Request) server.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return server.Response{Msg: apiVersions()}
	case *kmsg.DescribeQuorumRequest:
		return server.Response{Msg: h.describeQuorum(r)}
	case *kmsg.FetchRequest:
		return server.Response{Msg: h.fetchMetadata(r)}
	case *kmsg.FetchSnapshotRequest:
		return server.Response{Msg: h.fetchSnapshot(r)}
	}
	// NB: broker/server calls Handle on the connection's read loop, so the connection cannot go away
	// while it waits; the timeout and Node.Close bound the wait.
	ctx, cancel := context.WithTimeout(h.node.ctx, h.cfg.RequestTimeout)
	defer cancel()
	resp, err := h.node.Handle(ctx, req)
	if err == nil {
		return server.Response{Msg: resp}
	}
	code := kerr.UnknownServerError.Code
	switch {
	case errors.Is(err, ErrNotActive), errors.Is(err, ErrNodeClosed), errors.Is(err, context.Canceled):
		// context.Canceled: the runtime is closing.
		code = kerr.NotController.Code
	case errors.Is(err, context.DeadlineExceeded):
		code = kerr.RequestTimedOut.Code
	default:
		h.logger.Warn("controller request failed", "api_key", req.Key(), "err", err)
	}
	if msg := errorResponse(req, code); msg != nil {
		return server.Response{Msg: msg}
	}
	return server.Response{Close: true}
}

func apiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, r := range served {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = r.key, r.min, r.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

// describeQuorum answers DescribeQuorum in Kafka's shape. Kafka's non-leaders answer
// NOT_LEADER_OR_FOLLOWER; so does this one, with the leader and epoch it knows as the hint.
func (h *Handler) describeQuorum(req *kmsg.DescribeQuorumRequest) *kmsg.DescribeQuorumResponse {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	st := h.node.Status()
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			switch {
			case rt.Topic != MetadataTopic || rp.Partition != 0:
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p.LeaderID, p.LeaderEpoch, p.HighWatermark = st.LeaderID, int32(st.LeaderEpoch), st.HighWatermark
				if st.LeaderID != st.NodeID {
					p.ErrorCode = kerr.NotLeaderForPartition.Code
					break
				}
				for _, v := range st.Voters {
					rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
					rs.ReplicaID, rs.LogEndOffset = v.NodeID, v.LogEndOffset
					rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = millis(v.LastFetchTimestamp), millis(v.LastCaughtUpTimestamp)
					p.CurrentVoters = append(p.CurrentVoters, rs)
				}
				p.Observers = h.observerStates(p.HighWatermark)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	for _, v := range h.cfg.Voters {
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = v.ID
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = h.cfg.ListenerName, v.Host, uint16(v.Port)
		n.Listeners = append(n.Listeners, l)
		resp.Nodes = append(resp.Nodes, n)
	}
	return resp
}

// noteObserver records a metadata fetch by broker id at offset.
func (h *Handler) noteObserver(id int32, offset int64) {
	if id < 0 {
		return
	}
	for _, v := range h.cfg.Voters {
		if v.ID == id {
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.observers[id] = observer{logEndOffset: offset, lastFetch: time.Now()}
}

// observerStates lists the observers, by ID; one that fetched at the high watermark is caught up.
func (h *Handler) observerStates(highWatermark int64) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int32, 0, len(h.mu.observers))
	for id, o := range h.mu.observers {
		if time.Since(o.lastFetch) > observerTimeout {
			delete(h.mu.observers, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]kmsg.DescribeQuorumResponseTopicPartitionReplicaState, 0, len(ids))
	for _, id := range ids {
		o := h.mu.observers[id]
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset, rs.LastFetchTimestamp = id, o.logEndOffset, o.lastFetch.UnixMilli()
		rs.LastCaughtUpTimestamp = -1
		if o.logEndOffset >= highWatermark {
			rs.LastCaughtUpTimestamp = rs.LastFetchTimestamp
		}
		out = append(out, rs)
	}
	return out
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}
