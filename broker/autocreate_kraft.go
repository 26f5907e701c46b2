package broker

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/metadata"
)

// autoCreateWait bounds how long a Metadata request waits for the topics it auto-creates to reach
// this broker's image; a topic not there yet is answered LEADER_NOT_AVAILABLE (retriable), as Kafka
// answers every topic it just auto-created.
const autoCreateWait = 5 * time.Second

// autoCreateViaController creates, through the active controller, the topics a Metadata request
// names that do not exist (auto.create.topics.enable), in one CreateTopics: ordinary topics with
// num.partitions and default.replication.factor, __consumer_offsets with
// offsets.topic.num.partitions and offsets.topic.replication.factor (compacted). It returns the
// error to answer for each topic it could not create or has not seen yet; a topic created
// concurrently by someone else is not an error.
func (b *Broker) autoCreateViaController(topics []kmsg.MetadataRequestTopic) map[string]error {
	req := kmsg.NewPtrCreateTopicsRequest()
	seen := map[string]bool{}
	for _, rt := range topics {
		if rt.Topic == nil || seen[*rt.Topic] || validTopicName(*rt.Topic) != nil {
			continue
		}
		name := *rt.Topic
		seen[name] = true
		if t, _ := b.lookup(name, 0); t != nil {
			continue
		}
		req.Topics = append(req.Topics, b.autoCreateTopic(name))
	}
	if len(req.Topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), autoCreateWait)
	defer cancel()
	req.TimeoutMillis = int32(autoCreateWait.Milliseconds())
	errs := map[string]error{}
	raw, err := b.forwardToController(ctx, req)
	if err != nil {
		err = apiErr(kerr.LeaderNotAvailable, "auto-creating the topic: %v", forwardError(err))
		for _, t := range req.Topics {
			errs[t.Topic] = err
		}
		return errs
	}
	var created []string
	for _, st := range raw.(*kmsg.CreateTopicsResponse).Topics {
		switch st.ErrorCode {
		case 0, kerr.TopicAlreadyExists.Code:
			created = append(created, st.Topic)
			if st.ErrorCode == 0 {
				b.logger.Info("auto-created topic through the controller", "topic", st.Topic, "partitions", st.NumPartitions,
					"replication_factor", st.ReplicationFactor)
			}
		default:
			errs[st.Topic] = describeTopicErr(st.ErrorCode, st.ErrorMessage)
		}
	}
	if err := b.waitApplied(ctx, func(img *metadata.Image) bool {
		for _, name := range created {
			if img.Topic(name) == nil {
				return false
			}
		}
		return true
	}); err != nil {
		for _, name := range created {
			if t, _ := b.lookup(name, 0); t == nil {
				errs[name] = apiErr(kerr.LeaderNotAvailable, "topic %s is being created", name)
			}
		}
	}
	return errs
}

// autoCreateTopic is the CreateTopics entry Kafka's AutoTopicCreationManager builds for name.
func (b *Broker) autoCreateTopic(name string) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions, t.ReplicationFactor = b.cfg.NumPartitions, b.cfg.DefaultReplicationFactor
	if name == offsetsTopic {
		t.NumPartitions, t.ReplicationFactor = b.cfg.OffsetsTopicPartitions, b.cfg.KRaft.OffsetsTopicReplicationFactor
		for k, v := range map[string]string{
			"cleanup.policy": "compact",
			"segment.bytes":  strconv.FormatInt(b.cfg.OffsetsTopicSegmentBytes, 10),
		} {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			t.Configs = append(t.Configs, c)
		}
	}
	return t
}
