package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/quorum"
)

// ControllerClient sends controller requests (admin requests a broker forwards, the AlterPartition of
// its partition leaders, AllocateProducerIds) to the active controller, finding it among
// controller.quorum.voters as the Manager does and retrying at a short, steady pace while the answer
// is NOT_CONTROLLER or the voter cannot be reached. Safe for concurrent use.
type ControllerClient struct {
	ctrl         *controllers
	retryBackoff time.Duration
}

// NewControllerClient returns a client of the controllers in voters; clientID names it in their logs.
func NewControllerClient(voters []quorum.Voter, clientID string) (*ControllerClient, error) {
	if len(voters) == 0 {
		return nil, fmt.Errorf("lifecycle: no controllers: %s is empty", quorum.VotersConfig)
	}
	return &ControllerClient{ctrl: newControllers(voters, clientID), retryBackoff: DefaultRetryBackoff}, nil
}

// Send sends req to the active controller and returns its response, retrying NOT_CONTROLLER and
// unreachable voters until ctx ends (then ctx's error, wrapping the last failure). A request that is
// not a controller request is sent once. NB: a retried request may have been applied by a controller
// that lost leadership before answering; Kafka's forwarding has the same window (a CreateTopics then
// answers TOPIC_ALREADY_EXISTS).
func (c *ControllerClient) Send(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	for {
		resp, _, err := c.ctrl.send(ctx, req, notControllerCode)
		if err == nil || !errors.Is(err, errNotController) {
			return resp, err
		}
		// NB: no growing backoff: each attempt asks the voters who leads the quorum, and a partition
		// leader's AlterPartition or a forwarded admin request should reach a new controller as soon
		// as it is active.
		wait := jitter(c.retryBackoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// Active is the voter believed to be the active controller (quorum.NoLeader if unknown).
func (c *ControllerClient) Active() int32 { return c.ctrl.known() }

// Close closes the connections to the controllers.
func (c *ControllerClient) Close() { c.ctrl.close() }

// notControllerCode returns NOT_CONTROLLER if resp carries it anywhere (the controller answers every
// topic, partition or resource of a request with it), else 0.
func notControllerCode(resp kmsg.Response) int16 {
	nc := kerr.NotController.Code
	has := func(code int16) bool { return code == nc }
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.BrokerHeartbeatResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.AllocateProducerIDsResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.AlterPartitionResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.AlterPartitionAssignmentsResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.ListPartitionReassignmentsResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.ElectLeadersResponse:
		return pick(has(r.ErrorCode))
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			if has(t.ErrorCode) {
				return nc
			}
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			if has(t.ErrorCode) {
				return nc
			}
		}
	case *kmsg.CreatePartitionsResponse:
		for _, t := range r.Topics {
			if has(t.ErrorCode) {
				return nc
			}
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for _, res := range r.Resources {
			if has(res.ErrorCode) {
				return nc
			}
		}
	case *kmsg.AlterConfigsResponse:
		for _, res := range r.Resources {
			if has(res.ErrorCode) {
				return nc
			}
		}
	}
	return 0
}

func pick(notController bool) int16 {
	if notController {
		return kerr.NotController.Code
	}
	return 0
}
