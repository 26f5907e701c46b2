package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// OffsetStore keeps source offsets: per connector, source partition → source offset. Implementations
// are goroutine-safe. Standalone mode uses FileOffsetStore; distributed mode will use a compacted topic.
type OffsetStore interface {
	// Get returns the offset of a partition, or nil.
	Get(connector string, partition map[string]any) (map[string]any, error)
	// Put durably stores offsets for several partitions of one connector, all or nothing. A nil
	// Offset removes the partition's offset.
	Put(connector string, offsets []PartitionOffset) error
	// All returns every stored partition offset of a connector.
	All(connector string) ([]PartitionOffset, error)
}

// PartitionOffset is one source partition with its offset.
type PartitionOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// FileOffsetStore keeps offsets in a JSON file (offset.storage.file.filename), rewritten atomically
// (temp file, fsync, rename, fsync of the directory) on every Put.
type FileOffsetStore struct {
	path string
	mu   struct {
		sync.Mutex
		// offsets maps connector → canonical partition JSON → entry.
		offsets map[string]map[string]PartitionOffset
	}
}

type offsetFile struct {
	Version int               `json:"version"`
	Offsets []offsetFileEntry `json:"offsets"`
}

type offsetFileEntry struct {
	Connector string         `json:"connector"`
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// OpenFileOffsetStore loads the file if it exists.
func OpenFileOffsetStore(path string) (*FileOffsetStore, error) {
	s := &FileOffsetStore{path: path}
	s.mu.offsets = map[string]map[string]PartitionOffset{}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offset store %s: %w", path, err)
	}
	if len(data) == 0 {
		return s, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("offset store %s: %w", path, err)
	}
	top, _ := v.(map[string]any)
	entries, ok := top["offsets"].([]any)
	if !ok {
		return nil, fmt.Errorf("offset store %s: no \"offsets\" array", path)
	}
	for i, raw := range entries {
		e, _ := raw.(map[string]any)
		conn, _ := e["connector"].(string)
		part, okp := e["partition"].(map[string]any)
		off, _ := e["offset"].(map[string]any)
		if conn == "" || !okp {
			return nil, fmt.Errorf("offset store %s: entry %d lacks connector or partition", path, i)
		}
		s.putLocked(conn, PartitionOffset{Partition: part, Offset: off})
	}
	return s, nil
}

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p) // map keys are sorted: canonical
	return string(b)
}

func (s *FileOffsetStore) putLocked(connector string, po PartitionOffset) {
	if po.Offset == nil {
		delete(s.mu.offsets[connector], partitionKey(po.Partition))
		return
	}
	m := s.mu.offsets[connector]
	if m == nil {
		m = map[string]PartitionOffset{}
		s.mu.offsets[connector] = m
	}
	m[partitionKey(po.Partition)] = po
}

// Get implements OffsetStore.
func (s *FileOffsetStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	po, ok := s.mu.offsets[connector][partitionKey(partition)]
	if !ok {
		return nil, nil
	}
	return po.Offset, nil
}

// All implements OffsetStore.
func (s *FileOffsetStore) All(connector string) ([]PartitionOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PartitionOffset
	for _, po := range s.mu.offsets[connector] {
		out = append(out, po)
	}
	sort.Slice(out, func(i, j int) bool { return partitionKey(out[i].Partition) < partitionKey(out[j].Partition) })
	return out, nil
}

// Put implements OffsetStore.
func (s *FileOffsetStore) Put(connector string, offsets []PartitionOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[string]PartitionOffset{}
	for k, v := range s.mu.offsets[connector] {
		old[k] = v
	}
	for _, po := range offsets {
		s.putLocked(connector, po)
	}
	if err := s.writeLocked(); err != nil {
		s.mu.offsets[connector] = old
		return err
	}
	return nil
}

func (s *FileOffsetStore) writeLocked() error {
	f := offsetFile{Version: 1, Offsets: []offsetFileEntry{}}
	conns := make([]string, 0, len(s.mu.offsets))
	for c := range s.mu.offsets {
		conns = append(conns, c)
	}
	sort.Strings(conns)
	for _, c := range conns {
		keys := make([]string, 0, len(s.mu.offsets[c]))
		for k := range s.mu.offsets[c] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			po := s.mu.offsets[c][k]
			f.Offsets = append(f.Offsets, offsetFileEntry{Connector: c, Partition: po.Partition, Offset: po.Offset})
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("offset store: %w", err)
	}
	return writeFileAtomic(s.path, data)
}

// writeFileAtomic replaces path with data so a crash leaves either the old or the new file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("offset store %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("offset store %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("offset store %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("offset store %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("offset store %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // NB: best effort; some filesystems refuse fsync on directories
		d.Close()
	}
	return nil
}

// Messages of PATCH and DELETE /connectors/{name}/offsets, as Kafka words them for connectors
// whose offsets the framework manages.
const (
	offsetsAlteredMessage = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
	offsetsResetMessage   = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
)

// errNotStopped is Kafka's refusal to modify the offsets of a connector that is not stopped.
func errNotStopped(name string) error {
	return fmt.Errorf("%w: Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", ErrInvalidConfig, name)
}

// sinkGroup is the consumer group of a sink connector's tasks.
func sinkGroup(connector string) string { return "connect-" + connector }

