package controller

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors returned by the Controller's methods. Kafka-level failures of a request are never Go errors:
// they come back as error codes in the reply.
var (
	// ErrNotActive: Handle or Tick on a controller that is not the active one. The caller answers
	// NOT_CONTROLLER.
	ErrNotActive = errors.New("controller: not the active controller")
	// ErrUnsupported: Handle got a request type the controller does not serve.
	ErrUnsupported = errors.New("controller: unsupported request")
	// ErrDiverged: ApplyCommitted got records the active controller did not propose (another controller
	// wrote to the log). The caller must Resign.
	ErrDiverged = errors.New("controller: committed log diverged from proposals")
)

// Config is the controller's configuration, with Kafka's names and defaults noted.
type Config struct {
	// ClusterID is the cluster's ID; BrokerRegistration with another one gets INCONSISTENT_CLUSTER_ID.
	// Empty accepts any.
	ClusterID string
	// SessionTimeout is broker.session.timeout.ms (default 9 s): a broker without a heartbeat for this
	// long is fenced.
	SessionTimeout time.Duration
	// DefaultReplicationFactor is default.replication.factor (default 1), used when CreateTopics asks -1.
	DefaultReplicationFactor int16
	// DefaultNumPartitions is num.partitions (default 1), used when CreateTopics asks -1.
	DefaultNumPartitions int32
	// UncleanLeaderElection is unclean.leader.election.enable, the broker-wide default (false); topics
	// override it with their own config.
	UncleanLeaderElection bool
	// LeaderImbalancePerBroker is leader.imbalance.per.broker.percentage (default 10): Tick's automatic
	// preferred-leader election runs for a broker whose share of non-preferred leaders exceeds it.
	LeaderImbalancePerBroker int
	// AutoLeaderRebalance is auto.leader.rebalance.enable (default true).
	AutoLeaderRebalance bool
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds (default 300 s): how often
	// Tick runs the rebalance check.
	LeaderImbalanceCheckInterval time.Duration
	// Rand places replicas (the round-robin start and shift). Nil: a PCG seeded from crypto/rand.
	Rand *mrand.Rand
	// NewTopicID returns a fresh topic ID. Nil: random (crypto/rand), like Kafka's Uuid.randomUuid.
	NewTopicID func() metadata.Uuid
	// MaxRecordsPerBatch is controller.max.records.per.batch (default 10,000): the partitions one
	// CreateTopics or CreatePartitions may add. Zero: the default.
	MaxRecordsPerBatch int
	// MaxBrokerPartitions is max.broker.partitions (KIP-578): the replicas one broker may hold. Zero:
	// no limit.
	MaxBrokerPartitions int64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:           9 * time.Second,
		DefaultReplicationFactor: 1,
		DefaultNumPartitions:     1,
		LeaderImbalancePerBroker: 10,
		AutoLeaderRebalance:      true,

		LeaderImbalanceCheckInterval: 300 * time.Second,
	}
}

// defaultMaxPartitionsPerRequest bounds the partitions one CreateTopics or CreatePartitions may create
// (controller.max.records.per.batch, Kafka's MAX_RECORDS_PER_USER_OP): one request must not write an
// unbounded batch to the metadata log.
const defaultMaxPartitionsPerRequest = 10000

// maxPartitionsPerRequest is Config.MaxRecordsPerBatch or its default.
func (c *Controller) maxPartitionsPerRequest() int {
	if c.cfg.MaxRecordsPerBatch > 0 {
		return c.cfg.MaxRecordsPerBatch
	}
	return defaultMaxPartitionsPerRequest
}

// tooManyPartitionsError refuses a request adding n partitions past controller.max.records.per.batch.
func (c *Controller) tooManyPartitionsError(n int) error {
	return fmt.Errorf("excessively large number of partitions per request (%d > %d, controller.max.records.per.batch)", n, c.maxPartitionsPerRequest())
}

