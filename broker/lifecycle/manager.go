package lifecycle

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// Defaults, Kafka's where Kafka has the setting.
const (
	// DefaultHeartbeatInterval is broker.heartbeat.interval.ms (2000).
	DefaultHeartbeatInterval = 2 * time.Second
	// DefaultRetryBackoff is the first wait after a failed registration or heartbeat; it doubles up to
	// DefaultMaxRetryBackoff (with jitter).
	DefaultRetryBackoff = 100 * time.Millisecond
	// DefaultMaxRetryBackoff bounds the retry wait.
	DefaultMaxRetryBackoff = 2 * time.Second
)

// ErrClosed is returned by waits on a closed Manager.
var ErrClosed = errors.New("lifecycle: closed")

// metadataTopic is the metadata partition's topic (partition 0).
const metadataTopic = "__cluster_metadata"

// Config configures a broker's lifecycle Manager.
type Config struct {
	// NodeID is the broker's node.id.
	NodeID int32
	// ClusterID is the cluster.id from meta.properties.
	ClusterID string
	// Voters is controller.quorum.voters: where to find the controllers (their controller listeners).
	Voters []quorum.Voter
	// Listeners are the broker's advertised listeners, registered with the controller.
	Listeners []metadata.EndPoint
	// Rack is broker.rack ("" if none).
	Rack string
	// PreviousBrokerEpoch is the broker epoch this node had when it last shut down cleanly (KIP-966:
	// the broker keeps State().BrokerEpoch on disk at a clean shutdown), or 0 if unknown. With it the
	// controller accepts the new incarnation at once instead of waiting for the old one's session to
	// expire.
	PreviousBrokerEpoch int64
	// HeartbeatInterval is broker.heartbeat.interval.ms (DefaultHeartbeatInterval if zero).
	HeartbeatInterval time.Duration
	// RetryBackoff and MaxRetryBackoff bound the waits between failed attempts (defaults:
	// DefaultRetryBackoff, and the heartbeat interval capped at DefaultMaxRetryBackoff).
	RetryBackoff, MaxRetryBackoff time.Duration
	// MetadataOffset returns the offset of the newest metadata image the broker has published (the
	// Publisher's Current().Offset()): the heartbeat's CurrentMetadataOffset. Required.
	MetadataOffset func() int64
	// Logger (slog.Default if nil).
	Logger *slog.Logger
}

// State is the broker's registration as the controller last reported it.
type State struct {
	// BrokerEpoch is the epoch the registration was given (-1 until registered).
	BrokerEpoch int64
	// Fenced is true until the controller unfences the broker (caught up with the metadata log), and
	// again once it fences it.
	Fenced bool
	// InControlledShutdown: the broker asked to shut down and the controller is moving leadership away.
	InControlledShutdown bool
	// ShutdownComplete: the controller answered ShouldShutDown; the broker may stop.
	ShutdownComplete bool
	// Controller is the node believed to be the active controller (quorum.NoLeader if unknown).
	Controller int32
}

// Manager is a broker's lifecycle with the controller: registration, heartbeats, fencing and
// controlled shutdown. One goroutine runs it; its methods are safe for concurrent use.
type Manager struct {
	cfg         Config
	logger      *slog.Logger
	ctrl        *controllers
	incarnation [16]byte

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	wake   chan struct{}
	// startedUp is set once the controller first unfenced this incarnation. Owned by run.
	startedUp bool

	mu struct {
		sync.Mutex
		state        State
		wantShutdown bool
		// err is the failure that stopped the manager (a registration the controller will never
		// accept), or nil.
		err error
		// changed is closed (and replaced) on every state change.
		changed chan struct{}
	}
}

// Start generates the broker's incarnation ID and starts registering with the active controller.
func Start(cfg Config) (*Manager, error) {
	if len(cfg.Voters) == 0 {
		return nil, fmt.Errorf("lifecycle: no controllers: %s is empty", quorum.VotersConfig)
	}
	if cfg.MetadataOffset == nil {
		return nil, errors.New("lifecycle: Config.MetadataOffset is required")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.MaxRetryBackoff < cfg.RetryBackoff {
		// NB: never longer than a heartbeat interval (nor DefaultMaxRetryBackoff): while the controllers
		// elect a new leader, a broker backing off for longer reaches the new active controller late,
		// and that controller fences it once broker.session.timeout.ms passed since it became active
		// (a short session timeout then fenced every broker on a controller failover).
		cfg.MaxRetryBackoff = max(min(DefaultMaxRetryBackoff, cfg.HeartbeatInterval), cfg.RetryBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{
		cfg:    cfg,
		logger: cfg.Logger.With("component", "lifecycle", "node", cfg.NodeID),
		ctrl:   newControllers(cfg.Voters, "gregor-broker-"+strconv.Itoa(int(cfg.NodeID))),
		wake:   make(chan struct{}, 1),
	}
	// NB: Kafka's incarnation ID is a random UUID per process start: it tells a restarted broker from
	// a retry of the same registration.
	_, _ = rand.Read(m.incarnation[:])
	m.mu.state = State{BrokerEpoch: -1, Fenced: true, Controller: quorum.NoLeader}
	m.mu.changed = make(chan struct{})
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run()
	}()
	return m, nil
}

// IncarnationID is this process's incarnation, sent with the registration.
func (m *Manager) IncarnationID() [16]byte { return m.incarnation }

// State returns the current state.
func (m *Manager) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.state
}

// Err is the failure that stopped the manager, or nil: a registration the controller refuses for
// good (INCONSISTENT_CLUSTER_ID: this node belongs to another cluster; INVALID_REQUEST;
// UNSUPPORTED_VERSION). Kafka's broker shuts down on it; so should Gregor's.
func (m *Manager) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.err
}

