package quorum

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// Defaults, Kafka's where Kafka has the setting.
const (
	// DefaultSnapshotAfterBytes is metadata.log.max.record.bytes.between.snapshots (20 MiB).
	DefaultSnapshotAfterBytes = 20 << 20
	// DefaultTickInterval times elections and heartbeats; with DefaultElectionTicks it gives
	// controller.quorum.election.timeout.ms's default of 1000 ms.
	DefaultTickInterval = 100 * time.Millisecond
	// DefaultElectionTicks is the election timeout in ticks (randomized up to twice that).
	DefaultElectionTicks = 10
	// DefaultHeartbeatTicks sends heartbeats every tick.
	DefaultHeartbeatTicks = 1
	// DefaultSegmentBytes rolls the entry log every 8 MiB.
	DefaultSegmentBytes = 8 << 20
	// DefaultSnapshotCatchUpEntries entries stay behind a snapshot for followers slightly behind.
	DefaultSnapshotCatchUpEntries = 1000
	// DefaultMaxMessageBytes bounds one message between voters.
	DefaultMaxMessageBytes = 128 << 20
	// DefaultMaxBatchBytes bounds one proposal, as KRaft bounds a record batch (8 MiB).
	DefaultMaxBatchBytes = 8 << 20
	// DefaultSnapshotInterval is metadata.log.max.snapshot.interval.ms (1 hour).
	DefaultSnapshotInterval = time.Hour
	// DefaultCommittedBuffer is the capacity of the Committed channel.
	DefaultCommittedBuffer = 256
)

// MetadataDirName is the metadata partition's directory inside a log dir.
const MetadataDirName = "__cluster_metadata-0"

// Config configures one voter of the quorum.
type Config struct {
	// NodeID is this node's node.id; it must be one of Voters.
	NodeID int32
	// Voters is the static voter set (ParseVoters of controller.quorum.voters); all voters must be
	// configured with the same set.
	Voters []Voter
	// Dir is the metadata directory, e.g. <log.dir>/__cluster_metadata-0. It is created if missing
	// and locked for this process (internal/dirlock).
	Dir string
	// FS is the filesystem (OSFS if nil).
	FS FS
	// Listener is the controller listener, on which peers connect. It may be nil for a single voter.
	// The node closes it on Close.
	Listener net.Listener
	// Dial opens connections to peers (net.Dialer's DialContext if nil).
	Dial Dialer
	// Logger receives the node's and raft's log lines (slog.Default if nil).
	Logger *slog.Logger

	// TickInterval, ElectionTicks and HeartbeatTicks time raft: a follower that hears nothing for
	// a randomized [1,2)×ElectionTicks ticks starts a (pre-)vote.
	TickInterval   time.Duration
	ElectionTicks  int
	HeartbeatTicks int

	// SegmentBytes rolls the entry log to a new segment file past this size.
	SegmentBytes int64
	// SnapshotAfterBytes sets Committed.SnapshotDue once this many bytes of batches were applied
	// since the last snapshot (metadata.log.max.record.bytes.between.snapshots).
	SnapshotAfterBytes int64
	// SnapshotInterval sets SnapshotDue once this long has passed since the last snapshot and
	// something was applied since (metadata.log.max.snapshot.interval.ms).
	SnapshotInterval time.Duration
	// SnapshotAfterBatches, if positive, also sets SnapshotDue after this many batches.
	SnapshotAfterBatches int64
	// SnapshotCatchUpEntries entries are kept in memory behind a snapshot, so a follower slightly
	// behind catches up from the log instead of receiving the whole snapshot.
	SnapshotCatchUpEntries uint64
	// MaxMessageBytes bounds one message between voters (a snapshot travels as one message, so it
	// bounds the image too).
	MaxMessageBytes int
	// MaxBatchBytes bounds the records of one Propose call (encoded).
	MaxBatchBytes int
	// CommittedBuffer is the capacity of the Committed channel.
	CommittedBuffer int
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Dir == "" {
		return cfg, errors.New("quorum: Config.Dir (the metadata directory) is required")
	}
	if len(cfg.Voters) == 0 {
		return cfg, fmt.Errorf("quorum: no voters: %s is empty", VotersConfig)
	}
	// NB: sorted, so every voter bootstraps the same conf-change entries whatever the order given.
	cfg.Voters = slices.SortedFunc(slices.Values(cfg.Voters), func(a, b Voter) int { return cmp.Compare(a.ID, b.ID) })
	seen := map[int32]bool{}
	found := false
	for _, v := range cfg.Voters {
		if v.ID < 0 {
			return cfg, fmt.Errorf("quorum: voter ID %d is negative", v.ID)
		}
		if seen[v.ID] {
			return cfg, fmt.Errorf("quorum: voter %d appears twice in %s", v.ID, VotersConfig)
		}
		seen[v.ID] = true
		found = found || v.ID == cfg.NodeID
	}
	if !found {
		return cfg, fmt.Errorf("quorum: node.id %d is not one of the voters in %s=%s", cfg.NodeID, VotersConfig, FormatVoters(cfg.Voters))
	}
	if len(cfg.Voters) > 1 && cfg.Listener == nil {
		return cfg, errors.New("quorum: a quorum of several voters needs the controller listener (Config.Listener)")
	}
	if cfg.FS == nil {
		cfg.FS = OSFS()
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("component", "quorum", "node", cfg.NodeID)
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.ElectionTicks <= 0 {
		cfg.ElectionTicks = DefaultElectionTicks
	}
	if cfg.HeartbeatTicks <= 0 {
		cfg.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if cfg.HeartbeatTicks >= cfg.ElectionTicks {
		return cfg, fmt.Errorf("quorum: heartbeat ticks (%d) must be fewer than election ticks (%d)", cfg.HeartbeatTicks, cfg.ElectionTicks)
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.SnapshotAfterBytes <= 0 {
		cfg.SnapshotAfterBytes = DefaultSnapshotAfterBytes
	}
	if cfg.SnapshotCatchUpEntries == 0 {
		cfg.SnapshotCatchUpEntries = DefaultSnapshotCatchUpEntries
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = DefaultSnapshotInterval
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxBatchBytes > cfg.MaxMessageBytes/2 || cfg.MaxBatchBytes > maxEntryDataBytes {
		return cfg, fmt.Errorf("quorum: a batch of up to %d bytes could not be replicated in messages of %d bytes", cfg.MaxBatchBytes, cfg.MaxMessageBytes)
	}
	if cfg.CommittedBuffer <= 0 {
		cfg.CommittedBuffer = DefaultCommittedBuffer
	}
	return cfg, nil
}
