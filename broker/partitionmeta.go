package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/gregor-streams/gregor/broker/log"
)

// partitionMetadataFile names, in each partition directory, the topic ID the directory belongs to
// (Kafka's partition.metadata, KIP-516): a directory is found by topic name, and a name may have
// belonged to another topic.
const partitionMetadataFile = "partition.metadata"

// claimPartitionDir makes dir the directory of topic id's partition before its log is opened. A
// directory whose partition.metadata names another topic ID holds a deleted topic of the same
// name (deleted and re-created while this broker was away, or a deletion cut short): it is removed,
// so the new topic starts empty instead of serving the old one's records. A directory without the
// file (written before the file existed) is taken as the topic's.
func (b *Broker) claimPartitionDir(dir string, id [16]byte) error {
	path := filepath.Join(dir, partitionMetadataFile)
	data, err := log.ReadFile(b.fs, path)
	switch {
	case err == nil:
		had, perr := parsePartitionMetadata(data)
		if perr != nil {
			return fmt.Errorf("%s: %w", path, perr)
		}
		if had == id {
			return nil
		}
		b.logger.Warn("partition directory belongs to a deleted topic of the same name; deleting it",
			"dir", dir, "topic_id", formatUUID(id), "dir_topic_id", formatUUID(had))
		if err := b.fs.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete the stale partition directory %s: %w", dir, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := b.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return log.WriteFileAtomic(b.fs, path, []byte(fmt.Sprintf("version: 0\ntopic_id: %s\n", formatUUID(id))))
}

// parsePartitionMetadata reads the topic ID from a partition.metadata file.
func parsePartitionMetadata(data []byte) ([16]byte, error) {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "topic_id" {
			continue
		}
		return parseUUID(strings.TrimSpace(v))
	}
	return [16]byte{}, errors.New("no topic_id")
}
