package connect_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/connect"
	"github.com/gregor-streams/gregor/internal/dirlock"
)

func newOfflineStandalone(t *testing.T) *connect.Standalone {
	t.Helper()
	cfg, err := connect.ParseWorkerConfig(map[string]string{"bootstrap.servers": "127.0.0.1:1", "offset.storage.file.filename": filepath.Join(t.TempDir(), "offsets.json")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := connect.NewStandalone(cfg, connect.Options{Registry: connect.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestPersistentHerderKeepsUnloadableConnectorsUntilDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connect", "connectors.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	saved := `{"connectors":[{"name":"gone","config":{"connector.class":"NoSuchPlugin","name":"gone"},"target_state":"PAUSED"}]}`
	if err := os.WriteFile(path, []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}
	p, loadErrs, err := connect.NewPersistentHerder(newOfflineStandalone(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loadErrs) != 1 || !strings.Contains(loadErrs[0].Error(), "connector gone") {
		t.Fatalf("load errors: %v", loadErrs)
	}
	if got := p.Connectors(); len(got) != 0 {
		t.Fatalf("connectors: %v", got)
	}
	// A rejected update changes nothing on disk.
	if _, _, err := p.PutConnectorConfig("other", map[string]string{"connector.class": "NoSuchPlugin"}, true, ""); err == nil {
		t.Fatal("PutConnectorConfig with an unknown plugin succeeded")
	}
	if data, _ := os.ReadFile(path); string(data) != saved {
		t.Fatalf("file changed by a rejected update: %s", data)
	}
	if err := p.DeleteConnector("gone"); err != nil {
		t.Fatalf("deleting the unloadable connector: %v", err)
	}
	if err := p.DeleteConnector("gone"); !errors.Is(err, connect.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	data, err := os.ReadFile(path)
	if err != nil || strings.Contains(string(data), "gone") {
		t.Fatalf("after delete the file holds %s (%v)", data, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left temp files behind: %v", entries)
	}
}

func TestPersistentHerderRejectsACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connectors.json")
	os.WriteFile(path, []byte("{not json"), 0o644)
	if _, _, err := connect.NewPersistentHerder(newOfflineStandalone(t), path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt file: %v, want an error naming %s", err, path)
	}
}

func TestSecondStandaloneWorkerOnTheSameOffsetFileIsRefusedNamingTheHolder(t *testing.T) {
	dir := t.TempDir()
	props := map[string]string{"bootstrap.servers": "127.0.0.1:1", "offset.storage.file.filename": filepath.Join(dir, "offsets.json")}
	cfg, err := connect.ParseWorkerConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	first, err := connect.NewStandalone(cfg, connect.Options{Registry: connect.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = connect.NewStandalone(cfg, connect.Options{Registry: connect.NewRegistry()})
	if !errors.Is(err, dirlock.ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "offset.storage.file.filename") {
		t.Fatalf("second worker on %s: err = %v, want dirlock.ErrLocked naming pid %d and the setting", dir, err, os.Getpid())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := connect.NewStandalone(cfg, connect.Options{Registry: connect.NewRegistry()})
	if err != nil {
		t.Fatalf("a worker after the first closed: %v", err)
	}
	// A worker whose offset file merely shares the directory is not refused.
	otherCfg, err := connect.ParseWorkerConfig(map[string]string{"bootstrap.servers": "127.0.0.1:1", "offset.storage.file.filename": filepath.Join(dir, "other.json")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := connect.NewStandalone(otherCfg, connect.Options{Registry: connect.NewRegistry()})
	if err != nil {
		t.Fatalf("a worker with another offset file in the same directory: %v", err)
	}
	_ = other.Close()
	again.Close()
}