// WaitFor waits until cond holds for the state, ctx ends, or the manager stops (Err, ErrClosed).
func (m *Manager) WaitFor(ctx context.Context, cond func(State) bool) (State, error) {
	for {
		m.mu.Lock()
		st, changed, err := m.mu.state, m.mu.changed, m.mu.err
		m.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-m.ctx.Done():
			return st, ErrClosed
		}
	}
}

// ControlledShutdown asks the controller to move this broker's leadership away (heartbeats with
// WantShutDown) and waits until it answers ShouldShutDown or ctx ends (Kafka bounds it the same
// way). Heartbeats stop once the controller agreed. It returns ctx's error on timeout: the broker then
// stops anyway, and the controller fences it when its session expires.
func (m *Manager) ControlledShutdown(ctx context.Context) error {
	m.mu.Lock()
	m.mu.wantShutdown = true
	m.mu.Unlock()
	m.poke()
	_, err := m.WaitFor(ctx, func(s State) bool { return s.ShutdownComplete })
	return err
}

// Close stops heartbeating (without a controlled shutdown) and waits for the goroutine. Idempotent.
func (m *Manager) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.ctrl.close()
	})
	return nil
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) update(f func(*State)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.mu.state
	f(&m.mu.state)
	if m.mu.state != prev {
		close(m.mu.changed)
		m.mu.changed = make(chan struct{})
	}
}