// checkBrokerPartitions refuses an assignment that would put more than max.broker.partitions
// replicas on a broker, counting the replicas the working image already places there (KIP-578).
func (c *Controller) checkBrokerPartitions(assignment [][]int32) error {
	limit := c.cfg.MaxBrokerPartitions
	if limit <= 0 || limit >= math.MaxInt32 {
		return nil // NB: Kafka's default (Integer.MAX_VALUE) is no limit: no count of the image
	}
	adding := map[int32]int64{}
	for _, replicas := range assignment {
		for _, r := range replicas {
			adding[r]++
		}
	}
	if len(adding) == 0 {
		return nil
	}
	have := map[int32]int64{}
	for _, t := range c.img().Topics() {
		for _, p := range t.Partitions() {
			for _, r := range p.Replicas {
				if adding[r] > 0 {
					have[r]++
				}
			}
		}
	}
	for r, n := range adding {
		if have[r]+n > limit {
			return fmt.Errorf("%d more partitions on broker %d would pass max.broker.partitions (%d): it holds %d", n, r, limit, have[r])
		}
	}
	return nil
}

// producerIDBlockSize is the size of the producer-ID blocks AllocateProducerIds hands out (Kafka's 1000).
const producerIDBlockSize = 1000

// Result is what Handle and Tick return: records to append to the metadata log, as one batch, in order;
// and the reply to send once they are committed (nil from Tick).
type Result struct {
	Records []metadata.Record
	Reply   kmsg.Response
}

// brokerSession is the active controller's in-memory view of a broker's liveness. It is not in the log:
// a newly active controller starts every broker's session afresh.
type brokerSession struct {
	lastContact time.Time
	// registeredAt is the offset of the committed batch holding the broker's current registration; -1
	// until it commits. A broker is caught up when its metadata offset reaches it.
	registeredAt int64
	// shutdownAt is the offset of the committed batch that put the broker in controlled shutdown; -1 when
	// not (yet) committed.
	shutdownAt int64
}

// Controller is the controller's decision logic: requests in, records and replies out. It is not safe
// for concurrent use: one goroutine (the quorum driver) owns it. See the package doc for the protocol.
type Controller struct {
	cfg Config
	rng *mrand.Rand

	active bool
	// activeEpoch is the quorum epoch this controller leads in while active.
	activeEpoch int32
	// committed is the image of the committed log; working is committed plus the records this controller
	// proposed that have not committed yet (equal to committed while standing by).
	committed *metadata.Image
	working   *metadata.Image
	// committedDelta replays committed batches.
	committedDelta *metadata.Delta
	// pending counts records proposed and not yet seen committed, in proposal order.
	pending int

	sessions map[int32]*brokerSession
	// lastRebalance is when Tick last ran the leader imbalance check.
	lastRebalance time.Time

	// d is the delta of the request being handled; nil between requests.
	d *metadata.Delta
	// out collects the records of the request being handled.
	out []metadata.Record
}

// New returns a standby controller starting at img (Empty, or the image of the latest snapshot).
func New(cfg Config, img *metadata.Image) *Controller {
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 9 * time.Second
	}
	if cfg.DefaultReplicationFactor <= 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.DefaultNumPartitions <= 0 {
		cfg.DefaultNumPartitions = 1
	}
	if cfg.LeaderImbalancePerBroker <= 0 {
		cfg.LeaderImbalancePerBroker = 10
	}
	if cfg.LeaderImbalanceCheckInterval <= 0 {
		cfg.LeaderImbalanceCheckInterval = 300 * time.Second
	}
	if cfg.NewTopicID == nil {
		cfg.NewTopicID = func() metadata.Uuid {
			var u metadata.Uuid
			_, _ = rand.Read(u[:])
			return u
		}
	}
	rng := cfg.Rand
	if rng == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		rng = mrand.New(mrand.NewPCG(leUint64(seed[:8]), leUint64(seed[8:])))
	}
	return &Controller{
		cfg: cfg, rng: rng, committed: img, working: img,
		committedDelta: metadata.NewDelta(img), sessions: map[int32]*brokerSession{},
	}
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// Active reports whether the controller is active.
func (c *Controller) Active() bool { return c.active }

