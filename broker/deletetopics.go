package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
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
	if b.forwardsAdmin() {
		return b.forwardDeleteTopics(r)
	}
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	for _, n := range r.TopicNames { // v0-v5
		n := n
		targets = append(targets, target{name: &n})
	}
	for _, t := range r.Topics { // v6+
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		var err error
		var name string
		if tg.name != nil {
			name = *tg.name
		} else if t := b.topicByID(tg.id); t != nil {
			name = t.name
			st.Topic = &t.name
		} else {
			err = apiErr(kerr.UnknownTopicID, "no topic with id %s", formatUUID(tg.id))
		}
		if err == nil {
			var id [16]byte
			id, err = b.deleteTopic(name)
			if tg.name != nil {
				st.TopicID = id
			}
		}
		if err != nil {
			st.ErrorCode = codeFor(err)
			st.ErrorMessage = errText(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
func (b *Broker) deleteTopic(name string) ([16]byte, error) {
	if isInternalTopic(name) {
		return [16]byte{}, apiErr(kerr.InvalidRequest, "internal topic %s cannot be deleted", name)
	}
	b.mu.Lock()
	t := b.topics[name]
	if t == nil {
		b.mu.Unlock()
		return [16]byte{}, apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	if t.image {
		b.mu.Unlock()
		return [16]byte{}, errImageTopic(name)
	}
	delete(b.topics, name)
	delete(b.byID, t.id)
	b.mu.Unlock()
	err := b.saveMeta(false)
	if err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	for _, p := range t.partitions {
		if p == nil {
			continue // a hole of a KRaft image topic: hosted elsewhere
		}
		if err := p.log.Delete(); err != nil {
			b.logger.Warn("deleting partition directory failed", "topic", name, "partition", p.index, "err", err)
		}
	}
	if err != nil {
		// On a full disk the deletion itself frees the space the registry needs: try again.
		if err = b.saveMeta(false); err != nil {
			b.logger.Error("persisting topic metadata failed after deleting the topic's partitions", "topic", name, "err", err)
		}
	}
	b.logger.Info("deleted topic", "topic", name)
	b.deleteTopicOffsets(name)
	return t.id, nil
}
