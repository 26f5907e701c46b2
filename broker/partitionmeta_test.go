package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gregor-streams/gregor/internal/testbroker"
)

// TestAPartitionDirectoryOfAnotherTopicIDIsNotServed: a partition directory is found by topic name,
// and partition.metadata says which topic ID it holds (KIP-516). One that names another ID holds a
// deleted topic of the same name (deleted and re-created while this broker was away) and is
// deleted, so the topic starts empty instead of serving the old records; one without the file
// (written before it existed) is kept and labelled.
func TestAPartitionDirectoryOfAnotherTopicIDIsNotServed(t *testing.T) {
	tb := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "reborn"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, tb.Addr())
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "reborn", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	meta := filepath.Join(tb.Dir(), "reborn-0", "partition.metadata")
	b, err := os.ReadFile(meta)
	if err != nil || !strings.Contains(string(b), "topic_id: ") {
		t.Fatalf("partition.metadata: %q, %v", b, err)
	}
	endOffset := func() int64 {
		t.Helper()
		ends, err := kadm.NewClient(newClient(t, tb.Addr())).ListEndOffsets(ctx, "reborn")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup("reborn", 0)
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		return o.Offset
	}

	// Without the file: kept, and labelled again.
	tb.Stop()
	if err := os.Remove(meta); err != nil {
		t.Fatal(err)
	}
	tb.StartStopped()
	if got := endOffset(); got != 3 {
		t.Fatalf("a directory without partition.metadata: end offset %d, want 3 (kept)", got)
	}
	if b2, err := os.ReadFile(meta); err != nil || string(b2) != string(b) {
		t.Fatalf("partition.metadata after adopting: %q, %v; want %q", b2, err, b)
	}

	// Naming another topic ID: the old topic's records, not served.
	tb.Stop()
	if err := os.WriteFile(meta, []byte("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.StartStopped()
	if got := endOffset(); got != 0 {
		t.Fatalf("a directory of another topic ID: end offset %d, want 0 (its records are a deleted topic's)", got)
	}
	if b3, err := os.ReadFile(meta); err != nil || string(b3) != string(b) {
		t.Fatalf("partition.metadata after replacing the directory: %q, %v; want %q", b3, err, b)
	}
}

// TestStrayReplicasAreDeletedAtStart: a partition directory the metadata does not assign to this
// broker (its topic deleted, or the replica moved, while the broker was away) is deleted once the
// broker has caught up with the metadata; the topics it hosts, and a directory that is not a
// partition log though named like one, stay.
func TestStrayReplicasAreDeletedAtStart(t *testing.T) {
	tb := testbroker.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, tb.Addr())
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kept", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tb.Stop()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(tb.Dir(), rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gone-0/00000000000000000000.log", "")
	write("gone-0/partition.metadata", "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n")
	write("notes-1/readme.txt", "not a partition")
	tb.StartStopped()
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(tb.Dir(), rel))
		return err == nil
	}
	if exists("gone-0") {
		t.Errorf("the stray replica gone-0 is still there")
	}
	if !exists("notes-1/readme.txt") {
		t.Errorf("notes-1, not a partition log, was deleted")
	}
	if !exists("kept-0") || !exists("__consumer_offsets-0") {
		t.Errorf("a hosted partition was deleted")
	}
	ends, err := kadm.NewClient(newClient(t, tb.Addr())).ListEndOffsets(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("kept", 0); o.Offset != 1 {
		t.Errorf("kept-0 end offset %d, want 1", o.Offset)
	}
}