// Image returns the controller's working image: the committed log plus its own uncommitted proposals.
func (c *Controller) Image() *metadata.Image { return c.working }

// Committed returns the image of the committed log.
func (c *Controller) Committed() *metadata.Image { return c.committed }

// ApplyCommitted replays one committed batch: every record of the entry at offset (the quorum index) in
// quorum epoch epoch. Call it for every committed batch, in order, whether active or not. An active
// controller expects its own proposals back, in order; anything else returns ErrDiverged (resign). An
// error wrapping metadata.ErrInconsistent means the log is corrupt: stop.
func (c *Controller) ApplyCommitted(offset int64, epoch int32, recs []metadata.Record) error {
	for _, r := range recs {
		if err := c.committedDelta.Replay(r); err != nil {
			return fmt.Errorf("controller: committed batch at offset %d: %w", offset, err)
		}
	}
	c.committed, _ = c.committedDelta.Apply(offset, epoch)
	for _, r := range recs {
		switch r := r.(type) {
		case *metadata.RegisterBrokerRecord:
			s := c.session(r.BrokerID)
			s.registeredAt = offset
			s.shutdownAt = -1
		case *metadata.BrokerRegistrationChangeRecord:
			if r.InControlledShutdown == 1 {
				c.session(r.BrokerID).shutdownAt = offset
			}
		}
	}
	if !c.active {
		c.working = c.committed
		return nil
	}
	if epoch != c.activeEpoch {
		return fmt.Errorf("%w: batch at offset %d from epoch %d while active in epoch %d", ErrDiverged, offset, epoch, c.activeEpoch)
	}
	if len(recs) > c.pending {
		return fmt.Errorf("%w: %d records committed at offset %d, %d proposed", ErrDiverged, len(recs), offset, c.pending)
	}
	c.pending -= len(recs)
	if c.pending == 0 {
		// NB: the working image equals committed now; switching to it drops nothing and stamps the
		// working image with the committed offset.
		c.working = c.committed
	}
	return nil
}

func (c *Controller) session(id int32) *brokerSession {
	s := c.sessions[id]
	if s == nil {
		s = &brokerSession{registeredAt: -1, shutdownAt: -1}
		c.sessions[id] = s
	}
	return s
}

// BecomeActive makes the controller active in quorum epoch (Raft term) epoch at now. Call it once every
// batch committed before this leadership has been applied, so that the working image is the whole
// committed state: with broker/quorum, propose a batch holding one NoOpRecord on becoming leader and call
// BecomeActive when that batch comes back committed. Every registered broker's session starts at now.
func (c *Controller) BecomeActive(now time.Time, epoch int32) {
	c.active = true
	c.activeEpoch = epoch
	c.working = c.committed
	c.pending = 0
	c.lastRebalance = now
	for _, b := range c.committed.Brokers() {
		s := c.session(b.ID)
		s.lastContact = now
	}
}

// LoadSnapshot replaces the controller's state with img (a snapshot: the newest checkpoint at start, or
// one the quorum leader sent). An active controller resigns first: its proposals are moot.
func (c *Controller) LoadSnapshot(img *metadata.Image) {
	if c.active {
		c.Resign()
	}
	c.committed, c.working = img, img
	c.committedDelta = metadata.NewDelta(img)
	for _, b := range img.Brokers() {
		s := c.session(b.ID)
		s.registeredAt = img.Offset()
		if b.InControlledShutdown {
			s.shutdownAt = img.Offset()
		}
	}
}

// Resign returns the controller to standby: uncommitted proposals are forgotten (the working image goes
// back to the committed one). Proposals the quorum still commits later arrive through ApplyCommitted
// like anyone else's.
func (c *Controller) Resign() {
	c.active = false
	c.working = c.committed
	c.pending = 0
}

// begin starts handling a request on the working image.
func (c *Controller) begin() {
	c.d = metadata.NewDelta(c.working)
	c.out = nil
}

