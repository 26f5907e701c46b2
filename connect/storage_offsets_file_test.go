package connect_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gregor-streams/gregor/connect"
)

func TestFileOffsetStoreSurvivesReopenAndKeepsIntegers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	s, err := connect.OpenFileOffsetStore(path)
	if err != nil {
		t.Fatal(err)
	}
	part := map[string]any{"filename": "/data/a.txt"}
	if err := s.Put("src", []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": int64(1) << 40}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("other", []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": int64(1)}}}); err != nil {
		t.Fatal(err)
	}
	s2, err := connect.OpenFileOffsetStore(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("src", map[string]any{"filename": "/data/a.txt"})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"position": int64(1) << 40}) {
		t.Fatalf("Get = %#v, %v", got, err)
	}
	if got, _ := s2.Get("src", map[string]any{"filename": "b"}); got != nil {
		t.Fatalf("unknown partition = %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestFileOffsetStoreRejectsCorruptFileWithoutPanicking(t *testing.T) {
	for _, body := range []string{`{`, `[]`, `{"offsets":[1]}`, `{"offsets":[{"connector":"a"}]}`} {
		path := filepath.Join(t.TempDir(), "offsets.json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := connect.OpenFileOffsetStore(path); err == nil {
			t.Errorf("%s: opened without error", body)
		}
	}
}
