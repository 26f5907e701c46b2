package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/controller"
	"github.com/gregor-streams/gregor/broker/metadata"
	"github.com/gregor-streams/gregor/broker/quorum"
)

// DefaultFetchMaxWait is how long a metadata Fetch long-polls the quorum leader (Kafka's observers
// use the same order of magnitude, controller.quorum.fetch.timeout.ms being the bound).
const DefaultFetchMaxWait = 500 * time.Millisecond

// RemoteConfig configures a broker-only node's metadata follower.
type RemoteConfig struct {
	// NodeID is the broker's node.id (the Fetch's replica ID: an observer).
	NodeID int32
	// ClusterID is cluster.id.
	ClusterID string
	// Voters is controller.quorum.voters.
	Voters []quorum.Voter
	// MaxWait is the Fetch long-poll (DefaultFetchMaxWait if zero).
	MaxWait time.Duration
	// MaxBytes bounds one Fetch or FetchSnapshot answer (1 MiB if zero): a snapshot larger than that
	// comes in several chunks.
	MaxBytes int32
	// RetryBackoff and MaxRetryBackoff bound the waits after failures (the Manager's defaults if zero).
	RetryBackoff, MaxRetryBackoff time.Duration
	// Logger (slog.Default if nil).
	Logger *slog.Logger
}

