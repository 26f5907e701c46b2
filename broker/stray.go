package broker

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// deleteStrays deletes the partition directories in the log dirs that img, the first image this
// broker applies after it started, does not assign to it: replicas of topics deleted, or moved to
// other brokers, while it was away (Kafka's stray replicas). Kept, they would take disk for ever.
//
// NB: only the first image, which the metadata follower publishes once it caught up with the
// quorum's commit index, is complete enough to judge by; a partition the image assigns here is
// never touched, even if it failed to open.
func (a *imageApplier) deleteStrays(img *metadata.Image) {
	for _, dir := range a.b.cfg.LogDirs {
		entries, err := a.b.fs.ReadDir(dir)
		if err != nil {
			a.b.logger.Warn("listing a log dir for stray replicas failed", "dir", dir, "err", err)
			continue
		}
		for _, e := range entries {
			topic, p, ok := partitionDirName(e.Name())
			if !e.IsDir() || !ok || e.Name() == quorum.MetadataDirName {
				continue
			}
			if ip := img.Partition(topic, p); ip != nil && slices.Contains(ip.Replicas, a.node) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if !a.looksLikePartitionDir(path) {
				continue
			}
			a.b.logger.Warn("deleting a stray replica: the metadata does not assign it to this broker (its topic was deleted or it moved while this broker was away)", "dir", path)
			if err := a.b.fs.RemoveAll(path); err != nil {
				a.b.logger.Warn("deleting a stray replica failed", "dir", path, "err", err)
			}
		}
	}
}

// looksLikePartitionDir reports whether dir holds a partition log's files (a segment, the
// leader-epoch checkpoint or partition.metadata): a directory of another kind that happens to be
// named like one is never deleted.
func (a *imageApplier) looksLikePartitionDir(dir string) bool {
	entries, err := a.b.fs.ReadDir(dir)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(entries, func(e fs.DirEntry) bool {
		n := e.Name()
		return strings.HasSuffix(n, ".log") || n == partitionMetadataFile || n == "leader-epoch-checkpoint"
	})
}

// partitionDirName splits a partition directory name, <topic>-<partition>.
func partitionDirName(name string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || n < 0 || validTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], int32(n), true
}
