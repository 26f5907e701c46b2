package broker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
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

// handleAlterPartitionReassignments starts or cancels (null replicas) reassignments. A KRaft broker
// forwards it to the active controller, which adds the new replicas, waits for them to join the ISR,
// then drops the old ones. A single node can only be "reassigned" to itself.
func (b *Broker) handleAlterPartitionReassignments(r *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	if r.Version == 0 {
		r.AllowReplicationFactorChange = true // NB: v0 has no such field and always allowed it
	}
	if b.forwardsAdmin() {
		resp, err := b.forward(r, r.TimeoutMillis)
		if err == nil {
			if ar, ok := resp.(*kmsg.AlterPartitionAssignmentsResponse); ok {
				return ar
			}
			err = fmt.Errorf("controller answered %T", resp)
		}
		return alterReassignmentsError(r, forwardErrorCode(err), errText(err))
	}
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	for _, rt := range r.Topics {
		out := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		out.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			var err error
			switch _, p := b.lookup(rt.Topic, rp.Partition); {
			case p == nil:
				err = apiErr(kerr.UnknownTopicOrPartition, "partition %s-%d does not exist", rt.Topic, rp.Partition)
			case rp.Replicas == nil:
				err = apiErr(kerr.NoReassignmentInProgress, "no reassignment of %s-%d is in progress", rt.Topic, rp.Partition)
			case !slices.Equal(rp.Replicas, []int32{b.cfg.NodeID}):
				err = apiErr(kerr.InvalidReplicaAssignment, "replicas %v: this cluster has the single broker %d", rp.Replicas, b.cfg.NodeID)
			}
			op.ErrorCode, op.ErrorMessage = codeFor(err), errText(err)
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp
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

// handleListPartitionReassignments lists the reassignments in progress (null topics: all). A
// single node never has one.
func (b *Broker) handleListPartitionReassignments(r *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	if !b.forwardsAdmin() {
		return r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	}
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
