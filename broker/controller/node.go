package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// Runtime defaults.
const (
	// DefaultTickInterval is how often the active controller runs Tick (session expiry, leader
	// rebalance). Kafka checks broker sessions on a similar sub-second period.
	DefaultTickInterval = 250 * time.Millisecond
	// DefaultProposeTimeout bounds one Propose: a batch not committed by then is treated as lost (the
	// controller resigns and re-activates).
	DefaultProposeTimeout = 30 * time.Second
	// maxMergedBatchBytes bounds the records the proposer merges into one Propose (quorum allows 8 MiB).
	maxMergedBatchBytes = 4 << 20
)

// NodeConfig configures a controller Node.
type NodeConfig struct {
	// Controller is the decision logic's configuration.
	Controller Config
	// Quorum is the started metadata quorum voter the controller runs on. The Node drains its
	// Committed channel (nobody else may) and does not close it: the caller closes the quorum after
	// the Node (closing the quorum first also stops the Node).
	Quorum *quorum.Node
	// TickInterval is how often Tick runs (DefaultTickInterval if zero).
	TickInterval time.Duration
	// ProposeTimeout bounds one Propose (DefaultProposeTimeout if zero).
	ProposeTimeout time.Duration
	// Logger receives the runtime's log lines (slog.Default if nil).
	Logger *slog.Logger
}

// NotControllerError is returned by Node.Handle when this node is not the active controller. Kafka's
// answer is NOT_CONTROLLER; LeaderID is the quorum leader this node knows of (quorum.NoLeader if none),
// the hint a client follows. errors.Is(err, ErrNotActive) holds.
type NotControllerError struct {
	LeaderID int32
	// Cause, if set, is why a request accepted earlier did not commit.
	Cause error
}

func (e *NotControllerError) Error() string {
	msg := "controller: not the active controller"
	if e.LeaderID != quorum.NoLeader {
		msg = fmt.Sprintf("%s (the quorum leader is node %d)", msg, e.LeaderID)
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrNotActive) true.
func (e *NotControllerError) Is(target error) bool { return target == ErrNotActive }

// Unwrap returns the cause.
func (e *NotControllerError) Unwrap() error { return e.Cause }

// ErrNodeClosed is returned by Handle on a closed Node (or one whose quorum stopped).
var ErrNodeClosed = errors.New("controller: node closed")

// Node runs a Controller on a quorum voter: the controller runtime. See the package doc (Runtime) for
// its goroutines. Its methods are safe for concurrent use.
type Node struct {
	cfg    NodeConfig
	q      *quorum.Node
	id     int32
	logger *slog.Logger

	calls  chan call
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the owner goroutine has returned
	wg     sync.WaitGroup
	once   sync.Once

	prop proposer

	mu struct {
		sync.Mutex
		active    bool
		committed *metadata.Image
	}
}

type call struct {
	req   kmsg.Request
	reply chan callResult
	// decide, if set, decides the call instead of Controller.Handle(req) (ImportTopics).
	decide func(*Controller, time.Time) (Result, error)
}

type callResult struct {
	resp kmsg.Response
	err  error
}

// StartNode starts the controller runtime on cfg.Quorum, at the empty image (the quorum delivers its
// newest snapshot first).
func StartNode(cfg NodeConfig) (*Node, error) {
	if cfg.Quorum == nil {
		return nil, errors.New("controller: NodeConfig.Quorum is required")
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.ProposeTimeout <= 0 {
		cfg.ProposeTimeout = DefaultProposeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg: cfg, q: cfg.Quorum, id: cfg.Quorum.ID(),
		logger: cfg.Logger.With("component", "controller", "node", cfg.Quorum.ID()),
		calls:  make(chan call),
		done:   make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.mu.committed = metadata.Empty()
	n.prop.init(n.ctx, n.q, cfg.ProposeTimeout, n.done)
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		n.prop.run()
	}()
	go func() {
		defer n.wg.Done()
		defer close(n.done)
		n.run()
	}()
	return n, nil
}

// ID is this node's node.id.
func (n *Node) ID() int32 { return n.id }

// Quorum is the quorum voter the node runs on.
func (n *Node) Quorum() *quorum.Node { return n.q }

// Active reports whether this node is the active controller.
func (n *Node) Active() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.active
}

// CommittedImage is the image of the committed metadata log as this controller applied it.
func (n *Node) CommittedImage() *metadata.Image {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.committed
}

// Status is the quorum's state as this node sees it (DescribeQuorum).
func (n *Node) Status() quorum.Status { return n.q.Status() }

// Handle has the active controller decide req and returns the reply once the records that carry the
// decision have committed (at once when there are none). Kafka-level failures are error codes in the
// reply. Errors: a *NotControllerError when this node is not active or lost leadership before the
// records committed (the client retries on the hint), ErrUnsupported, ErrNodeClosed, or ctx's.
func (n *Node) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c := call{req: req, reply: make(chan callResult, 1)}
	select {
	case n.calls <- c:
	case <-n.done:
		return nil, ErrNodeClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r.resp, r.err
	case <-n.done:
		return nil, ErrNodeClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the runtime and waits for its goroutines. Requests waiting for a commit get
// ErrNodeClosed. It does not close the quorum node. Idempotent.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.cancel()
		n.wg.Wait()
	})
	return nil
}

// Done is closed once the runtime has stopped (Close, or its quorum node stopped).
func (n *Node) Done() <-chan struct{} { return n.done }

func (n *Node) notController(cause error) *NotControllerError {
	return &NotControllerError{LeaderID: n.q.Leader(), Cause: cause}
}