func (m *Manager) run() {
	backoff := time.Duration(0)
	for {
		var wait time.Duration
		err := m.step()
		switch {
		case errors.Is(err, errShutdownComplete):
			return
		case errors.Is(err, errFatal):
			m.logger.Error("broker lifecycle stopped: the controller refuses this broker", "err", err)
			m.mu.Lock()
			m.mu.err = err
			close(m.mu.changed)
			m.mu.changed = make(chan struct{})
			m.mu.Unlock()
			return
		case errors.Is(err, errNotController):
			// NB: the active controller is gone or not known yet. A newly active controller fences
			// every broker it has not heard from within broker.session.timeout.ms of its activation,
			// so the search goes on at a short, steady pace (each attempt asks the voters who leads
			// the quorum) rather than backing off for seconds, as Kafka's brokers follow the
			// quorum's leader changes at once.
			backoff = 0
			wait = jitter(searchRetry(m.cfg.RetryBackoff, m.cfg.HeartbeatInterval))
			if m.ctx.Err() == nil {
				m.logger.Debug("active controller not reached; retrying", "err", err, "in", wait)
			}
		case err != nil:
			backoff = min(max(2*backoff, m.cfg.RetryBackoff), m.cfg.MaxRetryBackoff)
			wait = jitter(backoff)
			if m.ctx.Err() == nil {
				m.logger.Debug("controller request failed; retrying", "err", err, "in", wait)
			}
		default:
			backoff = 0
			wait = m.cfg.HeartbeatInterval
			st := m.State()
			m.startedUp = m.startedUp || !st.Fenced
			if st.Fenced || st.InControlledShutdown {
				// NB: while catching up or shutting down the next heartbeat is what moves the state on,
				// so it goes sooner.
				wait /= 4
			}
			if st.Fenced && !m.startedUp {
				// NB: as Kafka's BrokerLifecycleManager in STARTING: a starting broker asks every 10 ms
				// whether it has caught up, so it serves as soon as it has, not a heartbeat later.
				wait = min(wait, startingHeartbeatInterval)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-m.ctx.Done():
			timer.Stop()
			return
		case <-m.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// startingHeartbeatInterval spaces the heartbeats of a broker that was never unfenced yet.
const startingHeartbeatInterval = 10 * time.Millisecond

var errShutdownComplete = errors.New("lifecycle: shutdown complete")

// errFatal marks a refusal no retry can change.
var errFatal = errors.New("lifecycle: registration refused for good")

// jitter returns a wait between d/2 and d, so that brokers that lost the controller together do not
// retry in lockstep.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// searchRetry is the wait between attempts while looking for the active controller: the retry
// backoff, but at most a quarter of the heartbeat interval (a small fraction of the session timeout).
func searchRetry(retryBackoff, heartbeatInterval time.Duration) time.Duration {
	return max(min(retryBackoff, heartbeatInterval/4), time.Millisecond)
}

// requestTimeout bounds one registration or heartbeat: twice the heartbeat interval, within [1 s, 5 s].
// NB: a controller that hangs (paused, cut off) must not hold the broker's heartbeats for longer
// than its session lasts; a timed-out attempt counts as the controller being unreachable.
func requestTimeout(heartbeatInterval time.Duration) time.Duration {
	return min(max(2*heartbeatInterval, time.Second), 5*time.Second)
}

// step registers if needed, else sends one heartbeat.
func (m *Manager) step() error {
	ctx, cancel := context.WithTimeout(m.ctx, requestTimeout(m.cfg.HeartbeatInterval))
	defer cancel()
	if m.State().BrokerEpoch < 0 {
		return m.register(ctx)
	}
	return m.heartbeat(ctx)
}

func (m *Manager) register(ctx context.Context) error {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.ClusterID, req.IncarnationID = m.cfg.NodeID, m.cfg.ClusterID, m.incarnation
	req.PreviousBrokerEpoch = -1
	if m.cfg.PreviousBrokerEpoch > 0 {
		req.PreviousBrokerEpoch = m.cfg.PreviousBrokerEpoch
	}
	if m.cfg.Rack != "" {
		req.Rack = kmsg.StringPtr(m.cfg.Rack)
	}
	for _, e := range m.cfg.Listeners {
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port, l.SecurityProtocol = e.Name, e.Host, e.Port, e.SecurityProtocol
		req.Listeners = append(req.Listeners, l)
	}
	resp, id, err := m.ctrl.send(ctx, req, func(r kmsg.Response) int16 { return r.(*kmsg.BrokerRegistrationResponse).ErrorCode })
	m.update(func(s *State) { s.Controller = m.ctrl.known() })
	if err != nil {
		return err
	}
	r := resp.(*kmsg.BrokerRegistrationResponse)
	switch r.ErrorCode {
	case 0:
	case kerr.InconsistentClusterID.Code, kerr.InvalidRequest.Code, kerr.UnsupportedVersion.Code:
		return fmt.Errorf("%w: controller %d: %w (cluster.id %q, node.id %d)", errFatal, id, kerr.ErrorForCode(r.ErrorCode), m.cfg.ClusterID, m.cfg.NodeID)
	default:
		// DUPLICATE_BROKER_REGISTRATION (the previous incarnation's session is alive) and the like.
		return fmt.Errorf("lifecycle: registration with controller %d: %w", id, kerr.ErrorForCode(r.ErrorCode))
	}
	m.logger.Info("broker registered", "controller", id, "broker_epoch", r.BrokerEpoch)
	m.update(func(s *State) { s.BrokerEpoch, s.Fenced = r.BrokerEpoch, true })
	// NB: the first heartbeat goes at once: it is what unfences a broker that is already caught up.
	m.poke()
	return nil
}

func (m *Manager) heartbeat(ctx context.Context) error {
	m.mu.Lock()
	epoch, wantShutdown := m.mu.state.BrokerEpoch, m.mu.wantShutdown
	m.mu.Unlock()
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch = m.cfg.NodeID, epoch
	req.CurrentMetadataOffset = m.cfg.MetadataOffset()
	req.WantShutdown = wantShutdown
	resp, id, err := m.ctrl.send(ctx, req, func(r kmsg.Response) int16 { return r.(*kmsg.BrokerHeartbeatResponse).ErrorCode })
	m.update(func(s *State) { s.Controller = m.ctrl.known() })
	if err != nil {
		return err
	}
	r := resp.(*kmsg.BrokerHeartbeatResponse)
	switch r.ErrorCode {
	case 0:
	case kerr.StaleBrokerEpoch.Code, kerr.BrokerIDNotRegistered.Code:
		// The controller no longer knows this registration (it was replaced or the log was reset):
		// register again, as a new epoch.
		m.logger.Warn("controller rejected the heartbeat; registering again", "controller", id, "err", kerr.ErrorForCode(r.ErrorCode))
		m.update(func(s *State) { s.BrokerEpoch, s.Fenced = -1, true })
		return kerr.ErrorForCode(r.ErrorCode)
	default:
		return fmt.Errorf("lifecycle: heartbeat to controller %d: %w", id, kerr.ErrorForCode(r.ErrorCode))
	}
	prev := m.State()
	m.update(func(s *State) {
		s.Fenced = r.IsFenced
		s.InControlledShutdown = wantShutdown && !r.ShouldShutdown
		s.ShutdownComplete = r.ShouldShutdown
	})
	if prev.Fenced != r.IsFenced {
		m.logger.Info("broker fencing changed", "fenced", r.IsFenced, "controller", id, "metadata_offset", req.CurrentMetadataOffset)
	}
	if r.ShouldShutdown {
		m.logger.Info("controlled shutdown complete: the controller moved this broker's leadership away")
		return errShutdownComplete
	}
	return nil
}
