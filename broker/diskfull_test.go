package broker_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/log"
	"github.com/gregor-streams/gregor/internal/testbroker"
)

// fullDiskFS is the OS filesystem on a disk that can be made full: then every write, every new
// file and every new directory fails with ENOSPC, until a directory is removed (which frees
// space, as deleting a topic does).
type fullDiskFS struct {
	log.FS
	full   atomic.Bool
	denied atomic.Int64 // writes refused
}

func (f *fullDiskFS) enospc(op, name string) error {
	f.denied.Add(1)
	return &fs.PathError{Op: op, Path: name, Err: syscall.ENOSPC}
}

func (f *fullDiskFS) OpenFile(name string, flag int, perm os.FileMode) (log.File, error) {
	if f.full.Load() && flag&os.O_CREATE != 0 {
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) || flag&os.O_TRUNC != 0 {
			return nil, f.enospc("open", name)
		}
	}
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &fullDiskFile{File: file, fs: f}, nil
}

func (f *fullDiskFS) MkdirAll(dir string, perm os.FileMode) error {
	if _, err := os.Stat(dir); err != nil && f.full.Load() {
		return f.enospc("mkdir", dir)
	}
	return f.FS.MkdirAll(dir, perm)
}

func (f *fullDiskFS) RemoveAll(path string) error {
	_, statErr := os.Stat(path)
	err := f.FS.RemoveAll(path)
	if statErr == nil {
		f.full.Store(false)
	}
	return err
}

type fullDiskFile struct {
	log.File
	fs *fullDiskFS
}

func (f *fullDiskFile) Write(b []byte) (int, error) {
	if f.fs.full.Load() && len(b) > 0 {
		return 0, f.fs.enospc("write", f.Name())
	}
	return f.File.Write(b)
}

func TestProduceOnAFullDiskAnswersKafkaStorageError(t *testing.T) {
	disk := &fullDiskFS{FS: log.OSFS()}
	tb := testbroker.Start(t, testbroker.FS(disk))
	rc := dialRaw(t, tb.Addr())
	createTopicRaw(t, rc, "data", 1, nil)
	batch := func() []byte { return recordBatch(-1, -1, -1, time.Now().UnixMilli(), record("k", "v")) }
	if got := produceRaw(t, rc, "data", -1, batch()); got.ErrorCode != 0 {
		t.Fatalf("produce before the disk filled: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	disk.full.Store(true)
	for i := 0; i < 2; i++ {
		if got := produceRaw(t, rc, "data", -1, batch()); got.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("produce %d on a full disk: %v, want KAFKA_STORAGE_ERROR (retriable)", i, kerr.ErrorForCode(got.ErrorCode))
		}
	}
	// What the partition has is still served.
	if recs := consumeAll(t, tb.Addr(), "data", 1); string(recs[0].Value) != "v" {
		t.Fatalf("read %q", recs[0].Value)
	}
	disk.full.Store(false) // the test's cleanup stops the broker on a disk with room
}

func TestBrokerStartsOnAFullDiskServesReadsAndDeletesATopicToFreeSpace(t *testing.T) {
	disk := &fullDiskFS{FS: log.OSFS()}
	tb := testbroker.Start(t, testbroker.FS(disk))
	createTopic(t, tb.Addr(), "keep", 2, nil)
	createTopic(t, tb.Addr(), "bulky", 1, nil)
	cl := newClient(t, tb.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		for _, topic := range []string{"keep", "bulky"} {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte{byte(i)}}).FirstErr(); err != nil && topic == "keep" {
				t.Fatal(err)
			}
		}
	}
	cl.Close()
	tb.Stop()

	disk.full.Store(true)
	tb.StartStopped() // fails the test if the broker cannot start
	t.Logf("start on a full disk: %d best-effort writes (checkpoints, snapshots) refused", disk.denied.Load())
	if got := len(consumeAll(t, tb.Addr(), "keep", 10)); got != 10 {
		t.Fatalf("read %d records after a start on a full disk, want 10", got)
	}
	adm := kadm.NewClient(newClient(t, tb.Addr()))
	resp, err := adm.DeleteTopics(ctx, "bulky")
	if err != nil || resp["bulky"].Err != nil {
		t.Fatalf("delete a topic on a full disk: %v %v", err, resp["bulky"].Err)
	}
	if disk.full.Load() {
		t.Fatal("deleting the topic did not remove its directory")
	}
	// With the space freed the broker persists the deletion: it is still gone after a restart.
	tb.Restart()
	adm = kadm.NewClient(newClient(t, tb.Addr()))
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("bulky") || !topics.Has("keep") {
		t.Fatalf("after restart: topics %v, want keep and not bulky", topics.Names())
	}
}

// syncBuffer is a bytes.Buffer safe for the broker's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// NB: producer IDs come in blocks from the controller (AllocateProducerIds, written to the metadata
// log), also on a single node: a full disk for the partitions' files does not stop them, and nothing
// is logged per request.
func TestProducerIDAllocationOnAFullPartitionDiskKeepsAnsweringWithoutLogging(t *testing.T) {
	disk := &fullDiskFS{FS: log.OSFS()}
	var logs syncBuffer
	tb := testbroker.Start(t, testbroker.FS(disk), testbroker.Logs(&logs))
	rc := dialRaw(t, tb.Addr())
	disk.full.Store(true)
	defer disk.full.Store(false)
	seen := map[int64]bool{}
	for i := 0; i < 2000; i++ { // past a block of 1,000 IDs
		resp := rc.do(kmsg.NewPtrInitProducerIDRequest()).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("InitProducerID on a full disk: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		if seen[resp.ProducerID] {
			t.Fatalf("producer ID %d handed out twice", resp.ProducerID)
		}
		seen[resp.ProducerID] = true
	}
	if n := strings.Count(logs.String(), "allocating producer id failed"); n != 0 {
		t.Fatalf("%d lines about failed allocations, want none", n)
	}
}
