package broker

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// DescribeQuorum v0-2 (v1: timestamps; v2: nodes with their listeners, KIP-853).
	register(55, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.DescribeQuorumRequest) server.Response {
		return server.Response{Msg: b.handleDescribeQuorum(r)}
	})
}

// describeQuorumTimeout bounds each forwarded request of a DescribeQuorum: it is a status read, and a
// quorum without a majority must not hold `gregor cluster status` for request.timeout.ms.
const describeQuorumTimeout = 5 * time.Second

// describeQuorumAttempts bounds how often a forwarded DescribeQuorum is retried while the voter asked
// is not the quorum leader (a leader change between the two requests of an attempt).
const describeQuorumAttempts = 3

// handleDescribeQuorum describes the metadata quorum (kafka-metadata-quorum.sh's request): the broker
// forwards it to the quorum leader, as Kafka's brokers do (a single node to its own one voter).
func (b *Broker) handleDescribeQuorum(r *kmsg.DescribeQuorumRequest) *kmsg.DescribeQuorumResponse {
	return b.forwardDescribeQuorum(r)
}

// forwardDescribeQuorum sends r to the active controller. NB: DescribeQuorum carries no
// NOT_CONTROLLER, so the controller client would not follow a leader change for it; a cheap
// controller request (ListPartitionReassignments of no topic) first points the client at the active
// controller, which leads the quorum.
func (b *Broker) forwardDescribeQuorum(r *kmsg.DescribeQuorumRequest) *kmsg.DescribeQuorumResponse {
	var err error
	for range describeQuorumAttempts {
		probe := kmsg.NewPtrListPartitionReassignmentsRequest()
		probe.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		if _, err = b.forward(probe, int32(describeQuorumTimeout/time.Millisecond)); err != nil {
			break
		}
		var resp kmsg.Response
		if resp, err = b.forward(r, int32(describeQuorumTimeout/time.Millisecond)); err != nil {
			break
		}
		dq, ok := resp.(*kmsg.DescribeQuorumResponse)
		if !ok {
			err = fmt.Errorf("controller answered %T", resp)
			break
		}
		if !notQuorumLeader(dq) {
			return dq
		}
		err = fmt.Errorf("%w: the controller asked no longer leads the quorum", errNoController)
	}
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
	resp.ErrorCode, resp.ErrorMessage = forwardErrorCode(err), errText(err)
	return resp
}

// notQuorumLeader reports whether a DescribeQuorum reply says the voter was not the leader.
func notQuorumLeader(dq *kmsg.DescribeQuorumResponse) bool {
	for _, t := range dq.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == kerr.NotLeaderForPartition.Code {
				return true
			}
		}
	}
	return false
}
