package broker

import (
	"testing"

	"github.com/gregor-streams/gregor/broker/config"
)

// TestAutoCreateTopicUsesKafkasSettings: an auto-created topic asks the controller for
// num.partitions and default.replication.factor; __consumer_offsets for
// offsets.topic.num.partitions and offsets.topic.replication.factor, compacted, with
// offsets.topic.segment.bytes (Kafka's AutoTopicCreationManager).
func TestAutoCreateTopicUsesKafkasSettings(t *testing.T) {
	cfg, _, err := config.Load("", []string{"log.dirs=" + t.TempDir(), "num.partitions=6", "default.replication.factor=2",
		"offsets.topic.num.partitions=12", "offsets.topic.replication.factor=3", "offsets.topic.segment.bytes=1048576"})
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{cfg: cfg}
	if ct := b.autoCreateTopic("orders"); ct.NumPartitions != 6 || ct.ReplicationFactor != 2 || len(ct.Configs) != 0 {
		t.Errorf("orders: %d partitions, RF %d, configs %v", ct.NumPartitions, ct.ReplicationFactor, ct.Configs)
	}
	ct := b.autoCreateTopic("__consumer_offsets")
	cfgs := map[string]string{}
	for _, c := range ct.Configs {
		cfgs[c.Name] = *c.Value
	}
	if ct.NumPartitions != 12 || ct.ReplicationFactor != 3 || cfgs["cleanup.policy"] != "compact" || cfgs["segment.bytes"] != "1048576" {
		t.Errorf("__consumer_offsets: %d partitions, RF %d, configs %v", ct.NumPartitions, ct.ReplicationFactor, cfgs)
	}
}