// FollowRemote starts following the metadata log over the network into pub, from pub's current
// image: Kafka's Fetch on __cluster_metadata-0 to the quorum leader (found among the voters, following
// NOT_LEADER_OR_FOLLOWER's CurrentLeader), and FetchSnapshot when the leader answers with a snapshot
// ID because the log the follower needs was compacted.
func FollowRemote(cfg RemoteConfig, pub *metadata.Publisher) (*Follower, error) {
	if len(cfg.Voters) == 0 {
		return nil, fmt.Errorf("lifecycle: no controllers: %s is empty", quorum.VotersConfig)
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultFetchMaxWait
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = readBytes
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.MaxRetryBackoff < cfg.RetryBackoff {
		cfg.MaxRetryBackoff = max(DefaultMaxRetryBackoff, cfg.RetryBackoff)
	}
	f := newFollower(pub, cfg.Logger)
	ctrl := newControllers(cfg.Voters, "gregor-metadata-"+strconv.Itoa(int(cfg.NodeID)))
	f.start(func() error {
		defer ctrl.close()
		return f.runRemote(cfg, ctrl)
	})
	return f, nil
}

// errRetry marks a fetch failure worth retrying (leader moved, voter unreachable).
var errRetry = errors.New("lifecycle: metadata fetch: retry")

func (f *Follower) runRemote(cfg RemoteConfig, ctrl *controllers) error {
	next := f.pub.Current().Offset() + 1
	backoff := time.Duration(0)
	for f.ctx.Err() == nil {
		var err error
		next, err = f.fetchOnce(cfg, ctrl, next)
		if err == nil {
			backoff = 0
			continue
		}
		var wait time.Duration
		switch {
		case errors.Is(err, errNotController):
			// NB: the quorum leader moved or is not known yet: look for it again shortly (each attempt
			// asks the voters), no growing backoff.
			backoff = 0
			wait = jitter(cfg.RetryBackoff)
		case errors.Is(err, errRetry):
			backoff = min(max(2*backoff, cfg.RetryBackoff), cfg.MaxRetryBackoff)
			wait = jitter(backoff)
		default:
			return err
		}
		f.logger.Debug("metadata fetch failed; retrying", "err", err, "in", wait)
		select {
		case <-f.ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// fetchOnce fetches from next and applies what came back; it returns the next offset to fetch.
func (f *Follower) fetchOnce(cfg RemoteConfig, ctrl *controllers, next int64) (int64, error) {
	ctx, cancel := context.WithTimeout(f.ctx, cfg.MaxWait+10*time.Second)
	defer cancel()
	req := kmsg.NewPtrFetchRequest()
	// NB: the version is negotiated when sent, so both the pre- and post-KIP-516 and KIP-903 fields are
	// set; each version encodes its own.
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = cfg.NodeID, cfg.NodeID, -1
	req.ClusterID = kmsg.StringPtr(cfg.ClusterID)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = int32(cfg.MaxWait/time.Millisecond), 1, cfg.MaxBytes
	req.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic, t.TopicID = controller.MetadataTopic, controller.MetadataTopicID
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition, p.FetchOffset, p.PartitionMaxBytes = 0, next, cfg.MaxBytes
	p.CurrentLeaderEpoch, p.LastFetchedEpoch = -1, f.pub.Current().Epoch()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, id, err := ctrl.do(ctx, req)
	if err != nil {
		return next, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 {
		return next, fmt.Errorf("%w: controller %d: %v", errRetry, id, kerr.ErrorForCode(fr.ErrorCode))
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return next, fmt.Errorf("%w: controller %d answered %d topics", errRetry, id, len(fr.Topics))
	}
	rp := fr.Topics[0].Partitions[0]
	switch rp.ErrorCode {
	case 0:
	case kerr.NotLeaderForPartition.Code:
		ctrl.notActive(id, rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch)
		return next, fmt.Errorf("%w: node %d does not lead the quorum (leader %d)", errNotController, id, rp.CurrentLeader.LeaderID)
	default:
		return next, fmt.Errorf("%w: controller %d: %v", errRetry, id, kerr.ErrorForCode(rp.ErrorCode))
	}
	ctrl.setActive(id)
	if f.catchUp < 0 {
		f.catchUp = max(rp.HighWatermark, 1) // the first answer's high watermark: everything committed then
	}
	if rp.SnapshotID.EndOffset > 0 && len(rp.RecordBatches) == 0 {
		next, err := f.loadRemoteSnapshot(ctx, cfg, ctrl, rp.SnapshotID.EndOffset, rp.SnapshotID.Epoch)
		if err == nil {
			f.caughtUp(next)
		}
		return next, err
	}
	batches, err := metadata.ReadLogBatches(rp.RecordBatches)
	if err != nil {
		return next, err
	}
	for _, b := range batches {
		if b.Offset < next {
			continue
		}
		if err := f.loader.ApplyBatch(b.Offset, b.Epoch, b.Records); err != nil {
			return next, err
		}
		next = b.Offset + 1
	}
	if len(batches) == 0 {
		// Nothing up to the high watermark but raft's own entries: move past them.
		next = max(next, rp.HighWatermark)
	}
	f.caughtUp(next)
	return next, nil
}

// loadRemoteSnapshot fetches the snapshot ending at endOffset in chunks and loads it.
func (f *Follower) loadRemoteSnapshot(ctx context.Context, cfg RemoteConfig, ctrl *controllers, endOffset int64, epoch int32) (int64, error) {
	var image []byte
	chunks := 0
	for range 1 << 16 {
		chunks++
		req := kmsg.NewPtrFetchSnapshotRequest()
		req.ClusterID = kmsg.StringPtr(cfg.ClusterID)
		req.ReplicaID, req.MaxBytes = cfg.NodeID, cfg.MaxBytes
		t := kmsg.NewFetchSnapshotRequestTopic()
		t.Topic = controller.MetadataTopic
		p := kmsg.NewFetchSnapshotRequestTopicPartition()
		p.Partition, p.CurrentLeaderEpoch = 0, -1
		p.SnapshotID.EndOffset, p.SnapshotID.Epoch = endOffset, epoch
		p.Position = int64(len(image))
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		resp, id, err := ctrl.do(ctx, req)
		if err != nil {
			return f.pub.Current().Offset() + 1, err
		}
		fr := resp.(*kmsg.FetchSnapshotResponse)
		if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			return f.pub.Current().Offset() + 1, fmt.Errorf("%w: FetchSnapshot on controller %d: error %d", errRetry, id, fr.ErrorCode)
		}
		rp := fr.Topics[0].Partitions[0]
		if rp.ErrorCode != 0 {
			if rp.ErrorCode == kerr.NotLeaderForPartition.Code {
				ctrl.notActive(id, rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch)
			}
			// NB: SNAPSHOT_NOT_FOUND (a newer snapshot replaced it) and the rest: fetch again, which
			// names the current snapshot.
			return f.pub.Current().Offset() + 1, fmt.Errorf("%w: FetchSnapshot on controller %d: %v", errRetry, id, kerr.ErrorForCode(rp.ErrorCode))
		}
		if rp.Position != int64(len(image)) {
			return f.pub.Current().Offset() + 1, fmt.Errorf("%w: FetchSnapshot answered position %d, asked %d", errRetry, rp.Position, len(image))
		}
		image = append(image, rp.Bytes...)
		if int64(len(image)) >= rp.Size || len(rp.Bytes) == 0 {
			break
		}
	}
	if err := f.loader.LoadSnapshot(image); err != nil {
		return 0, fmt.Errorf("metadata snapshot ending at %d: %w", endOffset, err)
	}
	f.logger.Info("metadata snapshot loaded", "end_offset", endOffset, "epoch", epoch, "bytes", len(image), "chunks", chunks)
	return endOffset, nil
}
