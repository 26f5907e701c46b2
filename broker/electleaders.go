package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// ElectLeaders v0-2 (v1: ElectionType, KIP-460; v2: flexible).
	register(43, 0, 2, func(b *Broker, _ *server.Conn, r *kmsg.ElectLeadersRequest) server.Response {
		return server.Response{Msg: b.handleElectLeaders(r)}
	})
}

// handleElectLeaders runs preferred (0) or unclean (1) leader election: the broker forwards it to the
// active controller.
func (b *Broker) handleElectLeaders(r *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	if r.Version == 0 {
		r.ElectionType = 0 // v0 is preferred election only
	}
	resp, err := b.forward(r, r.TimeoutMillis)
	if err == nil {
		if er, ok := resp.(*kmsg.ElectLeadersResponse); ok {
			return er
		}
		err = fmt.Errorf("controller answered %T", resp)
	}
	return electLeadersError(r, forwardErrorCode(err), errText(err))
}

// electLeadersError answers every requested partition (and, v1+, the request) with code.
func electLeadersError(r *kmsg.ElectLeadersRequest, code int16, msg *string) *kmsg.ElectLeadersResponse {
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.ErrorCode = code
	for _, rt := range r.Topics {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = rt.Topic
		for _, pid := range rt.Partitions {
			op := kmsg.NewElectLeadersResponseTopicPartition()
			op.Partition, op.ErrorCode, op.ErrorMessage = pid, code, msg
			out.Partitions = append(out.Partitions, op)
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp
}
