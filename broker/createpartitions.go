package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
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
	if b.forwardsAdmin() {
		return b.forwardCreatePartitions(r)
	}
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	budget := b.newRequestBudget()
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if err := b.createPartitions(rt, r.ValidateOnly, budget); err != nil {
			st.ErrorCode = codeFor(err)
			st.ErrorMessage = errText(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// createPartitions raises a topic's partition count. Like createTopic, it checks the bounds and
// reserves the new partitions under b.mu, creates them without it, and rolls back on failure.
func (b *Broker) createPartitions(rt kmsg.CreatePartitionsRequestTopic, validateOnly bool, budget *requestBudget) error {
	b.mu.Lock()
	t := b.topics[rt.Topic]
	have, err := b.checkCreatePartitionsLocked(t, rt)
	if t != nil && t.image {
		err = errImageTopic(t.name)
	}
	if err == nil {
		err = budget.take(rt.Count - have)
	}
	if err == nil {
		err = b.reservePartitionsLocked(rt.Count - have)
	}
	if err != nil || validateOnly {
		if err == nil {
			b.releasePartitionsLocked(rt.Count - have)
		}
		b.mu.Unlock()
		return err
	}
	t.growing = true
	b.mu.Unlock()

	parts, err := b.openNewPartitions(t, have, rt.Count)

	b.mu.Lock()
	t.growing = false
	b.releasePartitionsLocked(rt.Count - have)
	if err != nil {
		b.mu.Unlock()
		return apiErr(kerr.KafkaStorageError, "%v", err)
	}
	if b.topics[t.name] != t {
		b.mu.Unlock()
		b.deletePartitions(parts)
		return apiErr(kerr.UnknownTopicOrPartition, "topic %q was deleted while its partitions were created", t.name)
	}
	t.partitions = append(t.partitions, parts...)
	count := len(t.partitions)
	b.mu.Unlock()
	if err := b.saveMeta(false); err != nil {
		b.repeats.Error("persisting topic metadata failed", "err", err)
	}
	b.logger.Info("added partitions", "topic", t.name, "partitions", count)
	return nil
}

// checkCreatePartitionsLocked validates a CreatePartitions topic against t (nil: unknown) and
// returns t's current partition count. Requires b.mu.
func (b *Broker) checkCreatePartitionsLocked(t *topic, rt kmsg.CreatePartitionsRequestTopic) (int32, error) {
	if t == nil {
		return 0, apiErr(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
	}
	if t.growing {
		return 0, apiErr(kerr.InvalidPartitions, "partitions are being added to topic %q by another request", rt.Topic)
	}
	have := int32(len(t.partitions))
	if rt.Count <= have {
		return 0, apiErr(kerr.InvalidPartitions, "topic %q has %d partitions; the new count %d must be larger", rt.Topic, have, rt.Count)
	}
	if rt.Assignment != nil && int32(len(rt.Assignment)) != rt.Count-have {
		return 0, apiErr(kerr.InvalidReplicaAssignment, "%d assignments given for %d new partitions", len(rt.Assignment), rt.Count-have)
	}
	for _, a := range rt.Assignment {
		if len(a.Replicas) != 1 || a.Replicas[0] != b.cfg.NodeID {
			return 0, apiErr(kerr.InvalidReplicaAssignment, "replicas %v; this cluster has the single broker %d", a.Replicas, b.cfg.NodeID)
		}
	}
	return have, nil
}
