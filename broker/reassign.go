package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// AlterPartitionReassignments v0-1 (v1: AllowReplicationFactorChange, KIP-860).
	register(45, 0, 1, func(b *Broker, _ *server.Conn, r *kmsg.AlterPartitionAssignmentsRequest) server.Response {
		return server.Response{Msg: b.handleAlterPartitionReassignments(r)}
	})
	// ListPartitionReassignments v0.
	register(46, 0, 0, func(b *Broker, _ *server.Conn, r *kmsg.ListPartitionReassignmentsRequest) server.Response {
		return server.Response{Msg: b.handleListPartitionReassignments(r)}
	})
}

// handleAlterPartitionReassignments starts or cancels (null replicas) reassignments: the broker
// forwards it to the active controller, which adds the new replicas, waits for them to join the ISR,
// then drops the old ones.
func (b *Broker) handleAlterPartitionReassignments(r *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	if r.Version == 0 {
		r.AllowReplicationFactorChange = true // NB: v0 has no such field and always allowed it
	}
	resp, err := b.forward(r, r.TimeoutMillis)
	if err == nil {
		if ar, ok := resp.(*kmsg.AlterPartitionAssignmentsResponse); ok {
			return ar
		}
		err = fmt.Errorf("controller answered %T", resp)
	}
	return alterReassignmentsError(r, forwardErrorCode(err), errText(err))
}

// alterReassignmentsError answers the request and every partition of it with code.
func alterReassignmentsError(r *kmsg.AlterPartitionAssignmentsRequest, code int16, msg *string) *kmsg.AlterPartitionAssignmentsResponse {
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.ErrorCode, resp.ErrorMessage = code, msg
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	for _, rt := range r.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition, op.ErrorCode, op.ErrorMessage = rp.Partition, code, msg
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp
}

// handleListPartitionReassignments lists the reassignments in progress (null topics: all), as the
// active controller answers it.
func (b *Broker) handleListPartitionReassignments(r *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp, err := b.forward(r, r.TimeoutMillis)
	if err == nil {
		if lr, ok := resp.(*kmsg.ListPartitionReassignmentsResponse); ok {
			return lr
		}
		err = fmt.Errorf("controller answered %T", resp)
	}
	lr := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	lr.ErrorCode, lr.ErrorMessage = forwardErrorCode(err), errText(err)
	return lr
}
