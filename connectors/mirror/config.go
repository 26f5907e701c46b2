package mirror

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gregor-streams/gregor/connect"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MirrorMaker 2's class names, config names and topic names.
const (
	SourceClass     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	CheckpointClass = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	HeartbeatClass  = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"

	ConfigSourceAlias              = "source.cluster.alias"
	ConfigTargetAlias              = "target.cluster.alias"
	ConfigSourceBootstrap          = "source.cluster.bootstrap.servers"
	ConfigTargetBootstrap          = "target.cluster.bootstrap.servers"
	ConfigTopics                   = "topics"
	ConfigTopicsExclude            = "topics.exclude"
	ConfigGroups                   = "groups"
	ConfigGroupsExclude            = "groups.exclude"
	ConfigReplicationFactor        = "replication.factor"
	ConfigReplicationPolicyClass   = "replication.policy.class"
	ConfigReplicationPolicySep     = "replication.policy.separator"
	ConfigSyncTopicConfigs         = "sync.topic.configs.enabled"
	ConfigRefreshTopicsInterval    = "refresh.topics.interval.seconds"
	ConfigOffsetSyncsLocation      = "offset-syncs.topic.location"
	ConfigOffsetLagMax             = "offset.lag.max"
	ConfigEmitCheckpoints          = "emit.checkpoints.enabled"
	ConfigEmitCheckpointsInterval  = "emit.checkpoints.interval.seconds"
	ConfigSyncGroupOffsets         = "sync.group.offsets.enabled"
	ConfigSyncGroupOffsetsInterval = "sync.group.offsets.interval.seconds"
	ConfigEmitHeartbeats           = "emit.heartbeats.enabled"
	ConfigEmitHeartbeatsInterval   = "emit.heartbeats.interval.seconds"

	// ConfigAssignedPartitions is the task config listing a source task's partitions.
	ConfigAssignedPartitions = "task.assigned.partitions"

	// HeartbeatsTopic is the heartbeats topic on the target.
	HeartbeatsTopic = "heartbeats"
)

// OffsetSyncsTopic is the offset-syncs topic of the flow to target.
func OffsetSyncsTopic(targetAlias string) string {
	return "mm2-offset-syncs." + targetAlias + ".internal"
}

// CheckpointsTopic is the checkpoints topic on the target of the flow from source.
func CheckpointsTopic(sourceAlias string) string { return sourceAlias + ".checkpoints.internal" }

func init() {
	connect.Register(connect.Plugin{Class: SourceClass, Aliases: []string{"MirrorSourceConnector"}, Type: connect.PluginSource,
		Version: connect.Version, New: func() connect.Connector { return &MirrorSourceConnector{} }})
	connect.Register(connect.Plugin{Class: CheckpointClass, Aliases: []string{"MirrorCheckpointConnector"}, Type: connect.PluginSource,
		Version: connect.Version, New: func() connect.Connector { return &MirrorCheckpointConnector{} }})
	connect.Register(connect.Plugin{Class: HeartbeatClass, Aliases: []string{"MirrorHeartbeatConnector"}, Type: connect.PluginSource,
		Version: connect.Version, New: func() connect.Connector { return &MirrorHeartbeatConnector{} }})
}

func str(name, def, doc string) connect.ConfigKey {
	return connect.ConfigKey{Name: name, Type: connect.TypeConfigString, Default: def, Importance: connect.High, Documentation: doc}
}

func configDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: ConfigSourceAlias, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Alias of the source cluster.", Validator: connect.NonEmptyString()}).
		Define(connect.ConfigKey{Name: ConfigTargetAlias, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Alias of the target cluster.", Validator: connect.NonEmptyString()}).
		Define(connect.ConfigKey{Name: ConfigSourceBootstrap, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Bootstrap servers of the source cluster.", Validator: connect.NonEmptyString()}).
		Define(connect.ConfigKey{Name: ConfigTargetBootstrap, Type: connect.TypeConfigString, Default: connect.NoDefault, Importance: connect.High,
			Documentation: "Bootstrap servers of the target cluster.", Validator: connect.NonEmptyString()}).
		Define(str(ConfigTopics, ".*", "Topics to replicate: comma-separated regexes.")).
		Define(str(ConfigTopicsExclude, `.*[\-\.]internal, .*\.replica, __.*`, "Topics not to replicate: comma-separated regexes.")).
		Define(str(ConfigGroups, ".*", "Consumer groups to replicate: comma-separated regexes.")).
		Define(str(ConfigGroupsExclude, `console-consumer-.*, connect-.*, __.*`, "Consumer groups not to replicate.")).
		Define(str(ConfigReplicationFactor, "-1", "Replication factor of created remote topics (-1: the target's default).")).
		Define(str(ConfigReplicationPolicyClass, DefaultReplicationPolicyClass, "How remote topics are named.")).
		Define(str(ConfigReplicationPolicySep, ".", "Separator of DefaultReplicationPolicy.")).
		Define(str(ConfigSyncTopicConfigs, "true", "Copy topic configs to remote topics.")).
		Define(str(ConfigRefreshTopicsInterval, "600", "How often to look for new topics and partitions.")).
		Define(str(ConfigOffsetSyncsLocation, "source", "Cluster holding the offset-syncs topic: source or target.")).
		Define(str(ConfigOffsetLagMax, "100", "How far a remote partition may fall behind before an offset sync is written.")).
		Define(str(ConfigEmitCheckpoints, "true", "Emit checkpoints.")).
		Define(str(ConfigEmitCheckpointsInterval, "60", "Seconds between checkpoints.")).
		Define(str(ConfigSyncGroupOffsets, "false", "Commit translated offsets to groups on the target.")).
		Define(str(ConfigSyncGroupOffsetsInterval, "60", "Seconds between group offset syncs.")).
		Define(str(ConfigEmitHeartbeats, "true", "Emit heartbeats.")).
		Define(str(ConfigEmitHeartbeatsInterval, "1", "Seconds between heartbeats."))
}

// flowConfig is the parsed config common to the three connectors.
type flowConfig struct {
	sourceAlias, targetAlias     string
	sourceSeeds, targetSeeds     []string
	topics, topicsExclude        []*regexp.Regexp
	groups, groupsExclude        []*regexp.Regexp
	policy                       ReplicationPolicy
	replicationFactor            int16
	syncTopicConfigs             bool
	refreshTopics                time.Duration
	offsetSyncsOnTarget          bool
	offsetLagMax                 int64
	emitCheckpoints, syncGroups  bool
	checkpointsEvery, syncsEvery time.Duration
	emitHeartbeats               bool
	heartbeatsEvery              time.Duration
}

func parseFlow(cfg map[string]string) (flowConfig, error) {
	get := func(k string) string {
		if v, ok := cfg[k]; ok {
			return strings.TrimSpace(v)
		}
		if key := configDef().Key(k); key != nil {
			if s, ok := key.Default.(string); ok {
				return s
			}
		}
		return ""
	}
	var f flowConfig
	var errs []error
	bad := func(k string, err error) {
		errs = append(errs, fmt.Errorf("%w: %s: %v", connect.ErrInvalidConfig, k, err))
	}
	seconds := func(k string) time.Duration {
		v, err := strconv.ParseFloat(get(k), 64)
		if err != nil || v <= 0 {
			bad(k, fmt.Errorf("want a positive number of seconds, got %q", get(k)))
			return time.Second
		}
		return time.Duration(v * float64(time.Second))
	}
	boolean := func(k string) bool {
		v, err := strconv.ParseBool(get(k))
		if err != nil {
			bad(k, err)
		}
		return v
	}
	regexes := func(k string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, p := range strings.Split(get(k), ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			re, err := regexp.Compile("^(?:" + p + ")$")
			if err != nil {
				bad(k, err)
				continue
			}
			out = append(out, re)
		}
		return out
	}
	f.sourceAlias, f.targetAlias = get(ConfigSourceAlias), get(ConfigTargetAlias)
	if f.sourceAlias == "" || f.targetAlias == "" {
		bad(ConfigSourceAlias+"/"+ConfigTargetAlias, fmt.Errorf("both aliases are required"))
	}
	f.sourceSeeds, f.targetSeeds = splitList(get(ConfigSourceBootstrap)), splitList(get(ConfigTargetBootstrap))
	if len(f.sourceSeeds) == 0 || len(f.targetSeeds) == 0 {
		bad(ConfigSourceBootstrap+"/"+ConfigTargetBootstrap, fmt.Errorf("both bootstrap servers are required"))
	}
	f.topics, f.topicsExclude = regexes(ConfigTopics), regexes(ConfigTopicsExclude)
	f.groups, f.groupsExclude = regexes(ConfigGroups), regexes(ConfigGroupsExclude)
	var err error
	if f.policy, err = newPolicy(get(ConfigReplicationPolicyClass), get(ConfigReplicationPolicySep)); err != nil {
		bad(ConfigReplicationPolicyClass, err)
	}
	rf, err := strconv.ParseInt(get(ConfigReplicationFactor), 10, 16)
	if err != nil || rf == 0 || rf < -1 {
		bad(ConfigReplicationFactor, fmt.Errorf("want -1 or a positive number, got %q", get(ConfigReplicationFactor)))
	}
	f.replicationFactor = int16(rf)
	f.syncTopicConfigs = boolean(ConfigSyncTopicConfigs)
	f.refreshTopics = seconds(ConfigRefreshTopicsInterval)
	switch get(ConfigOffsetSyncsLocation) {
	case "source":
	case "target":
		f.offsetSyncsOnTarget = true
	default:
		bad(ConfigOffsetSyncsLocation, fmt.Errorf("want source or target"))
	}
	if f.offsetLagMax, err = strconv.ParseInt(get(ConfigOffsetLagMax), 10, 64); err != nil || f.offsetLagMax < 0 {
		bad(ConfigOffsetLagMax, fmt.Errorf("want a non-negative number, got %q", get(ConfigOffsetLagMax)))
	}
	f.emitCheckpoints, f.syncGroups = boolean(ConfigEmitCheckpoints), boolean(ConfigSyncGroupOffsets)
	f.checkpointsEvery, f.syncsEvery = seconds(ConfigEmitCheckpointsInterval), seconds(ConfigSyncGroupOffsetsInterval)
	f.emitHeartbeats, f.heartbeatsEvery = boolean(ConfigEmitHeartbeats), seconds(ConfigEmitHeartbeatsInterval)
	if len(errs) > 0 {
		return flowConfig{}, errs[0]
	}
	return f, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// replicates reports whether the flow mirrors source topic: it matches topics, not topics.exclude,
// is no internal topic, and would not go back to a cluster it came from.
func (f *flowConfig) replicates(topic string) bool {
	if topic == OffsetSyncsTopic(f.targetAlias) || strings.HasPrefix(topic, "mm2-") || strings.HasSuffix(topic, ".internal") || strings.HasPrefix(topic, "__") {
		return false
	}
	if strings.HasSuffix(topic, "."+HeartbeatsTopic) || topic == HeartbeatsTopic {
		return !isCycle(f.policy, f.targetAlias, topic) // heartbeats are mirrored whatever the filter
	}
	return matchesAny(f.topics, topic) && !matchesAny(f.topicsExclude, topic) && !isCycle(f.policy, f.targetAlias, topic)
}

func (f *flowConfig) replicatesGroup(group string) bool {
	return matchesAny(f.groups, group) && !matchesAny(f.groupsExclude, group)
}

func (f *flowConfig) sourceClient(extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.sourceSeeds...)}, extra...)...)
}

func (f *flowConfig) targetClient(extra ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(f.targetSeeds...)}, extra...)...)
}

// offsetSyncsClient is a client of the cluster holding the offset-syncs topic.
func (f *flowConfig) offsetSyncsClient(extra ...kgo.Opt) (*kgo.Client, error) {
	if f.offsetSyncsOnTarget {
		return f.targetClient(extra...)
	}
	return f.sourceClient(extra...)
}
