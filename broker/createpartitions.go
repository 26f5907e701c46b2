package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// CreatePartitions v0-3.
	register(37, 0, 3, func(b *Broker, _ *server.Conn, r *kmsg.CreatePartitionsRequest) server.Response {
		return server.Response{Msg: b.handleCreatePartitions(r)}
	})
}

func (b *Broker) handleCreatePartitions(r *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	return b.forwardCreatePartitions(r) // createpartitions_kraft.go
}
