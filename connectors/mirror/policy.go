package mirror

import (
	"fmt"
	"strings"
)

// Replication policy class names.
const (
	DefaultReplicationPolicyClass  = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
	IdentityReplicationPolicyClass = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
)

// ReplicationPolicy names remote topics and recognises them, as MirrorMaker 2's interface does.
type ReplicationPolicy interface {
	// FormatRemoteTopic is the name topic from cluster sourceAlias has on the target.
	FormatRemoteTopic(sourceAlias, topic string) string
	// TopicSource is the alias of the cluster a remote topic came from, or "" for a local topic.
	TopicSource(topic string) string
	// UpstreamTopic is the name of a remote topic on the cluster it came from, or "" if local.
	UpstreamTopic(topic string) string
}

// DefaultReplicationPolicy names remote topics <source-alias><separator><topic>.
type DefaultReplicationPolicy struct{ Separator string }

// FormatRemoteTopic implements ReplicationPolicy.
func (p DefaultReplicationPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	return sourceAlias + p.sep() + topic
}

// TopicSource implements ReplicationPolicy.
func (p DefaultReplicationPolicy) TopicSource(topic string) string {
	source, _, ok := strings.Cut(topic, p.sep())
	if !ok {
		return ""
	}
	return source
}

// UpstreamTopic implements ReplicationPolicy.
func (p DefaultReplicationPolicy) UpstreamTopic(topic string) string {
	_, upstream, ok := strings.Cut(topic, p.sep())
	if !ok {
		return ""
	}
	return upstream
}

func (p DefaultReplicationPolicy) sep() string {
	if p.Separator == "" {
		return "."
	}
	return p.Separator
}

// IdentityReplicationPolicy keeps topic names. It cannot tell a remote topic from a local one
// (except heartbeats), so it cannot prevent cycles: use it for one-way flows only.
type IdentityReplicationPolicy struct{}

// FormatRemoteTopic implements ReplicationPolicy.
func (p IdentityReplicationPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	if strings.HasSuffix(topic, HeartbeatsTopic) { // NB: heartbeats keep their trail, as in MM2
		return DefaultReplicationPolicy{}.FormatRemoteTopic(sourceAlias, topic)
	}
	return topic
}

// TopicSource implements ReplicationPolicy.
func (p IdentityReplicationPolicy) TopicSource(topic string) string {
	if strings.HasSuffix(topic, "."+HeartbeatsTopic) {
		return DefaultReplicationPolicy{}.TopicSource(topic)
	}
	return ""
}

// UpstreamTopic implements ReplicationPolicy.
func (p IdentityReplicationPolicy) UpstreamTopic(topic string) string {
	if strings.HasSuffix(topic, "."+HeartbeatsTopic) {
		return DefaultReplicationPolicy{}.UpstreamTopic(topic)
	}
	return ""
}

// newPolicy builds the policy named by replication.policy.class.
func newPolicy(class, separator string) (ReplicationPolicy, error) {
	switch class {
	case "", DefaultReplicationPolicyClass, "DefaultReplicationPolicy":
		return DefaultReplicationPolicy{Separator: separator}, nil
	case IdentityReplicationPolicyClass, "IdentityReplicationPolicy":
		return IdentityReplicationPolicy{}, nil
	}
	return nil, fmt.Errorf("mirror: unknown %s %q", ConfigReplicationPolicyClass, class)
}

// isCycle reports whether mirroring topic to targetAlias would send records back to a cluster
// they came from: MirrorMaker 2's rule, following the remote-topic chain upstream.
func isCycle(p ReplicationPolicy, targetAlias, topic string) bool {
	for range 32 { // NB: bounded; a chain longer than 32 clusters is treated as a cycle
		source := p.TopicSource(topic)
		if source == "" {
			return false
		}
		if source == targetAlias {
			return true
		}
		upstream := p.UpstreamTopic(topic)
		if upstream == "" || upstream == topic {
			return false
		}
		topic = upstream
	}
	return true
}
