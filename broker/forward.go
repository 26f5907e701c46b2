package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Forwarding (Kafka's ForwardingManager, issue 10 §4): a KRaft broker sends the admin requests that
// move leadership and replicas (ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments)
// and DescribeQuorum to the active controller through its lifecycle.ControllerClient, which finds the
// active controller among controller.quorum.voters and retries NOT_CONTROLLER; the controller's reply
// goes back to the client in the version it asked for. A legacy single node answers them itself.

// defaultForwardTimeout bounds a forwarded request that carries no timeout of its own (Kafka's
// request.timeout.ms default).
const defaultForwardTimeout = 30 * time.Second

// errNoController: the request could not reach an active controller before its deadline.
var errNoController = errors.New("broker: no active controller answered")

// forwarding reports whether this broker forwards controller requests (a KRaft node with the broker role).
func (b *Broker) forwarding() bool { return b.kraft != nil && b.kraft.client != nil }

// forward sends req to the active controller and returns its reply, bounded by timeoutMs (the
// request's own timeout; defaultForwardTimeout when not positive). NB: the client picks the version it
// sends (the newest both it and the controller know); every field our clients may send exists in that
// version, and the server encodes the reply at the caller's version.
func (b *Broker) forward(req kmsg.Request, timeoutMs int32) (kmsg.Response, error) {
	timeout := defaultForwardTimeout
	if timeoutMs > 0 {
		timeout = time.Duration(timeoutMs) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := b.kraft.client.Send(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w within %v: %v", errNoController, timeout, err)
	}
	return resp, nil
}

// forwardErrorCode is the code a client gets when forwarding failed: REQUEST_TIMED_OUT (retriable:
// the client tries again once a controller is elected).
func forwardErrorCode(err error) int16 {
	if errors.Is(err, errNoController) {
		return kerr.RequestTimedOut.Code
	}
	return codeFor(err)
}
