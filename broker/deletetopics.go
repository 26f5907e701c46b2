package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// DeleteTopics v0-6 (v6: topic IDs).
	register(20, 0, 6, func(b *Broker, _ *server.Conn, r *kmsg.DeleteTopicsRequest) server.Response {
		return server.Response{Msg: b.handleDeleteTopics(r)}
	})
}

func (b *Broker) handleDeleteTopics(r *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	return b.forwardDeleteTopics(r) // deletetopics_kraft.go
}
