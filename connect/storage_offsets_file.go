package connect

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
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
	maps.Copy(old, s.mu.offsets[connector])
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
