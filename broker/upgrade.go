package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/broker/metadata"
)

// Upgrading a previous release's single node (issue 10). Before the metadata quorum, a single node
// kept its topics in gregor-topics.json (metaFile: cluster ID, producer ID limit, and each topic's
// name, ID, partition count and configs) beside the partition directories. On its first start as a
// one-voter quorum, the node writes that registry to the metadata log (controller.ImportTopics) before
// its broker registers, then renames the file to gregor-topics.json.migrated: the logs, the high
// watermark checkpoints and __consumer_offsets stay where they are and the image applier opens them
// as the imported partitions' replicas.

// metaFile is the format of a previous release's gregor-topics.json (read for the upgrade only).
type metaFile struct {
	ClusterID      string      `json:"cluster_id"`
	NextProducerID int64       `json:"next_producer_id"`
	Topics         []metaTopic `json:"topics"`
}

type metaTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

const metaFileName = "gregor-topics.json"

func (b *Broker) metaPath() string { return filepath.Join(b.cfg.LogDirs[0], metaFileName) }

func (b *Broker) loadMeta() (*metaFile, error) {
	data, err := os.ReadFile(b.metaPath())
	if errors.Is(err, os.ErrNotExist) {
		return &metaFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m metaFile
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", b.metaPath(), err)
	}
	return &m, nil
}

// migratedSuffix is appended to gregor-topics.json once its topics are in the metadata log.
const migratedSuffix = ".migrated"

// importTimeout bounds the wait for the node's own controller to become active and commit the import.
const importTimeout = 60 * time.Second

// importLegacyRegistry imports m (read from gregor-topics.json) through ctl, unless the metadata log
// already holds topics (an earlier start imported them and stopped before the rename), then renames
// the file. Errors leave the file in place: the next start tries again.
func (b *Broker) importLegacyRegistry(ctx context.Context, ctl *controller.Node, m *metaFile) error {
	start := time.Now()
	topics := make([]controller.ImportedTopic, 0, len(m.Topics))
	partitions := 0
	for _, mt := range m.Topics {
		id, err := parseUUID(mt.ID)
		if err != nil {
			return fmt.Errorf("%s: topic %s: %w", b.metaPath(), mt.Name, err)
		}
		it := controller.ImportedTopic{Name: mt.Name, ID: metadata.Uuid(id), Configs: mt.Configs}
		for p := int32(0); p < mt.Partitions; p++ {
			epoch, err := b.latestLeaderEpoch(mt.Name, p, mt.Configs)
			if err != nil {
				return err
			}
			it.LeaderEpochs = append(it.LeaderEpochs, epoch)
			partitions++
		}
		topics = append(topics, it)
	}
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	imported := true
	for {
		err := ctl.ImportTopics(ctx, topics, m.NextProducerID)
		if err == nil {
			break
		}
		if errors.Is(err, controller.ErrAlreadyImported) {
			imported = false
			break
		}
		if !errors.Is(err, controller.ErrNotActive) {
			return fmt.Errorf("import %s into the metadata log: %w", b.metaPath(), err)
		}
		// NB: the node's own controller activates a few milliseconds after its quorum elected it.
		select {
		case <-ctx.Done():
			return fmt.Errorf("import %s into the metadata log: the controller did not become active: %w", b.metaPath(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := os.Rename(b.metaPath(), b.metaPath()+migratedSuffix); err != nil {
		return fmt.Errorf("imported %s into the metadata log, but: %w", b.metaPath(), err)
	}
	if imported {
		b.logger.Info("imported the single node's topics into the metadata log", "file", b.metaPath(), "renamed_to", metaFileName+migratedSuffix,
			"topics", len(topics), "partitions", partitions, "took", time.Since(start).Round(time.Millisecond))
	} else {
		b.logger.Warn("the metadata log already holds topics; the single node's registry was not imported again", "file", b.metaPath(), "renamed_to", metaFileName+migratedSuffix)
	}
	return nil
}

// latestLeaderEpoch is the latest leader epoch the log of partition p of topic recorded (0 if none):
// the epoch the imported partition is led at, so its next batches continue the log's epochs.
//
// NB: the log is opened (and its tail recovered) through broker/log, which owns the
// leader-epoch-checkpoint format; the image applier opens it again as the replica.
func (b *Broker) latestLeaderEpoch(topic string, p int32, configs map[string]string) (int32, error) {
	l, err := log.Open(b.partitionDir(topic, p), b.logConfig(configs), log.Options{FS: b.fs, Logger: b.logger.With("partition", fmt.Sprintf("%s-%d", topic, p))})
	if err != nil {
		return 0, fmt.Errorf("import partition %s-%d: %w", topic, p, err)
	}
	epoch := max(l.LatestEpoch(), 0)
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("import partition %s-%d: %w", topic, p, err)
	}
	return epoch, nil
}
