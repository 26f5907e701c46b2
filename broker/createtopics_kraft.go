package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/config"
	"github.com/gregor-streams/gregor/broker/metadata"
)

// forwardCreateTopics creates topics through the active controller (KRaft mode). The controller
// validates, places replicas over the unfenced brokers (INVALID_REPLICATION_FACTOR when the factor
// exceeds them) and fills num.partitions / default.replication.factor for -1; this broker then waits,
// within the request's timeout, until it has applied the new topics, and describes their configs as
// the single node does (every topic config with its source, CreateTopics v5+).
func (b *Broker) forwardCreateTopics(r *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	ctx, cancel := adminContext(r.TimeoutMillis)
	defer cancel()
	fwd := *r
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	raw, err := b.forwardToController(ctx, &fwd)
	if err != nil {
		err = forwardError(err)
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.NumPartitions, st.ReplicationFactor = -1, -1
			st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	got := raw.(*kmsg.CreateTopicsResponse)
	resp.ThrottleMillis = got.ThrottleMillis
	resp.Topics = got.Topics
	if r.ValidateOnly {
		for i := range resp.Topics {
			b.describeCreatedConfigs(&resp.Topics[i], requestConfigs(r, resp.Topics[i].Topic))
		}
		return resp
	}
	var created []metadata.Uuid
	for _, st := range resp.Topics {
		if st.ErrorCode == 0 {
			created = append(created, st.TopicID)
		}
	}
	var waitErr error
	if len(created) > 0 && r.TimeoutMillis > 0 {
		waitErr = b.waitApplied(ctx, func(img *metadata.Image) bool {
			for _, id := range created {
				if img.TopicByID(id) == nil {
					return false
				}
			}
			return true
		})
	}
	for i := range resp.Topics {
		st := &resp.Topics[i]
		if st.ErrorCode != 0 {
			continue
		}
		if waitErr != nil {
			err := notSeenError(fmt.Sprintf("topic %s", st.Topic), waitErr)
			st.ErrorCode, st.ErrorMessage = codeFor(err), errText(err)
			continue
		}
		b.describeCreatedConfigs(st, requestConfigs(r, st.Topic))
		b.logger.Info("created topic through the controller", "topic", st.Topic, "partitions", st.NumPartitions,
			"replication_factor", st.ReplicationFactor)
	}
	return resp
}

// requestConfigs returns the configs the request sets for topic.
func requestConfigs(r *kmsg.CreateTopicsRequest, topic string) map[string]string {
	out := map[string]string{}
	for _, rt := range r.Topics {
		if rt.Topic != topic {
			continue
		}
		for _, c := range rt.Configs {
			if c.Value != nil {
				out[c.Name] = *c.Value
			}
		}
	}
	return out
}

// describeCreatedConfigs puts every topic config of a created topic in st, with its source.
func (b *Broker) describeCreatedConfigs(st *kmsg.CreateTopicsResponseTopic, overrides map[string]string) {
	if st.ErrorCode != 0 {
		return
	}
	tc := config.Topic{Overrides: overrides, Broker: b.cfg}
	st.Configs = st.Configs[:0]
	for _, e := range tc.Entries() {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		v := e.Value
		c.Value = &v
		c.Source = b.configSource(tc, e)
		st.Configs = append(st.Configs, c)
	}
}
