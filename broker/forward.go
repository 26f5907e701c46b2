package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Forwarding (Kafka's ForwardingManager, issue 10 §4): a KRaft broker sends the admin requests that
// move leadership and replicas (ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments)
// and DescribeQuorum to the active controller through its lifecycle.ControllerClient, which finds the
// active controller among controller.quorum.voters and retries NOT_CONTROLLER; the controller's reply
// goes back to the client in the version it asked for.

// errNoController: the request could not reach an active controller before its deadline.
var errNoController = errors.New("broker: no active controller answered")

// forward sends req to the active controller (forwardToController) within timeoutMs (the request's
// own timeout; defaultAdminTimeout when not positive) and returns its reply at req's version.
func (b *Broker) forward(req kmsg.Request, timeoutMs int32) (kmsg.Response, error) {
	ctx, cancel := adminContext(timeoutMs)
	defer cancel()
	resp, err := b.forwardToController(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoController, err)
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