// sinkOffsetRequest is a validated sink offset change: a nil offset removes the partition's
// committed offset.
type sinkOffsetRequest struct {
	topic     string
	partition int32
	offset    *int64
}

// parseSinkOffsets checks a PATCH body for a sink connector: partitions are
// {"kafka_topic","kafka_partition"} and offsets {"kafka_offset"} or null.
func parseSinkOffsets(offsets []PartitionOffset) ([]sinkOffsetRequest, error) {
	out := make([]sinkOffsetRequest, 0, len(offsets))
	for i, po := range offsets {
		topic, ok := po.Partition["kafka_topic"].(string)
		if !ok || topic == "" {
			return nil, fmt.Errorf("%w: offsets[%d]: a sink partition needs a \"kafka_topic\" string", ErrInvalidConfig, i)
		}
		p, ok := jsonInt(po.Partition["kafka_partition"])
		if !ok || p < 0 || p > math.MaxInt32 {
			return nil, fmt.Errorf("%w: offsets[%d]: a sink partition needs a non-negative integer \"kafka_partition\"", ErrInvalidConfig, i)
		}
		r := sinkOffsetRequest{topic: topic, partition: int32(p)}
		if po.Offset != nil {
			o, ok := jsonInt(po.Offset["kafka_offset"])
			if !ok || o < 0 {
				return nil, fmt.Errorf("%w: offsets[%d]: a sink offset needs a non-negative integer \"kafka_offset\"", ErrInvalidConfig, i)
			}
			r.offset = &o
		}
		out = append(out, r)
	}
	return out, nil
}

func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case json.Number:
		i, err := x.Int64()
		return i, err == nil
	}
	return 0, false
}

// alterSinkOffsets commits or deletes a sink connector's group offsets. The group must be empty
// (its tasks stopped), as Kafka requires.
func alterSinkOffsets(ctx context.Context, opts []kgo.Opt, connector string, offsets []PartitionOffset) error {
	reqs, err := parseSinkOffsets(offsets)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	group := sinkGroup(connector)
	commit := kadm.Offsets{}
	deletes := kadm.TopicsSet{}
	for _, r := range reqs {
		if r.offset == nil {
			deletes.Add(r.topic, r.partition)
			continue
		}
		commit.AddOffset(r.topic, r.partition, *r.offset, -1)
	}
	if len(commit) > 0 {
		resp, err := adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("altering offsets of group %s: %w", group, err)
		}
	}
	if len(deletes) > 0 {
		resp, err := adm.DeleteOffsets(ctx, group, deletes)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("deleting offsets of group %s: %w", group, err)
		}
	}
	return nil
}

// resetSinkOffsets deletes a sink connector's consumer group, as Kafka does.
func resetSinkOffsets(ctx context.Context, opts []kgo.Opt, connector string) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	group := sinkGroup(connector)
	resp, err := kadm.NewClient(cl).DeleteGroup(ctx, group)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("deleting group %s: %w", group, err)
	}
	return nil
}

// sinkOffsets reads a sink connector's committed group offsets in REST shape.
func sinkOffsets(ctx context.Context, opts []kgo.Opt, connector string) ([]PartitionOffset, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	group := sinkGroup(connector)
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	out := []PartitionOffset{}
	for _, o := range resp.Sorted() {
		if o.Err != nil {
			return nil, fmt.Errorf("fetching offsets of group %s: %w", group, o.Err)
		}
		out = append(out, PartitionOffset{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
			Offset:    map[string]any{"kafka_offset": o.At},
		})
	}
	return out, nil
}

// checkSourceOffsets checks a PATCH body for a source connector: every entry names a partition.
func checkSourceOffsets(offsets []PartitionOffset) error {
	for i, po := range offsets {
		if po.Partition == nil {
			return fmt.Errorf("%w: offsets[%d]: \"partition\" must be a JSON object", ErrInvalidConfig, i)
		}
	}
	return nil
}

// AlterConnectorOffsets implements Herder: PATCH /connectors/{name}/offsets on a stopped connector.
func (s *Standalone) AlterConnectorOffsets(ctx context.Context, name string, offsets []PartitionOffset) (string, error) {
	typ, err := s.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsAlteredMessage, alterSinkOffsets(ctx, s.worker.clientOpts(), name, offsets)
	}
	if err := checkSourceOffsets(offsets); err != nil {
		return "", err
	}
	return offsetsAlteredMessage, s.worker.offsets.Put(name, offsets)
}

// ResetConnectorOffsets implements Herder: DELETE /connectors/{name}/offsets on a stopped connector.
func (s *Standalone) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	typ, err := s.stoppedType(name)
	if err != nil {
		return "", err
	}
	if typ == PluginSink {
		return offsetsResetMessage, resetSinkOffsets(ctx, s.worker.clientOpts(), name)
	}
	all, err := s.worker.offsets.All(name)
	if err != nil {
		return "", err
	}
	for i := range all {
		all[i].Offset = nil
	}
	return offsetsResetMessage, s.worker.offsets.Put(name, all)
}

// stoppedType returns the plugin type of a connector that is stopped, or why it cannot be modified.
func (s *Standalone) stoppedType(name string) (PluginType, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.getLocked(name)
	if err != nil {
		return "", err
	}
	if c.target != TargetStopped {
		return "", errNotStopped(name)
	}
	return c.plugin.Type, nil
}
