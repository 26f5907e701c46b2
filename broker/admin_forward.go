package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// Forwarding admin requests to the active controller (KRaft mode, issue 10): a KRaft broker never
// changes topics itself. CreateTopics, DeleteTopics, CreatePartitions and the topic part of
// (Incremental)AlterConfigs go to the active controller through the broker's lifecycle
// ControllerClient, which finds it among controller.quorum.voters and retries NOT_CONTROLLER until
// the request's deadline. The controller answers once the change is committed; the broker then waits
// until its own image applier has applied an image holding the change (waitApplied), so the client's
// next Metadata, Produce or DescribeConfigs on this broker sees it, and answers in the request's own
// version.

// defaultAdminTimeout bounds a forwarded request that carries no timeout of its own (the configs
// APIs), and one whose timeout is 0 (Kafka's "do not wait": the forward itself still needs one).
// Kafka's request.timeout.ms default.
const defaultAdminTimeout = 30 * time.Second

// adminContext is the deadline of a forwarded request with timeoutMs (<= 0: defaultAdminTimeout).
func adminContext(timeoutMs int32) (context.Context, context.CancelFunc) {
	d := defaultAdminTimeout
	if timeoutMs > 0 {
		d = time.Duration(timeoutMs) * time.Millisecond
	}
	return context.WithTimeout(context.Background(), d)
}

// forwardToController sends req to the active controller and returns its response set to req's version.
//
// NB: the controller client sends req at the version it negotiated with the controller (the highest
// both speak) and sets req's version to it, so callers pass a copy of their client's request; the
// response is set back to the version req had before sending, the client's.
func (b *Broker) forwardToController(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	version := req.GetVersion()
	resp, err := b.kraft.client.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	resp.SetVersion(version)
	return resp, nil
}

// forwardError is the Kafka error for a forward that got no answer: REQUEST_TIMED_OUT when the
// deadline passed (the controller may still apply it), NOT_CONTROLLER otherwise (retriable).
func forwardError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apiErr(kerr.RequestTimedOut, "the active controller did not answer in time: %v", err)
	}
	return apiErr(kerr.NotController, "forwarding to the active controller failed: %v", err)
}

// waitApplied waits until this broker's image applier has applied an image for which done is true
// (the registry, the partitions and their configs reflect it), or ctx ends.
func (b *Broker) waitApplied(ctx context.Context, done func(*metadata.Image) bool) error {
	return b.kraft.applier.waitApplied(ctx, done)
}

// notSeenError is the answer to a change the controller committed that this broker has not applied
// within the request's timeout: REQUEST_TIMED_OUT, as Kafka answers a creation still in progress.
func notSeenError(what string, err error) error {
	return apiErr(kerr.RequestTimedOut, "%s was committed by the controller but this broker has not applied it yet: %v", what, err)
}

// controllerBrokerEpoch is this broker's epoch as the controller registered it (-1 before).
func (b *Broker) controllerBrokerEpoch() int64 {
	mgr := b.kraft.applier.mgr.Load()
	if mgr == nil {
		return -1
	}
	return mgr.State().BrokerEpoch
}

// describeTopicErr wraps a response error code and message into an error (nil for code 0).
func describeTopicErr(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	text := kerr.ErrorForCode(code).Error()
	if msg != nil {
		text = *msg
	}
	return apiErr(kerr.ErrorForCode(code).(*kerr.Error), "%s", text)
}

// errShortAnswer is a controller answer that does not pair with the request.
func errShortAnswer(got, want int) error {
	return apiErr(kerr.UnknownServerError, "the controller answered %d resources for %d", got, want)
}
