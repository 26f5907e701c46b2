package statestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrPartitionMismatch is returned (wrapped, with the topic and both counts) when an internal
// topic exists with a partition count other than the one required.
var ErrPartitionMismatch = errors.New("statestore: internal topic has the wrong partition count")

// ChangelogTopic is the changelog topic of a store: <applicationID>-<store>-changelog.
func ChangelogTopic(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}

// InternalTopic describes a topic the application owns and creates at start.
type InternalTopic struct {
	Name       string
	Partitions int32
	// ReplicationFactor; 0 or -1 means the broker's default.
	ReplicationFactor int16
	// Configs are topic-level configs by their Kafka names (cleanup.policy, retention.ms, ...).
	Configs map[string]string
}

// ChangelogTopicSpec is a key-value store changelog: cleanup.policy=compact.
func ChangelogTopicSpec(name string, partitions int32) InternalTopic {
	return InternalTopic{Name: name, Partitions: partitions,
		Configs: map[string]string{"cleanup.policy": "compact"}}
}

// WindowedChangelogRetentionExtra is what a windowed changelog keeps beyond the store's
// retention, as Kafka Streams does (windowstore.changelog.additional.retention.ms).
const WindowedChangelogRetentionExtra = 24 * time.Hour

// WindowedChangelogTopicSpec is a window or session store changelog:
// cleanup.policy=compact,delete with retention.ms = retention + 1 day, so that expired windows
// leave the topic too.
func WindowedChangelogTopicSpec(name string, partitions int32, retention time.Duration) InternalTopic {
	ms := (retention + WindowedChangelogRetentionExtra).Milliseconds()
	return InternalTopic{Name: name, Partitions: partitions, Configs: map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   strconv.FormatInt(ms, 10),
	}}
}

// EnsureTopics creates the topics that do not exist, and checks the partition count of those
// that do: a mismatch is an error wrapping ErrPartitionMismatch naming the topic and both
// counts. Configs of existing topics are not checked.
func EnsureTopics(ctx context.Context, cl *kgo.Client, topics ...InternalTopic) error {
	adm := kadm.NewClient(cl)
	for _, t := range topics {
		if t.Partitions <= 0 {
			return fmt.Errorf("statestore: internal topic %s: partition count %d", t.Name, t.Partitions)
		}
		rf := t.ReplicationFactor
		if rf == 0 {
			rf = -1
		}
		configs := make(map[string]*string, len(t.Configs))
		for k, v := range t.Configs {
			configs[k] = kadm.StringPtr(v)
		}
		_, err := adm.CreateTopic(ctx, t.Partitions, rf, configs, t.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("statestore: create internal topic %s: %w", t.Name, err)
		}
		details, err := adm.ListTopics(ctx, t.Name)
		if err != nil {
			return fmt.Errorf("statestore: describe internal topic %s: %w", t.Name, err)
		}
		d, ok := details[t.Name]
		if !ok || d.Err != nil {
			return fmt.Errorf("statestore: describe internal topic %s: %v", t.Name, d.Err)
		}
		if got := int32(len(d.Partitions)); got != t.Partitions {
			return fmt.Errorf("%w: topic %s has %d partitions, want %d", ErrPartitionMismatch, t.Name, got, t.Partitions)
		}
	}
	return nil
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