// img is the image as the current request has changed it so far.
func (c *Controller) img() *metadata.Image { return c.d.Image() }

// emit appends a record to the current request's batch and applies it to the request's view.
func (c *Controller) emit(r metadata.Record) error {
	if err := c.d.Replay(r); err != nil {
		return fmt.Errorf("controller: generated record %v: %w", r, err)
	}
	c.out = append(c.out, r)
	return nil
}

// finish ends the request: on success its records become pending and the working image moves on; on
// error nothing of the request remains.
func (c *Controller) finish(reply kmsg.Response, err error) (Result, error) {
	d, recs := c.d, c.out
	c.d, c.out = nil, nil
	if err != nil {
		return Result{}, err
	}
	if len(recs) > 0 {
		c.working, _ = d.Apply(c.committed.Offset(), c.committed.Epoch())
		c.pending += len(recs)
	}
	return Result{Records: recs, Reply: reply}, nil
}

// Handle decides one request at now: it returns the records to append (one batch, possibly empty) and the
// reply to send once they commit. Kafka-level errors are in the reply; a Go error means the request was
// not handled at all (ErrNotActive, ErrUnsupported, or a bug, in which case nothing changed).
//
// Served: BrokerRegistration, BrokerHeartbeat, CreateTopics, DeleteTopics, CreatePartitions,
// IncrementalAlterConfigs, AlterConfigs, AllocateProducerIDs, AlterPartition, ElectLeaders,
// AlterPartitionAssignments, ListPartitionReassignments. The reply's Version is the request's.
func (c *Controller) Handle(now time.Time, req kmsg.Request) (Result, error) {
	if !c.active {
		return Result{}, ErrNotActive
	}
	c.begin()
	var reply kmsg.Response
	var err error
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		reply, err = c.registerBroker(now, r)
	case *kmsg.BrokerHeartbeatRequest:
		reply, err = c.heartbeat(now, r)
	case *kmsg.CreateTopicsRequest:
		reply, err = c.createTopics(r)
	case *kmsg.DeleteTopicsRequest:
		reply, err = c.deleteTopics(r)
	case *kmsg.CreatePartitionsRequest:
		reply, err = c.createPartitions(r)
	case *kmsg.IncrementalAlterConfigsRequest:
		reply, err = c.incrementalAlterConfigs(r)
	case *kmsg.AlterConfigsRequest:
		reply, err = c.alterConfigs(r)
	case *kmsg.AllocateProducerIDsRequest:
		reply, err = c.allocateProducerIDs(r)
	case *kmsg.AlterPartitionRequest:
		reply, err = c.alterPartition(r)
	case *kmsg.ElectLeadersRequest:
		reply, err = c.electLeaders(r)
	case *kmsg.AlterPartitionAssignmentsRequest:
		reply, err = c.alterPartitionAssignments(r)
	case *kmsg.ListPartitionReassignmentsRequest:
		reply, err = c.listPartitionReassignments(r)
	default:
		err = fmt.Errorf("%w: %T", ErrUnsupported, req)
	}
	if err == nil && reply != nil {
		reply.SetVersion(req.GetVersion())
	}
	return c.finish(reply, err)
}

// Tick runs the controller's timed work at now: fences brokers whose session expired (moving their
// leadership away) and, with AutoLeaderRebalance, moves leadership back to preferred replicas where the
// imbalance calls for it. Call it periodically (Kafka checks sessions every few hundred milliseconds); it
// returns the records to append, or none.
func (c *Controller) Tick(now time.Time) (Result, error) {
	if !c.active {
		return Result{}, ErrNotActive
	}
	c.begin()
	err := c.fenceExpired(now)
	if err == nil && c.cfg.AutoLeaderRebalance && now.Sub(c.lastRebalance) >= c.cfg.LeaderImbalanceCheckInterval {
		c.lastRebalance = now
		err = c.rebalanceLeaders()
	}
	return c.finish(nil, err)
}
