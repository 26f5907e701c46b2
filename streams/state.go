package streams

import "sync"

// State is the lifecycle state of an App, as Kafka Streams' KafkaStreams.State.
type State int32

const (
	// Created: made by New, not started.
	Created State = iota
	// Rebalancing: joining the group, or tasks are moving between instances.
	Rebalancing
	// Running: tasks assigned and processing.
	Running
	// PendingShutdown: Close was called, or the context given to Start ended; committing and
	// closing. Close still has to be called to release the clients.
	PendingShutdown
	// NotRunning: closed.
	NotRunning
	// PendingError: a processing error stopped the App; its tasks are closing.
	PendingError
	// Error: stopped by an error (see App.Err); Close still has to be called.
	Error
)

var stateNames = [...]string{"CREATED", "REBALANCING", "RUNNING", "PENDING_SHUTDOWN", "NOT_RUNNING", "PENDING_ERROR", "ERROR"}

// String returns Kafka Streams' name for the state (RUNNING, REBALANCING, ...).
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "UNKNOWN"
	}
	return stateNames[s]
}

// StateListener is called on every state change, in order, from the goroutine that made it. It
// must not block and must not call Close; it may call State, Err and Stats.
type StateListener func(newState, oldState State)

// stateMachine holds an App's state. Transitions out of NotRunning never happen, and once in
// PendingShutdown only NotRunning may follow.
type stateMachine struct {
	mu       sync.Mutex
	state    State
	listener StateListener
	// changed, if set, gets a token (without blocking) on every change: the console publisher
	// publishes the new state at once.
	changed chan struct{}
}

func (m *stateMachine) get() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// set moves to s if that is a valid transition, calling the listener; it reports whether it did.
func (m *stateMachine) set(s State) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.state
	if old == s || old == NotRunning {
		return false
	}
	if old == PendingShutdown && s != NotRunning {
		return false
	}
	if (old == PendingError || old == Error) && s != Error && s != PendingShutdown {
		return false
	}
	m.state = s
	if m.listener != nil {
		m.listener(s, old)
	}
	if m.changed != nil {
		select {
		case m.changed <- struct{}{}:
		default:
		}
	}
	return true
}
