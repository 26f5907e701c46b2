package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/server"
)

func init() {
	// CreateTopics v0-7.
	register(19, 0, 7, func(b *Broker, _ *server.Conn, r *kmsg.CreateTopicsRequest) server.Response {
		return server.Response{Msg: b.handleCreateTopics(r)}
	})
}

func (b *Broker) handleCreateTopics(r *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	return b.forwardCreateTopics(r) // createtopics_kraft.go
}

// configSource is DescribeConfigs' source enum for a topic config entry.
func (b *Broker) configSource(tc config.Topic, e config.Entry) int8 {
	if e.Explicit {
		return 1 // DYNAMIC_TOPIC_CONFIG
	}
	if _, set := tc.BrokerSourceFor(e.Name); set {
		return 4 // STATIC_BROKER_CONFIG
	}
	return 5 // DEFAULT_CONFIG
}
